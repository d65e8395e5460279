#include <doctest/doctest.h>

#include <string>

#include "topology/topology.hpp"
#include "topology_sysfs_tree.hpp"

using hpplace::apply_event;
using hpplace::CpuSet;
using hpplace::Event;
using hpplace::EventType;
using hpplace::read_topology;
using hpplace::Topology;
using hpplace::TopologyError;
using hpplace::testing::SysfsTree;
using hpplace::testing::sysfs_fixture;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

Event cpu_event(EventType type, unsigned cpu, std::optional<unsigned> node = std::nullopt) {
    Event event;
    event.type = type;
    event.cpu = cpu;
    event.node = node;
    return event;
}

Event memory_event(EventType type, unsigned node, std::uint64_t size, std::uint64_t start = 0) {
    Event event;
    event.type = type;
    event.node = node;
    event.size = size;
    event.start = start;
    return event;
}

// Applies the events in order and returns the topology.
Topology applied(Topology topology, std::initializer_list<Event> events) {
    for (const Event& event : events) {
        apply_event(topology, event);
    }
    return topology;
}

}  // namespace

// Each case changes a copy of a fixture tree as the kernel would, rereads it
// and compares with the events applied to the topology read before.

TEST_CASE("topology_event: CPU 3 coming online equals rereading sysfs") {
    SysfsTree tree("two_nodes");
    Topology topology = read_topology(tree.root());
    CHECK(apply_event(topology, cpu_event(EventType::cpu_add_start, 3, 1)) == false);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_online, 3, 1)) == true);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_online, 3, 1)) == false);

    tree.write("cpu/online", "0-3");
    tree.write("cpu/cpu3/online", "1");
    tree.write("node/node1/cpulist", "2-3");
    CHECK(topology == read_topology(tree.root()));
}

TEST_CASE("topology_event: CPU 1 going offline equals rereading sysfs") {
    SysfsTree tree("two_nodes");
    Topology topology = read_topology(tree.root());
    // No node in the offline events: the CPU stays on the node it is on.
    CHECK(apply_event(topology, cpu_event(EventType::cpu_going_offline, 1)) == false);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_offline, 1)) == true);

    tree.write("cpu/online", "0,2");
    tree.write("cpu/cpu1/online", "0");
    tree.write("node/node0/cpulist", "0");
    CHECK(topology == read_topology(tree.root()));
}

TEST_CASE("topology_event: a CPU hot-added on node 1, onlined, offlined and removed") {
    SysfsTree tree("two_nodes");
    Topology topology = read_topology(tree.root());

    CHECK(apply_event(topology, cpu_event(EventType::cpu_arrived, 4, 1)) == true);
    tree.write("cpu/present", "0-4");
    tree.write("cpu/cpu4/online", "0");
    tree.link("cpu/cpu4/node1", "../../node/node1");
    tree.link("node/node1/cpu4", "../../cpu/cpu4");
    CHECK(topology == read_topology(tree.root()));
    CHECK(topology.nodes[1].offline_cpus == CpuSet::parse_list("3-4"));

    CHECK(apply_event(topology, cpu_event(EventType::cpu_online, 4)) == true);
    tree.write("cpu/online", "0-2,4");
    tree.write("cpu/cpu4/online", "1");
    tree.write("node/node1/cpulist", "2,4");
    CHECK(topology == read_topology(tree.root()));

    CHECK(apply_event(topology, cpu_event(EventType::cpu_offline, 4, 1)) == true);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_removed, 4, 1)) == true);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_removed, 4, 1)) == false);
    CHECK(topology == read_topology(sysfs_fixture("two_nodes")));
}

TEST_CASE("topology_event: cpu_add_failed leaves the CPU present and offline") {
    Topology topology = read_topology(sysfs_fixture("two_nodes"));
    const Topology before = topology;
    CHECK(apply_event(topology, cpu_event(EventType::cpu_add_failed, 3, 1)) == false);
    CHECK(topology == before);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_arrived, 5, 0)) == true);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_add_failed, 5, 0)) == false);
    CHECK(topology.nodes[0].offline_cpus == CpuSet::parse_list("5"));
}

TEST_CASE("topology_event: cpu_arrived for a CPU already online changes nothing") {
    Topology topology = read_topology(sysfs_fixture("two_nodes"));
    const Topology before = topology;
    CHECK(apply_event(topology, cpu_event(EventType::cpu_arrived, 0, 0)) == false);
    CHECK(apply_event(topology, cpu_event(EventType::cpu_arrived, 2, 0)) == false);
    CHECK(topology == before);
}

TEST_CASE("topology_event: onlining a memory block equals rereading sysfs") {
    SysfsTree tree("two_nodes");
    Topology topology = read_topology(tree.root());
    CHECK(apply_event(topology, memory_event(EventType::mem_block_added, 1, 128 * MiB)) == false);
    CHECK(apply_event(topology, memory_event(EventType::mem_going_online, 1, 128 * MiB)) == false);
    CHECK(apply_event(topology, memory_event(EventType::mem_online, 1, 128 * MiB)) == true);
    tree.write("memory/memory6/state", "online");
    CHECK(topology == read_topology(tree.root()));
    CHECK(topology.nodes[1].memory_bytes == 3 * 128 * MiB);
}

TEST_CASE("topology_event: offlining memory, a canceled offline and the last block of a node") {
    SysfsTree tree("memoryless_node");
    Topology topology = read_topology(tree.root());
    CHECK(apply_event(topology, memory_event(EventType::mem_going_offline, 0, 128 * MiB)) == false);
    CHECK(apply_event(topology, memory_event(EventType::mem_offline_canceled, 0, 128 * MiB)) == false);
    CHECK(topology == read_topology(tree.root()));

    // Both blocks of node 0 go offline: the node keeps its CPUs, has no memory.
    CHECK(apply_event(topology, memory_event(EventType::mem_offline, 0, 128 * MiB)) == true);
    CHECK(apply_event(topology, memory_event(EventType::mem_offline, 0, 128 * MiB)) == true);
    CHECK(apply_event(topology, memory_event(EventType::node_mem_removed, 0, 0)) == false);
    tree.write("memory/memory0/state", "offline");
    tree.write("memory/memory1/state", "offline");
    CHECK(topology == read_topology(tree.root()));
    CHECK(topology.nodes[0].has_cpus());
    CHECK_FALSE(topology.nodes[0].has_memory());
}

TEST_CASE("topology_event: memory on a node never seen creates it with default distances") {
    SysfsTree tree("two_nodes");
    Topology topology = read_topology(tree.root());
    CHECK(apply_event(topology, memory_event(EventType::node_mem_added, 3, 0)) == true);
    CHECK(apply_event(topology, memory_event(EventType::mem_online, 3, 128 * MiB, 0x100000000)) == true);
    REQUIRE(topology.nodes.size() == 3);
    CHECK(topology.nodes[2].id == 3);
    CHECK(topology.nodes[2].memory_bytes == 128 * MiB);
    CHECK(topology.nodes[0].distances == std::vector<unsigned>{10, 21, 20});
    CHECK(topology.nodes[1].distances == std::vector<unsigned>{21, 10, 20});
    CHECK(topology.nodes[2].distances == std::vector<unsigned>{20, 20, 10});

    // The kernel's view after the node came online with one block: only the
    // distances differ from what we had to guess.
    tree.write("node/online", "0-1,3");
    tree.write("node/node3/cpulist", "");
    tree.write("node/node3/distance", "20 20 10");
    tree.write("node/node0/distance", "10 21 20");
    tree.write("node/node1/distance", "21 10 20");
    tree.write("memory/memory32/state", "online");
    tree.link("node/node3/memory32", "../../memory/memory32");
    CHECK(topology == read_topology(tree.root()));
}

TEST_CASE("topology_event: a CPU arriving on a new node in the middle keeps ids sorted and rows square") {
    Topology topology = read_topology(sysfs_fixture("eight_nodes"));
    topology.nodes.erase(topology.nodes.begin() + 3);
    for (auto& node : topology.nodes) {
        node.distances.erase(node.distances.begin() + 3);
    }
    CHECK(apply_event(topology, cpu_event(EventType::cpu_arrived, 6, 3)) == true);
    REQUIRE(topology.nodes.size() == 8);
    for (unsigned i = 0; i < 8; ++i) {
        CHECK(topology.nodes[i].id == i);
        CHECK(topology.nodes[i].distances.size() == 8);
        CHECK(topology.nodes[i].distances[i] == 10);
    }
    CHECK(topology.nodes[3].offline_cpus == CpuSet::parse_list("6"));
    CHECK(topology.nodes[3].distances[0] == 20);
    CHECK(topology.nodes[0].distances[3] == 20);
    CHECK(topology.nodes[0].distances[4] == 26);  // the known distance moved with its column
}

TEST_CASE("topology_event: cpu_online with a different node moves the CPU") {
    Topology topology = read_topology(sysfs_fixture("two_nodes"));
    CHECK(apply_event(topology, cpu_event(EventType::cpu_online, 3, 0)) == true);
    CHECK(topology.nodes[0].cpus == CpuSet::parse_list("0-1,3"));
    CHECK(topology.nodes[1].offline_cpus.empty());
    CHECK(topology.node_of_cpu(3) == 0u);
}

TEST_CASE("topology_event: mem_offline never takes a node below zero") {
    Topology topology = read_topology(sysfs_fixture("memoryless_node"));
    CHECK(apply_event(topology, memory_event(EventType::mem_offline, 1, 128 * MiB)) == false);
    CHECK(topology.nodes[1].memory_bytes == 0);
    CHECK(apply_event(topology, memory_event(EventType::mem_offline, 0, 1024 * MiB)) == true);
    CHECK(topology.nodes[0].memory_bytes == 0);
    CHECK(apply_event(topology, memory_event(EventType::mem_offline, 9, 128 * MiB)) == false);
    CHECK(topology.find_node(9) == nullptr);
}

TEST_CASE("topology_event: mem_online saturates instead of wrapping") {
    Topology topology = read_topology(sysfs_fixture("no_numa"));
    CHECK(apply_event(topology, memory_event(EventType::mem_online, 0, UINT64_MAX)) == true);
    CHECK(topology.nodes[0].memory_bytes == UINT64_MAX);
}

TEST_CASE("topology_event: an event missing what its type needs is an error and changes nothing") {
    Topology topology = read_topology(sysfs_fixture("two_nodes"));
    const Topology before = topology;
    Event no_cpu;
    no_cpu.type = EventType::cpu_online;
    no_cpu.seq = 7;
    no_cpu.node = 1;
    CHECK_THROWS_WITH_AS(apply_event(topology, no_cpu), "cpu_online event #7 has no cpu", TopologyError);
    Event no_node = memory_event(EventType::mem_online, 0, 128 * MiB);
    no_node.node.reset();
    CHECK_THROWS_WITH_AS(apply_event(topology, no_node), "mem_online event #0 has no node", TopologyError);
    Event no_size = memory_event(EventType::mem_offline, 0, 0);
    no_size.size.reset();
    CHECK_THROWS_WITH_AS(apply_event(topology, no_size), "mem_offline event #0 has no size", TopologyError);
    CHECK(topology == before);
}

TEST_CASE("topology_event: events without a node on an empty topology create node 0") {
    Topology topology;
    CHECK(apply_event(topology, cpu_event(EventType::cpu_online, 2)) == true);
    REQUIRE(topology.nodes.size() == 1);
    CHECK(topology.nodes[0].id == 0);
    CHECK(topology.nodes[0].cpus == CpuSet::parse_list("2"));
    CHECK(topology.nodes[0].distances == std::vector<unsigned>{10});
}

TEST_CASE("topology_event: the same sequence from the same start gives the same topology") {
    const Topology start = read_topology(sysfs_fixture("eight_nodes"));
    const auto sequence = {cpu_event(EventType::cpu_online, 9), cpu_event(EventType::cpu_offline, 0),
                           memory_event(EventType::mem_online, 5, 256 * MiB),
                           memory_event(EventType::mem_offline, 7, 256 * MiB)};
    const Topology once = applied(start, sequence);
    CHECK(once == applied(start, sequence));
    CHECK(once.online_cpus() == CpuSet::parse_list("1-13,15"));
    CHECK(once.nodes[5].memory_bytes == 3 * 256 * MiB);
    CHECK(once.nodes[7].memory_bytes == 256 * MiB);
}

TEST_CASE("topology_event: ids beyond any kernel are refused before anything is allocated") {
    Topology topology = read_topology(sysfs_fixture("two_nodes"));
    const Topology before = topology;
    Event huge_cpu = cpu_event(EventType::cpu_online, 4000000000U, 0);
    huge_cpu.seq = 3;
    CHECK_THROWS_WITH_AS(apply_event(topology, huge_cpu),
                         "cpu_online event #3: cpu 4000000000 is out of range (at most 1048575)", TopologyError);
    CHECK_THROWS_WITH_AS(apply_event(topology, memory_event(EventType::mem_online, 70000, 128 * MiB)),
                         "mem_online event #0: node 70000 is out of range (at most 1023)", TopologyError);
    CHECK(topology == before);
}
