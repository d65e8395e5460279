// The reader on the machine the tests run on (a developer box, CI or the VM):
// what it reads from /sys must agree with the kernel's own lists and with
// libnuma. Skipped where /sys has no devices/system/cpu (a container without sysfs).

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <numa.h>

#include <nlohmann/json.hpp>

#include "core/cpu_set.hpp"
#include "topology/libnuma_check.hpp"
#include "topology/topology.hpp"

using hpplace::CpuSet;
using hpplace::Topology;

namespace {

bool numa_available_for_test() { return numa_available() >= 0; }

bool have_live_sysfs() { return std::filesystem::exists("/sys/devices/system/cpu/online"); }

CpuSet read_live_list(const char* path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return CpuSet::parse_list(text.str());
}

}  // namespace

TEST_CASE("topology_live: the live /sys reads into a consistent topology" * doctest::skip(!have_live_sysfs())) {
    const Topology topology = hpplace::read_topology("/sys");
    REQUIRE_FALSE(topology.nodes.empty());
    // CPU hotplug between the two reads would make these differ; tests do not
    // hotplug the machine they run on.
    CHECK(topology.online_cpus() == read_live_list("/sys/devices/system/cpu/online"));
    CHECK(topology.present_cpus() == read_live_list("/sys/devices/system/cpu/present"));
    std::uint64_t memory = 0;
    for (const auto& node : topology.nodes) {
        memory += node.memory_bytes;
    }
    if (std::filesystem::exists("/sys/devices/system/memory/block_size_bytes")) {
        CHECK(memory > 0);
    }
    CHECK(hpplace::topology_from_json(to_json(topology)) == topology);
}

TEST_CASE("topology_live: libnuma agrees with the sysfs reader" * doctest::skip(!have_live_sysfs())) {
    const auto differences = hpplace::libnuma_differences(hpplace::read_topology("/sys"));
    for (const auto& difference : differences) {
        INFO(difference);
    }
    CHECK(differences.empty());
}

TEST_CASE("topology_live: the libnuma check reports a wrong snapshot" * doctest::skip(!have_live_sysfs())) {
    Topology wrong = hpplace::read_topology("/sys");
    if (hpplace::libnuma_differences(wrong).empty() && wrong.nodes.size() == 1 && wrong.nodes[0].distances[0] == 10) {
        wrong.nodes[0].cpus.set(wrong.present_cpus().end() + 7);  // a CPU the machine does not have online
        const auto differences = hpplace::libnuma_differences(wrong);
        // Without NUMA support in the kernel libnuma has nothing to say.
        if (numa_available_for_test()) {
            REQUIRE(differences.size() == 1);
            CHECK(differences[0].find("node 0: libnuma CPUs") == 0);
        }
    }
}
