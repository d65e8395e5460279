#include "topology/libnuma_check.hpp"

#include <numa.h>

#include <memory>

namespace hpplace {

namespace {

struct BitmaskDeleter {
    void operator()(bitmask* mask) const noexcept { numa_bitmask_free(mask); }
};
using BitmaskPtr = std::unique_ptr<bitmask, BitmaskDeleter>;

CpuSet to_cpu_set(const bitmask& mask) {
    CpuSet set;
    for (unsigned bit = 0; bit < mask.size; ++bit) {
        if (numa_bitmask_isbitset(&mask, bit) != 0) {
            set.set(bit);
        }
    }
    return set;
}

}  // namespace

std::vector<std::string> libnuma_differences(const Topology& live) {
    std::vector<std::string> differences;
    if (numa_available() < 0) {
        return differences;
    }
    // After CPU hotplug libnuma's cached node-to-CPU maps are stale until this.
    numa_node_to_cpu_update();

    CpuSet libnuma_nodes;
    const int max_node = numa_max_node();
    for (int node = 0; node <= max_node; ++node) {
        if (numa_nodes_ptr != nullptr && numa_bitmask_isbitset(numa_nodes_ptr, static_cast<unsigned>(node)) != 0) {
            libnuma_nodes.set(static_cast<unsigned>(node));
        }
    }
    CpuSet our_nodes;
    for (const auto& node : live.nodes) {
        our_nodes.set(node.id);
    }
    if (libnuma_nodes != our_nodes) {
        differences.push_back("nodes: libnuma has " + libnuma_nodes.to_list() + ", sysfs read has " +
                              our_nodes.to_list());
    }

    const BitmaskPtr cpus(numa_allocate_cpumask());
    for (const auto& node : live.nodes) {
        if (!libnuma_nodes.test(node.id)) {
            continue;
        }
        const std::string name = "node " + std::to_string(node.id);
        if (numa_node_to_cpus(static_cast<int>(node.id), cpus.get()) != 0) {
            differences.push_back(name + ": libnuma cannot map its CPUs");
            continue;
        }
        // libnuma reads nodeN/cpumap: the node's online CPUs.
        const CpuSet libnuma_cpus = to_cpu_set(*cpus);
        if (libnuma_cpus != node.cpus) {
            differences.push_back(name + ": libnuma CPUs " + libnuma_cpus.to_list() + ", sysfs read " +
                                  node.cpus.to_list());
        }
        for (std::size_t j = 0; j < live.nodes.size(); ++j) {
            const unsigned other = live.nodes[j].id;
            if (!libnuma_nodes.test(other)) {
                continue;
            }
            const int distance = numa_distance(static_cast<int>(node.id), static_cast<int>(other));
            if (distance != static_cast<int>(node.distances[j])) {
                differences.push_back(name + ": libnuma distance to node " + std::to_string(other) + " is " +
                                      std::to_string(distance) + ", sysfs read " +
                                      std::to_string(node.distances[j]));
            }
        }
    }
    return differences;
}

}  // namespace hpplace
