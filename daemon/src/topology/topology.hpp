#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/cpu_set.hpp"
#include "core/event.hpp"

namespace hpplace {

// Largest ids a topology holds: the kernel's MAX_NUMNODES is at most 1024
// (NODES_SHIFT 10); CPU numbers stay below CpuSet::parse_list's limit.
inline constexpr unsigned max_node_id = 1023;
inline constexpr unsigned max_cpu_id = (1U << 20) - 1;

// One NUMA node as the planner sees it.
struct NumaNode {
    unsigned id = 0;
    CpuSet cpus;                      // online CPUs of the node
    CpuSet offline_cpus;              // present but offline CPUs of the node
    std::uint64_t memory_bytes = 0;   // online memory of the node
    std::vector<unsigned> distances;  // SLIT row, indexed like Topology::nodes (10 = local)

    bool has_cpus() const noexcept { return !cpus.empty(); }
    bool has_memory() const noexcept { return memory_bytes != 0; }
    friend bool operator==(const NumaNode&, const NumaNode&) = default;
};

// A snapshot of the machine's NUMA topology: a plain value. Nodes may have CPUs
// and no memory, or memory and no CPUs. Without NUMA it has one node 0.
struct Topology {
    std::vector<NumaNode> nodes;  // increasing id

    const NumaNode* find_node(unsigned id) const noexcept;
    NumaNode* find_node(unsigned id) noexcept;
    CpuSet online_cpus() const;
    CpuSet present_cpus() const;
    std::optional<unsigned> node_of_cpu(unsigned cpu) const noexcept;

    friend bool operator==(const Topology&, const Topology&) = default;
};

// A malformed topology (JSON or sysfs); what() names the place and the problem.
class TopologyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads <root>/devices/system/{cpu,node,memory}; root is "/sys" on a live system
// and a fixture tree in tests. Falls back to one node when there is no node dir.
Topology read_topology(const std::filesystem::path& sysfs_root = "/sys");

// The topology JSON of docs/contract.md: {"nodes": [{"id", "cpus", "memory_bytes", "distances"}]}.
// "offline_cpus" is an optional extension.
Topology topology_from_json(const nlohmann::json& json);
nlohmann::json to_json(const Topology& topology);

// Applies one hotplug event in place (a CPU came online on node 1; 128 MiB went
// online on node 1) without rereading sysfs. Returns true when the topology changed.
// A node named by an event and not known yet is created (distance 20 to the
// others until a reread knows better). Throws TopologyError, changing nothing,
// for an event that lacks a field its type needs (a CPU event without cpu,
// mem_online/mem_offline without node or size) or whose cpu or node is beyond
// max_cpu_id / max_node_id. O(nodes) per event, plus O(nodes^2) once per new node.
bool apply_event(Topology& topology, const Event& event);

}  // namespace hpplace
