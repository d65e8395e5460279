// Properties of the planner over generated topologies and configurations:
// seeded std::mt19937, 1..64 nodes, memoryless and CPU-less nodes, offline and
// reserved CPUs, then random sequences of CPUs going offline, coming online,
// being removed and hot-added.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "plan/plan_diff.hpp"
#include "planner/planner.hpp"
#include "topology/topology.hpp"
#include "random_topology.hpp"

using namespace hpplace;

namespace {

using test::chance;
using test::cpu_end;
using test::pick;

Topology random_topology(std::mt19937& rng) {
    const unsigned count = chance(rng, 0.5) ? pick(rng, 1, 4) : pick(rng, 1, 64);
    Topology topology;
    unsigned id = 0;
    unsigned next_cpu = 0;
    for (unsigned n = 0; n < count; ++n) {
        NumaNode node;
        node.id = id;
        id += chance(rng, 0.1) ? 2 : 1;
        for (unsigned c = pick(rng, 0, 8); c > 0; --c) {
            (chance(rng, 0.2) ? node.offline_cpus : node.cpus).set(next_cpu++);
        }
        node.memory_bytes = chance(rng, 0.3) ? 0 : std::uint64_t{pick(rng, 1, 16)} << 28;
        topology.nodes.push_back(std::move(node));
    }
    test::fill_distances(topology, [&] { return pick(rng, 11, 40); });
    return topology;
}

Config random_config(std::mt19937& rng, const Topology& topology) {
    Config config;
    const unsigned cpus = std::max(1u, cpu_end(topology));
    if (chance(rng, 0.3)) {
        for (unsigned k = pick(rng, 1, 2); k > 0; --k) {
            config.reserved_cpus.set(pick(rng, 0, cpus - 1));
        }
    }
    const double shares[] = {1.0, 0.5, 0.05};
    config.max_memory_share = shares[pick(rng, 0, 2)];
    for (unsigned w = pick(rng, 1, 4); w > 0; --w) {
        Workload workload;
        workload.name = "w" + std::to_string(config.workloads.size());
        if (chance(rng, 0.5)) {
            workload.threads_per_cpu = pick(rng, 1, 3);
        } else {
            workload.threads = pick(rng, 0, 3 * cpus + 1);
        }
        if (chance(rng, 0.5)) {
            std::vector<unsigned> ids;
            for (const auto& node : topology.nodes) {
                if (chance(rng, 0.5)) {
                    ids.push_back(node.id);
                }
            }
            if (ids.empty() || chance(rng, 0.1)) {
                ids.push_back(999);  // a node the machine does not have (yet)
            }
            workload.nodes = ids;
        }
        workload.buffer_per_cpu = chance(rng, 0.3) ? 0 : std::uint64_t{pick(rng, 1, 4)} << 26;
        config.workloads.push_back(std::move(workload));
    }
    return config;
}

// --- oracles: straight from the definitions ---------------------------------------

CpuSet served_cpus(const Topology& topology, const Config& config, const Workload& workload) {
    CpuSet cpus;
    for (const auto& node : topology.nodes) {
        if (workload.uses_node(node.id)) {
            cpus |= node.cpus;
        }
    }
    return cpus - config.reserved_cpus;
}

const NumaNode* node_of(const Topology& topology, unsigned cpu) {
    for (const auto& node : topology.nodes) {
        if (node.cpus.test(cpu)) {
            return &node;
        }
    }
    return nullptr;
}

// The node with memory nearest to topology.nodes[i]; ties to the lower id.
const NumaNode* nearest_memory(const Topology& topology, std::size_t i) {
    const NumaNode* best = nullptr;
    unsigned best_distance = 0;
    for (std::size_t j = 0; j < topology.nodes.size(); ++j) {
        const NumaNode& candidate = topology.nodes[j];
        if (candidate.has_memory() && (best == nullptr || topology.nodes[i].distances[j] < best_distance)) {
            best = &candidate;
            best_distance = topology.nodes[i].distances[j];
        }
    }
    return best;
}

void check_invariants(const Topology& topology, const Config& config, const Plan& plan, bool first_plan) {
    REQUIRE(plan.workloads.size() == config.workloads.size());
    std::map<unsigned, std::uint64_t> total_requested;
    for (std::size_t w = 0; w < config.workloads.size(); ++w) {
        const Workload& workload = config.workloads[w];
        const WorkloadPlan& wp = plan.workloads[w];
        CAPTURE(workload.name);
        CHECK(wp.name == workload.name);
        const CpuSet served = served_cpus(topology, config, workload);
        CHECK(wp.cpuset == served);

        // Threads: on served CPUs only, with their node; indices unique and increasing.
        std::map<unsigned, unsigned> per_cpu;
        std::map<unsigned, unsigned> per_node;
        for (std::size_t t = 0; t < wp.threads.size(); ++t) {
            const auto& thread = wp.threads[t];
            REQUIRE(served.test(thread.cpu));
            const NumaNode* node = node_of(topology, thread.cpu);
            REQUIRE(node != nullptr);
            CHECK(thread.node == node->id);
            if (t > 0) {
                CHECK(wp.threads[t - 1].index < thread.index);
            }
            ++per_cpu[thread.cpu];
            ++per_node[thread.node];
        }
        if (!workload.fixed_thread_count()) {
            // Every served CPU carries exactly threads_per_cpu threads.
            CHECK(wp.threads.size() == served.count() * workload.threads_per_cpu);
            served.for_each([&](unsigned cpu) { CHECK(per_cpu[cpu] == workload.threads_per_cpu); });
        } else {
            const std::size_t total = *workload.threads;
            CHECK(wp.threads.size() == (served.empty() ? 0 : total));
            for (const auto& t : wp.threads) {
                CHECK(t.index < total);
            }
            if (first_plan && !served.empty()) {
                // Each node within one thread of its exact share.
                const auto all = static_cast<std::int64_t>(served.count());
                for (const auto& node : topology.nodes) {
                    if (!workload.uses_node(node.id)) {
                        continue;
                    }
                    const auto cpus = static_cast<std::int64_t>((node.cpus - config.reserved_cpus).count());
                    const std::int64_t scaled = static_cast<std::int64_t>(per_node[node.id]) * all -
                                                static_cast<std::int64_t>(total) * cpus;
                    CHECK(std::abs(scaled) < all);
                }
            }
        }

        // Buffers: buffer_per_cpu per served CPU, on its node or the nearest with memory.
        std::map<unsigned, std::uint64_t> expected;
        CpuSet mems;
        for (std::size_t i = 0; i < topology.nodes.size(); ++i) {
            const NumaNode& node = topology.nodes[i];
            if (!workload.uses_node(node.id)) {
                continue;
            }
            const NumaNode* home = nearest_memory(topology, i);
            if (home == nullptr) {
                continue;
            }
            mems.set(home->id);
            const std::size_t cpus = (node.cpus - config.reserved_cpus).count();
            if (cpus != 0 && workload.buffer_per_cpu != 0) {
                expected[home->id] += workload.buffer_per_cpu * cpus;
            }
        }
        CHECK(wp.mems == mems);
        std::map<unsigned, std::uint64_t> requested;
        for (const auto& b : wp.buffers) {
            requested[b.node] = b.requested_bytes;
            total_requested[b.node] += b.requested_bytes;
            CHECK(b.bytes <= b.requested_bytes);
            CHECK(b.clipped == (b.bytes < b.requested_bytes));
        }
        CHECK(requested == expected);
    }
    // The cap: all workloads' buffers on a node together stay within the share.
    for (const auto& [node_id, total] : total_requested) {
        const NumaNode* node = nullptr;
        for (const auto& n : topology.nodes) {
            node = n.id == node_id ? &n : node;
        }
        REQUIRE(node != nullptr);
        REQUIRE(node->has_memory());
        const auto cap = static_cast<std::uint64_t>(static_cast<long double>(node->memory_bytes) *
                                                    static_cast<long double>(config.max_memory_share));
        std::uint64_t placed = 0;
        for (const auto& wp : plan.workloads) {
            for (const auto& b : wp.buffers) {
                if (b.node == node_id) {
                    placed += b.bytes;
                    CHECK(b.clipped == (total > cap));
                }
            }
        }
        if (total <= cap) {
            CHECK(placed == total);
        } else {
            CHECK(placed <= cap);
            CHECK(placed + plan.workloads.size() >= cap);  // scaled down, not dropped
        }
    }
}

// One hotplug step; returns the CPU that changed.
unsigned mutate(std::mt19937& rng, Topology& topology) {
    std::vector<unsigned> present;
    for (const auto& node : topology.nodes) {
        (node.cpus | node.offline_cpus).for_each([&](unsigned cpu) { present.push_back(cpu); });
    }
    if (present.empty() || chance(rng, 0.1)) {
        NumaNode& node = topology.nodes[pick(rng, 0, static_cast<unsigned>(topology.nodes.size()) - 1)];
        const unsigned cpu = cpu_end(topology);  // hot-added, online at once
        node.cpus.set(cpu);
        return cpu;
    }
    const unsigned cpu = present[pick(rng, 0, static_cast<unsigned>(present.size()) - 1)];
    for (auto& node : topology.nodes) {
        if (node.cpus.test(cpu)) {
            node.cpus.reset(cpu);
            if (!chance(rng, 0.15)) {
                node.offline_cpus.set(cpu);  // else removed altogether
            }
        } else if (node.offline_cpus.test(cpu)) {
            node.offline_cpus.reset(cpu);
            node.cpus.set(cpu);
        }
    }
    return cpu;
}

}  // namespace

TEST_CASE("planner properties: first plans") {
    for (unsigned seed = 1; seed <= 400; ++seed) {
        CAPTURE(seed);
        std::mt19937 rng(seed);
        const Topology topology = random_topology(rng);
        const Config config = random_config(rng, topology);
        const Plan plan = make_plan(topology, config);
        CHECK(plan.generation == 1);
        check_invariants(topology, config, plan, true);
        // Idempotence: planning from the plan gives the same plan, same generation.
        CHECK(make_plan(topology, config, plan) == plan);
        // Deterministic.
        CHECK(make_plan(topology, config) == plan);
    }
}

TEST_CASE("planner properties: stability under hotplug sequences") {
    unsigned arrivals = 0;
    unsigned departures = 0;
    for (unsigned seed = 1; seed <= 150; ++seed) {
        CAPTURE(seed);
        std::mt19937 rng(seed * 7919);
        Topology topology = random_topology(rng);
        const Config config = random_config(rng, topology);
        Plan plan = make_plan(topology, config);
        for (unsigned step = 0; step < 25; ++step) {
            CAPTURE(step);
            const unsigned cpu = mutate(rng, topology);
            CAPTURE(cpu);
            const bool arrived = node_of(topology, cpu) != nullptr;
            arrivals += arrived ? 1 : 0;
            departures += arrived ? 0 : 1;
            const Plan next = make_plan(topology, config, plan);
            check_invariants(topology, config, next, false);

            // Idempotence.
            CHECK(make_plan(topology, config, next) == next);
            // Generation: +1 exactly when the placement changed.
            CHECK(next.generation == plan.generation + (next.same_placement(plan) ? 0 : 1));

            // Only the threads of the CPU that changed move or stop; arrivals move nothing.
            for (std::size_t w = 0; w < plan.workloads.size(); ++w) {
                const auto& after = next.workloads[w].threads;
                for (const auto& thread : plan.workloads[w].threads) {
                    if (thread.cpu == cpu) {
                        continue;
                    }
                    const auto it = std::find_if(after.begin(), after.end(),
                                                 [&](const PlannedThread& t) { return t.index == thread.index; });
                    REQUIRE(it != after.end());
                    CHECK(*it == thread);
                }
            }
            for (const auto& action : diff_plans(plan, next)) {
                CAPTURE(to_text(action));
                if (const auto* stop = std::get_if<StopThread>(&action)) {
                    CHECK_FALSE(arrived);
                    CHECK(stop->thread.cpu == cpu);
                } else if (const auto* move = std::get_if<MoveThread>(&action)) {
                    CHECK_FALSE(arrived);
                    CHECK(move->from.cpu == cpu);
                } else if (const auto* start = std::get_if<StartThread>(&action)) {
                    // Threads start only on an arriving CPU (a departure moves or stops).
                    CHECK(arrived);
                    CHECK(start->thread.cpu == cpu);
                }
            }
            plan = next;
        }
    }
    // The sequences exercised both directions.
    CHECK(arrivals > 500);
    CHECK(departures > 500);
}

TEST_CASE("planner properties: a CPU that changes nothing keeps the generation") {
    for (unsigned seed = 1; seed <= 100; ++seed) {
        CAPTURE(seed);
        std::mt19937 rng(seed * 31);
        const Topology topology = random_topology(rng);
        Config config = random_config(rng, topology);
        const Plan plan = make_plan(topology, config);
        // A reserved CPU going offline or online is nobody's business.
        const unsigned cpu = cpu_end(topology) + 5;
        config.reserved_cpus.set(cpu);
        Topology changed = topology;
        changed.nodes.front().cpus.set(cpu);
        const Plan next = make_plan(changed, config, plan);
        CHECK(next == plan);
    }
}
