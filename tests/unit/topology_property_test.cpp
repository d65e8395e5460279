// Random topologies and random event sequences: the invariants of a topology
// hold after every event, whatever order or garbage the events come in.

#include <doctest/doctest.h>

#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "topology/topology.hpp"

using hpplace::apply_event;
using hpplace::CpuSet;
using hpplace::Event;
using hpplace::EventType;
using hpplace::event_type_count;
using hpplace::NumaNode;
using hpplace::Topology;
using hpplace::TopologyError;

namespace {

constexpr unsigned max_cpus = 96;  // crosses a 64-bit word of CpuSet
constexpr unsigned max_node_id = 12;
constexpr std::uint64_t block = 128ULL << 20;

unsigned pick(std::mt19937_64& random, unsigned low, unsigned high) {
    return std::uniform_int_distribution<unsigned>(low, high)(random);
}

Topology random_topology(std::mt19937_64& random) {
    Topology topology;
    for (unsigned id = 0; id <= max_node_id; ++id) {
        if (topology.nodes.empty() || pick(random, 0, 2) == 0) {
            NumaNode node;
            node.id = id;
            node.memory_bytes = pick(random, 0, 3) == 0 ? 0 : block * pick(random, 1, 64);
            topology.nodes.push_back(std::move(node));
        }
    }
    for (unsigned cpu = 0; cpu < max_cpus; ++cpu) {
        const unsigned choice = pick(random, 0, 3);
        if (choice == 0) {
            continue;  // not present
        }
        NumaNode& node = topology.nodes[pick(random, 0, static_cast<unsigned>(topology.nodes.size() - 1))];
        (choice == 1 ? node.offline_cpus : node.cpus).set(cpu);
    }
    const std::size_t count = topology.nodes.size();
    for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = 0; j < count; ++j) {
            topology.nodes[i].distances.push_back(i == j ? 10 : pick(random, 11, 255));
        }
    }
    return topology;
}

Event random_event(std::mt19937_64& random) {
    Event event;
    event.type = static_cast<EventType>(pick(random, 1, event_type_count));
    // Mostly well-formed events, sometimes a field missing or out of the way.
    if (pick(random, 0, 19) != 0) {
        event.cpu = pick(random, 0, max_cpus + 4);
    }
    if (pick(random, 0, 5) != 0) {
        event.node = pick(random, 0, max_node_id + 2);
    }
    if (pick(random, 0, 19) != 0) {
        const unsigned kind = pick(random, 0, 9);
        event.size = kind == 0 ? 0 : kind == 1 ? UINT64_MAX - pick(random, 0, 3) : block * pick(random, 1, 4);
    }
    return event;
}

bool needs_cpu(EventType type) {
    return type == EventType::cpu_arrived || type == EventType::cpu_online || type == EventType::cpu_offline ||
           type == EventType::cpu_add_failed || type == EventType::cpu_removed;
}

bool needs_node_and_size(EventType type) { return type == EventType::mem_online || type == EventType::mem_offline; }

// The first broken invariant, or "" (one doctest assertion per step keeps the
// test fast).
std::string broken_invariant(const Topology& topology) {
    CpuSet seen;
    CpuSet online;
    for (std::size_t i = 0; i < topology.nodes.size(); ++i) {
        const NumaNode& node = topology.nodes[i];
        const std::string where = "node " + std::to_string(node.id) + ": ";
        if (i > 0 && topology.nodes[i - 1].id >= node.id) {
            return where + "ids not increasing";
        }
        if (!(node.cpus & node.offline_cpus).empty()) {
            return where + "CPU both online and offline";
        }
        if (!(seen & (node.cpus | node.offline_cpus)).empty()) {
            return where + "CPU on two nodes";
        }
        seen |= node.cpus | node.offline_cpus;
        online |= node.cpus;
        if (node.distances.size() != topology.nodes.size() || node.distances[i] != 10) {
            return where + "distance row not square with 10 on the diagonal";
        }
        bool found_elsewhere = false;
        node.cpus.for_each([&](unsigned cpu) { found_elsewhere |= topology.node_of_cpu(cpu) != node.id; });
        if (found_elsewhere) {
            return where + "node_of_cpu disagrees";
        }
        if (topology.find_node(node.id) != &node) {
            return where + "find_node disagrees";
        }
    }
    if (topology.online_cpus() != online) {
        return "online_cpus() is not the union of the nodes' CPUs";
    }
    if (topology.present_cpus() != seen) {
        return "present_cpus() is not the union of online and offline CPUs";
    }
    // Still valid contract JSON, and the same after a round trip.
    if (hpplace::topology_from_json(nlohmann::json::parse(to_json(topology).dump())) != topology) {
        return "JSON round trip differs";
    }
    return {};
}

}  // namespace

TEST_CASE("topology_property: invariants hold over random topologies and event sequences") {
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
        CAPTURE(seed);
        std::mt19937_64 random(seed);
        Topology topology = random_topology(random);
        REQUIRE(broken_invariant(topology) == "");
        for (unsigned step = 0; step < 120; ++step) {
            CAPTURE(step);
            const Event event = random_event(random);
            const std::string text = to_text(event);
            CAPTURE(text);
            const Topology before = topology;
            bool changed = false;
            try {
                changed = apply_event(topology, event);
            } catch (const TopologyError&) {
                // Only for events that lack what their type needs; nothing changed.
                REQUIRE(((needs_cpu(event.type) && !event.cpu) ||
                         (needs_node_and_size(event.type) && (!event.node || !event.size))));
                REQUIRE(topology == before);
                continue;
            }
            REQUIRE(changed == (topology != before));
            REQUIRE(broken_invariant(topology) == "");

            // Memory moves only the way the event says, never past the ends;
            // nodes are never dropped.
            std::string memory_problem;
            for (const NumaNode& node : topology.nodes) {
                const NumaNode* old = before.find_node(node.id);
                const std::uint64_t was = old != nullptr ? old->memory_bytes : 0;
                const std::uint64_t now = node.memory_bytes;
                const bool this_node = event.node == node.id;
                bool ok = now == was;
                if (event.type == EventType::mem_online && this_node) {
                    ok = now >= was && now - was <= *event.size;
                } else if (event.type == EventType::mem_offline && this_node) {
                    ok = now == (was > *event.size ? was - *event.size : 0);
                }
                if (!ok) {
                    memory_problem += "node " + std::to_string(node.id) + " went from " + std::to_string(was) +
                                      " to " + std::to_string(now) + "; ";
                }
            }
            for (const NumaNode& node : before.nodes) {
                if (topology.find_node(node.id) == nullptr) {
                    memory_problem += "node " + std::to_string(node.id) + " dropped; ";
                }
            }
            REQUIRE(memory_problem == "");
            if (event.cpu) {
                const unsigned cpu = *event.cpu;
                const auto where = topology.node_of_cpu(cpu);
                switch (event.type) {
                    case EventType::cpu_online:
                        REQUIRE(topology.online_cpus().test(cpu));
                        if (event.node) {
                            REQUIRE(where == *event.node);
                        }
                        break;
                    case EventType::cpu_offline:
                    case EventType::cpu_add_failed:
                        REQUIRE(where.has_value());
                        REQUIRE_FALSE(topology.online_cpus().test(cpu));
                        if (event.node) {
                            REQUIRE(where == *event.node);
                        }
                        break;
                    case EventType::cpu_arrived:
                        REQUIRE(where.has_value());
                        REQUIRE(topology.online_cpus().test(cpu) == before.online_cpus().test(cpu));
                        break;
                    case EventType::cpu_removed:
                        REQUIRE_FALSE(where.has_value());
                        break;
                    default:
                        REQUIRE(topology.present_cpus() == before.present_cpus());
                        break;
                }
            }
        }
    }
}
