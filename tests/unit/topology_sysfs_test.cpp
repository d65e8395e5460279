#include <doctest/doctest.h>

#include <string>

#include "topology/topology.hpp"
#include "topology_sysfs_tree.hpp"

using hpplace::CpuSet;
using hpplace::NumaNode;
using hpplace::read_topology;
using hpplace::Topology;
using hpplace::TopologyError;
using hpplace::testing::SysfsTree;
using hpplace::testing::sysfs_fixture;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

NumaNode make_node(unsigned id, const char* cpus, const char* offline, std::uint64_t memory,
                   std::vector<unsigned> distances) {
    NumaNode node;
    node.id = id;
    node.cpus = CpuSet::parse_list(cpus);
    node.offline_cpus = CpuSet::parse_list(offline);
    node.memory_bytes = memory;
    node.distances = std::move(distances);
    return node;
}

// The message of the TopologyError `read` throws; fails the test when none.
template <typename F>
std::string topology_error_of(F&& read) {
    try {
        read();
    } catch (const TopologyError& error) {
        return error.what();
    }
    FAIL("no TopologyError");
    return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("topology_sysfs: two_nodes, an offline CPU and offline memory blocks") {
    const Topology topology = read_topology(sysfs_fixture("two_nodes"));
    const Topology expected{{
        make_node(0, "0-1", "", 4 * 128 * MiB, {10, 21}),
        make_node(1, "2", "3", 2 * 128 * MiB, {21, 10}),  // blocks 6 and 7 are offline
    }};
    CHECK(topology == expected);
    CHECK(topology.online_cpus() == CpuSet::parse_list("0-2"));
    CHECK(topology.present_cpus() == CpuSet::parse_list("0-3"));
    CHECK(topology.node_of_cpu(3) == 1u);
    CHECK(topology.node_of_cpu(4) == std::nullopt);
}

TEST_CASE("topology_sysfs: memoryless_node keeps a CPU-only and a memory-only node") {
    const Topology topology = read_topology(sysfs_fixture("memoryless_node"));
    const Topology expected{{
        make_node(0, "0-1", "", 2 * 128 * MiB, {10, 20, 30}),
        make_node(1, "2-3", "", 0, {20, 10, 25}),
        make_node(2, "", "", 3 * 128 * MiB, {30, 25, 10}),
    }};
    CHECK(topology == expected);
    CHECK_FALSE(topology.nodes[1].has_memory());
    CHECK(topology.nodes[1].has_cpus());
    CHECK(topology.nodes[2].has_memory());
    CHECK_FALSE(topology.nodes[2].has_cpus());
}

TEST_CASE("topology_sysfs: eight_nodes with an asymmetric distance matrix") {
    const Topology topology = read_topology(sysfs_fixture("eight_nodes"));
    REQUIRE(topology.nodes.size() == 8);
    // Block counts per node: 1 + id % 3, 256 MiB each; node 5's second block is
    // offline, node 7's first is going-offline and still counts.
    const std::uint64_t block = 256 * MiB;
    const std::uint64_t memory[8] = {1, 2, 3, 1, 2, 2, 1, 2};
    for (unsigned id = 0; id < 8; ++id) {
        const NumaNode& node = topology.nodes[id];
        CAPTURE(id);
        CHECK(node.id == id);
        CHECK(node.memory_bytes == memory[id] * block);
        CHECK((node.cpus | node.offline_cpus) == CpuSet::range(2 * id, 2 * id + 1));
    }
    CHECK(topology.nodes[4].offline_cpus == CpuSet::parse_list("9"));
    CHECK(topology.nodes[7].offline_cpus == CpuSet::parse_list("14"));
    CHECK(topology.online_cpus() == CpuSet::parse_list("0-8,10-13,15"));
    // Row i is node i's line of its distance file, unchanged and not symmetrised.
    CHECK(topology.nodes[0].distances == std::vector<unsigned>{10, 17, 20, 23, 26, 29, 32, 35});
    CHECK(topology.nodes[1].distances[0] == 16);
    CHECK(topology.nodes[0].distances[1] == 17);
    CHECK(topology.nodes[7].distances == std::vector<unsigned>{34, 31, 28, 25, 22, 19, 16, 10});
}

TEST_CASE("topology_sysfs: no_numa falls back to one node 0") {
    const Topology topology = read_topology(sysfs_fixture("no_numa"));
    const Topology expected{{make_node(0, "0-1,3", "2", 3 * 128 * MiB, {10})}};
    CHECK(topology == expected);
}

TEST_CASE("topology_sysfs: links as plain directories read like symlinks") {
    SysfsTree tree("two_nodes");
    for (const char* link : {"node/node0/cpu0", "node/node0/cpu1", "node/node1/cpu2", "node/node1/cpu3",
                             "node/node0/memory0", "node/node1/memory6", "cpu/cpu3/node1", "memory/memory6/node1"}) {
        REQUIRE(std::filesystem::is_symlink(tree.system() / link));
        tree.remove(link);
        std::filesystem::create_directory(tree.system() / link);
    }
    CHECK(read_topology(tree.root()) == read_topology(sysfs_fixture("two_nodes")));
}

TEST_CASE("topology_sysfs: an offline CPU found only by its cpuN/nodeK link") {
    SysfsTree tree("two_nodes");
    tree.remove("node/node1/cpu3");
    CHECK(read_topology(tree.root()).nodes[1].offline_cpus == CpuSet::parse_list("3"));
}

TEST_CASE("topology_sysfs: a memory block found only by its memoryM/nodeK link") {
    SysfsTree tree("two_nodes");
    tree.remove("node/node1/memory5");
    CHECK(read_topology(tree.root()).nodes[1].memory_bytes == 2 * 128 * MiB);
    tree.remove("memory/memory5/node1");
    // A block no node claims is not counted on any node.
    CHECK(read_topology(tree.root()).nodes[1].memory_bytes == 128 * MiB);
}

TEST_CASE("topology_sysfs: per-CPU online files when cpu/online is missing") {
    SysfsTree tree("two_nodes");
    tree.remove("cpu/online");
    CHECK(read_topology(tree.root()) == read_topology(sysfs_fixture("two_nodes")));
    tree.write("cpu/cpu1/online", "0");
    const Topology topology = read_topology(tree.root());
    CHECK(topology.nodes[0].cpus == CpuSet::parse_list("0"));
    CHECK(topology.nodes[0].offline_cpus == CpuSet::parse_list("1"));
}

TEST_CASE("topology_sysfs: the cpu online list wins over a stale cpulist") {
    SysfsTree tree("two_nodes");
    // A CPU went offline between the reads of cpu/online and node1/cpulist.
    tree.write("node/node1/cpulist", "2-3");
    CHECK(read_topology(tree.root()) == read_topology(sysfs_fixture("two_nodes")));
}

TEST_CASE("topology_sysfs: without memory block devices node memory is meminfo's MemTotal") {
    SysfsTree tree("two_nodes");
    tree.remove("memory");
    Topology topology = read_topology(tree.root());
    CHECK(topology.nodes[0].memory_bytes == 0);
    CHECK(topology.nodes[1].memory_bytes == 0);
    CHECK(topology.present_cpus() == CpuSet::parse_list("0-3"));

    tree.write("node/node0/meminfo", "Node 0 MemTotal:        1048576 kB\nNode 0 MemFree:          524288 kB");
    tree.write("node/node1/meminfo", "Node 1 MemTotal:  2048 kB");
    topology = read_topology(tree.root());
    CHECK(topology.nodes[0].memory_bytes == 1024 * MiB);
    CHECK(topology.nodes[1].memory_bytes == 2 * MiB);

    tree.write("node/node1/meminfo", "Node 1 MemTotal:  lots kB");
    std::string message = topology_error_of([&] { read_topology(tree.root()); });
    CHECK(contains(message, "node/node1/meminfo: bad MemTotal \"lots kB\""));
    tree.write("node/node1/meminfo", "Node 1 MemFree:  2048 kB");
    message = topology_error_of([&] { read_topology(tree.root()); });
    CHECK(contains(message, "node/node1/meminfo: no MemTotal line"));
}

TEST_CASE("topology_sysfs: malformed or unreadable files name the file and the problem") {
    struct Case {
        const char* what;
        const char* file;
        const char* text;  // nullptr: remove the file
        const char* message;
    };
    const Case cases[] = {
        {"bad cpulist", "node/node1/cpulist", "2-x", "bad CPU list"},
        {"backwards range", "cpu/online", "2-0", "goes backwards"},
        {"bad present list", "cpu/present", "zero", "bad CPU list"},
        {"missing cpulist", "node/node0/cpulist", nullptr, "cannot open"},
        {"missing distance", "node/node1/distance", nullptr, "cannot open"},
        {"short distance row", "node/node1/distance", "21", "expected 2 distances"},
        {"long distance row", "node/node0/distance", "10 21 30", "expected 2 distances"},
        {"distance not a number", "node/node0/distance", "10 far", "bad distance \"far\""},
        {"distance to itself", "node/node1/distance", "21 12", "distance to itself is 12"},
        {"remote distance local", "node/node1/distance", "10 10", "distance to node 0 is 10, expected 11..255"},
        {"remote distance too far", "node/node0/distance", "10 300", "distance to node 1 is 300, expected 11..255"},
        {"block size not hex", "memory/block_size_bytes", "0x8g", "hexadecimal block size"},
        {"block size zero", "memory/block_size_bytes", "0", "non-zero"},
        {"unknown block state", "memory/memory2/state", "sideways", "unknown memory block state \"sideways\""},
        {"missing block state", "memory/memory4/state", nullptr, "cannot open"},
        {"CPU on two nodes", "node/node1/cpulist", "1-2", "CPUs 1 are already on another node"},
        {"node without directory", "node/online", "0-2", "node 2 is listed but has no directory node2"},
        {"bad node list", "node/online", "0,,", "bad CPU list"},
        {"node id beyond any kernel", "node/online", "0-1,2000", "is listed but has no directory node2000"},
    };
    for (const Case& c : cases) {
        const std::string what = c.what;
        CAPTURE(what);
        SysfsTree tree("two_nodes");
        if (c.text == nullptr) {
            tree.remove(c.file);
        } else {
            tree.write(c.file, c.text);
        }
        const std::string message = topology_error_of([&] { read_topology(tree.root()); });
        CAPTURE(message);
        CHECK(contains(message, c.file));
        CHECK(contains(message, c.message));
        CHECK(message.find('\n') == std::string::npos);
    }
}

TEST_CASE("topology_sysfs: per-CPU online file with garbage") {
    SysfsTree tree("two_nodes");
    tree.remove("cpu/online");
    tree.write("cpu/cpu2/online", "yes");
    const std::string message = topology_error_of([&] { read_topology(tree.root()); });
    CHECK(contains(message, "cpu/cpu2/online"));
    CHECK(contains(message, "expected 0 or 1"));
}

TEST_CASE("topology_sysfs: a root without devices/system/cpu is not a sysfs tree") {
    SysfsTree tree("no_numa");
    tree.remove("cpu");
    const std::string message = topology_error_of([&] { read_topology(tree.root()); });
    CHECK(contains(message, "devices/system/cpu"));
    CHECK(contains(message, "cannot list"));
}

TEST_CASE("topology_sysfs: a node directory with an id no kernel has") {
    SysfsTree tree("two_nodes");
    tree.remove("node/online");
    tree.remove("node/possible");
    std::filesystem::create_directory(tree.system() / "node" / "node4096");
    const std::string message = topology_error_of([&] { read_topology(tree.root()); });
    CHECK(contains(message, "node/node4096: node id beyond 1023"));
}

TEST_CASE("topology_sysfs: a node directory not listed online is not read") {
    SysfsTree tree("two_nodes");
    std::filesystem::create_directory(tree.system() / "node" / "node2");  // no cpulist, no distance
    CHECK(read_topology(tree.root()) == read_topology(sysfs_fixture("two_nodes")));
}

TEST_CASE("topology_sysfs: a memory block under two nodes") {
    SysfsTree tree("two_nodes");
    tree.link("node/node1/memory0", "../../memory/memory0");
    const std::string message = topology_error_of([&] { read_topology(tree.root()); });
    CHECK(contains(message, "node/node1/memory0: memory block also belongs to node 0"));
}
