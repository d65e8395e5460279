// The topology JSON of docs/contract.md, read with every field checked so that a bad
// file gives one line naming the JSON path and the problem.

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json_integer.hpp"
#include "topology/topology.hpp"

namespace hpplace {

namespace {

constexpr unsigned local_distance = 10;
constexpr unsigned max_distance = 255;  // SLIT entries are one byte

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
    throw TopologyError(path + ": " + problem);
}

std::uint64_t read_unsigned(const nlohmann::json& value, const std::string& path, std::uint64_t max) {
    const auto number = non_negative_integer(value);
    if (!number) {
        fail(path, "expected a non-negative integer, got " + json_kind(value));
    }
    if (*number > max) {
        fail(path, std::to_string(*number) + " is out of range (at most " + std::to_string(max) + ")");
    }
    return *number;
}

const nlohmann::json& member(const nlohmann::json& object, const char* key, const std::string& path) {
    const auto found = object.find(key);
    if (found == object.end()) {
        fail(path, std::string("missing \"") + key + "\"");
    }
    return *found;
}

const nlohmann::json& array_member(const nlohmann::json& object, const char* key, const std::string& path) {
    const auto& value = member(object, key, path);
    if (!value.is_array()) {
        fail(path + "." + key, "expected an array, got " + json_kind(value));
    }
    return value;
}

// Reads a CPU array; `seen` holds every CPU of the topology read so far.
CpuSet read_cpus(const nlohmann::json& array, const std::string& path, CpuSet& seen) {
    CpuSet cpus;
    for (std::size_t i = 0; i < array.size(); ++i) {
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        const auto cpu = static_cast<unsigned>(read_unsigned(array[i], item_path, max_cpu_id));
        if (seen.test(cpu)) {
            fail(item_path, "CPU " + std::to_string(cpu) + " appears more than once");
        }
        seen.set(cpu);
        cpus.set(cpu);
    }
    return cpus;
}

nlohmann::json cpu_array(const CpuSet& cpus) {
    auto array = nlohmann::json::array();
    cpus.for_each([&](unsigned cpu) { array.push_back(cpu); });
    return array;
}

}  // namespace

Topology topology_from_json(const nlohmann::json& json) {
    if (!json.is_object()) {
        fail("topology", "expected an object, got " + json_kind(json));
    }
    const auto& nodes = array_member(json, "nodes", "topology");
    if (nodes.empty()) {
        fail("nodes", "expected at least one node");
    }
    const std::size_t count = nodes.size();
    std::vector<NumaNode> read(count);
    CpuSet seen_cpus;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string path = "nodes[" + std::to_string(i) + "]";
        const auto& object = nodes[i];
        if (!object.is_object()) {
            fail(path, "expected an object, got " + json_kind(object));
        }
        NumaNode& node = read[i];
        node.id = static_cast<unsigned>(read_unsigned(member(object, "id", path), path + ".id", max_node_id));
        for (std::size_t j = 0; j < i; ++j) {
            if (read[j].id == node.id) {
                fail(path + ".id", "node " + std::to_string(node.id) + " already given as nodes[" +
                                       std::to_string(j) + "]");
            }
        }
        node.cpus = read_cpus(array_member(object, "cpus", path), path + ".cpus", seen_cpus);
        if (const auto offline = object.find("offline_cpus"); offline != object.end()) {
            if (!offline->is_array()) {
                fail(path + ".offline_cpus", "expected an array, got " + json_kind(*offline));
            }
            node.offline_cpus = read_cpus(*offline, path + ".offline_cpus", seen_cpus);
        }
        node.memory_bytes = read_unsigned(member(object, "memory_bytes", path), path + ".memory_bytes",
                                          std::numeric_limits<std::uint64_t>::max());
        const auto& distances = array_member(object, "distances", path);
        if (distances.size() != count) {
            fail(path + ".distances", "expected " + std::to_string(count) + " entries, got " +
                                          std::to_string(distances.size()));
        }
        for (std::size_t j = 0; j < count; ++j) {
            const std::string item_path = path + ".distances[" + std::to_string(j) + "]";
            const auto distance = static_cast<unsigned>(read_unsigned(distances[j], item_path, max_distance));
            // As the kernel's SLIT check: 10 to itself, more than 10 to any other node.
            if (j == i && distance != local_distance) {
                fail(item_path, "distance to itself must be 10, got " + std::to_string(distance));
            }
            if (j != i && distance <= local_distance) {
                fail(item_path, "distance to another node must be more than 10, got " + std::to_string(distance));
            }
            node.distances.push_back(distance);
        }
    }

    // Nodes in increasing id, distance rows permuted to match.
    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return read[a].id < read[b].id; });
    Topology topology;
    topology.nodes.reserve(count);
    for (const std::size_t from : order) {
        NumaNode node = std::move(read[from]);
        std::vector<unsigned> row(count);
        for (std::size_t to = 0; to < count; ++to) {
            row[to] = node.distances[order[to]];
        }
        node.distances = std::move(row);
        topology.nodes.push_back(std::move(node));
    }
    return topology;
}

nlohmann::json to_json(const Topology& topology) {
    auto nodes = nlohmann::json::array();
    for (const auto& node : topology.nodes) {
        nlohmann::json object = {
            {"id", node.id},
            {"cpus", cpu_array(node.cpus)},
            {"memory_bytes", node.memory_bytes},
            {"distances", node.distances},
        };
        if (!node.offline_cpus.empty()) {
            object["offline_cpus"] = cpu_array(node.offline_cpus);
        }
        nodes.push_back(std::move(object));
    }
    return {{"nodes", std::move(nodes)}};
}

}  // namespace hpplace
