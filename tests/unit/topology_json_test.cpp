#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "topology/topology.hpp"

using hpplace::CpuSet;
using hpplace::Topology;
using hpplace::topology_from_json;
using hpplace::TopologyError;
using nlohmann::json;

namespace {

const char* const two_nodes_text = R"({"nodes": [
    {"id": 0, "cpus": [0, 1], "memory_bytes": 536870912, "distances": [10, 21]},
    {"id": 1, "cpus": [2], "offline_cpus": [3], "memory_bytes": 268435456, "distances": [21, 10]}
]})";

std::string error_of(const json& document) {
    try {
        topology_from_json(document);
    } catch (const TopologyError& error) {
        return error.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("topology_json: reads the contract shape") {
    const Topology topology = topology_from_json(json::parse(two_nodes_text));
    REQUIRE(topology.nodes.size() == 2);
    CHECK(topology.nodes[0].id == 0);
    CHECK(topology.nodes[0].cpus == CpuSet::parse_list("0-1"));
    CHECK(topology.nodes[0].offline_cpus.empty());
    CHECK(topology.nodes[0].memory_bytes == 512ULL << 20);
    CHECK(topology.nodes[1].cpus == CpuSet::parse_list("2"));
    CHECK(topology.nodes[1].offline_cpus == CpuSet::parse_list("3"));
    CHECK(topology.nodes[1].distances == std::vector<unsigned>{21, 10});
}

TEST_CASE("topology_json: writes the contract shape, offline_cpus only when there are some") {
    const json written = to_json(topology_from_json(json::parse(two_nodes_text)));
    CHECK(written == json::parse(two_nodes_text));
    CHECK_FALSE(written["nodes"][0].contains("offline_cpus"));
    CHECK(written["nodes"][1]["offline_cpus"] == json::array({3}));
}

TEST_CASE("topology_json: round trip through text is the identity") {
    const Topology original = topology_from_json(json::parse(two_nodes_text));
    const Topology again = topology_from_json(json::parse(to_json(original).dump()));
    CHECK(again == original);
}

TEST_CASE("topology_json: nodes out of id order are sorted with their distance columns") {
    const json unsorted = json::parse(R"({"nodes": [
        {"id": 4, "cpus": [5], "memory_bytes": 1, "distances": [10, 30, 40]},
        {"id": 0, "cpus": [0], "memory_bytes": 2, "distances": [31, 10, 20]},
        {"id": 2, "cpus": [], "memory_bytes": 3, "distances": [41, 21, 10]}
    ]})");
    const Topology topology = topology_from_json(unsorted);
    REQUIRE(topology.nodes.size() == 3);
    CHECK(topology.nodes[0].id == 0);
    CHECK(topology.nodes[1].id == 2);
    CHECK(topology.nodes[2].id == 4);
    // distance(from, to) is kept for every pair.
    CHECK(topology.nodes[0].distances == std::vector<unsigned>{10, 20, 31});
    CHECK(topology.nodes[1].distances == std::vector<unsigned>{21, 10, 41});
    CHECK(topology.nodes[2].distances == std::vector<unsigned>{30, 40, 10});
    CHECK(topology_from_json(to_json(topology)) == topology);
}

TEST_CASE("topology_json: unknown keys are ignored (the contract only grows)") {
    json document = json::parse(two_nodes_text);
    document["version"] = 2;
    document["nodes"][0]["hbm"] = true;
    CHECK(topology_from_json(document) == topology_from_json(json::parse(two_nodes_text)));
}

TEST_CASE("topology_json: every malformed class names the JSON path") {
    struct Case {
        const char* what;
        const char* text;
        const char* message;
    };
    const Case cases[] = {
        {"not an object", R"([1, 2])", "topology: expected an object, got an array"},
        {"no nodes", R"({})", "topology: missing \"nodes\""},
        {"nodes not an array", R"({"nodes": {}})", "topology.nodes: expected an array, got an object"},
        {"empty nodes", R"({"nodes": []})", "nodes: expected at least one node"},
        {"node not an object", R"({"nodes": [3]})", "nodes[0]: expected an object, got a number"},
        {"missing id", R"({"nodes": [{"cpus": [], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0]: missing \"id\""},
        {"id a string", R"({"nodes": [{"id": "0", "cpus": [], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].id: expected a non-negative integer, got a string"},
        {"negative id", R"({"nodes": [{"id": -1, "cpus": [], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].id: expected a non-negative integer, got a negative number"},
        {"fractional id", R"({"nodes": [{"id": 0.5, "cpus": [], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].id: expected a non-negative integer, got a fractional number"},
        {"huge id", R"({"nodes": [{"id": 5000, "cpus": [], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].id: 5000 is out of range (at most 1023)"},
        {"duplicate id", R"({"nodes": [{"id": 1, "cpus": [], "memory_bytes": 0, "distances": [10, 20]},
                                       {"id": 1, "cpus": [], "memory_bytes": 0, "distances": [20, 10]}]})",
         "nodes[1].id: node 1 already given as nodes[0]"},
        {"missing cpus", R"({"nodes": [{"id": 0, "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0]: missing \"cpus\""},
        {"cpus a string", R"({"nodes": [{"id": 0, "cpus": "0-3", "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].cpus: expected an array, got a string"},
        {"cpu null", R"({"nodes": [{"id": 0, "cpus": [0, null], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].cpus[1]: expected a non-negative integer, got a null"},
        {"negative cpu", R"({"nodes": [{"id": 0, "cpus": [-2], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].cpus[0]: expected a non-negative integer, got a negative number"},
        {"cpu beyond CpuSet", R"({"nodes": [{"id": 0, "cpus": [4294967296], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].cpus[0]: 4294967296 is out of range"},
        {"cpu twice in a node", R"({"nodes": [{"id": 0, "cpus": [1, 1], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].cpus[1]: CPU 1 appears more than once"},
        {"cpu on two nodes", R"({"nodes": [{"id": 0, "cpus": [0, 1], "memory_bytes": 0, "distances": [10, 20]},
                                           {"id": 1, "cpus": [1], "memory_bytes": 0, "distances": [20, 10]}]})",
         "nodes[1].cpus[0]: CPU 1 appears more than once"},
        {"cpu online and offline",
         R"({"nodes": [{"id": 0, "cpus": [0], "offline_cpus": [0], "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].offline_cpus[0]: CPU 0 appears more than once"},
        {"offline_cpus not an array",
         R"({"nodes": [{"id": 0, "cpus": [0], "offline_cpus": 1, "memory_bytes": 0, "distances": [10]}]})",
         "nodes[0].offline_cpus: expected an array, got a number"},
        {"missing memory", R"({"nodes": [{"id": 0, "cpus": [], "distances": [10]}]})",
         "nodes[0]: missing \"memory_bytes\""},
        {"negative memory", R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": -4096, "distances": [10]}]})",
         "nodes[0].memory_bytes: expected a non-negative integer, got a negative number"},
        {"memory as text", R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": "1GiB", "distances": [10]}]})",
         "nodes[0].memory_bytes: expected a non-negative integer, got a string"},
        {"memory in float notation", R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 1e9, "distances": [10]}]})",
         "nodes[0].memory_bytes: expected a non-negative integer, got a fractional number"},
        {"missing distances", R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 0}]})",
         "nodes[0]: missing \"distances\""},
        {"short distance row",
         R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 0, "distances": [10, 20, 20]},
                       {"id": 1, "cpus": [], "memory_bytes": 0, "distances": [20, 10, 20]},
                       {"id": 2, "cpus": [], "memory_bytes": 0, "distances": [20, 10]}]})",
         "nodes[2].distances: expected 3 entries, got 2"},
        {"distance to self", R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 0, "distances": [20]}]})",
         "nodes[0].distances[0]: distance to itself must be 10, got 20"},
        {"remote distance local",
         R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 0, "distances": [10, 10]},
                       {"id": 1, "cpus": [], "memory_bytes": 0, "distances": [20, 10]}]})",
         "nodes[0].distances[1]: distance to another node must be more than 10, got 10"},
        {"negative distance",
         R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 0, "distances": [10, -20]},
                       {"id": 1, "cpus": [], "memory_bytes": 0, "distances": [20, 10]}]})",
         "nodes[0].distances[1]: expected a non-negative integer, got a negative number"},
        {"distance beyond a byte",
         R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 0, "distances": [10, 256]},
                       {"id": 1, "cpus": [], "memory_bytes": 0, "distances": [20, 10]}]})",
         "nodes[0].distances[1]: 256 is out of range (at most 255)"},
        {"distances not an array", R"({"nodes": [{"id": 0, "cpus": [], "memory_bytes": 0, "distances": 10}]})",
         "nodes[0].distances: expected an array, got a number"},
    };
    for (const Case& c : cases) {
        const std::string what = c.what;
        CAPTURE(what);
        const std::string message = error_of(json::parse(c.text));
        CHECK(message.starts_with(c.message));
    }
}
