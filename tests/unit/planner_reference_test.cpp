// The planner against a reference written from its specification (planner.hpp)
// for clarity, not speed, on random topologies, configurations and previous
// plans, including previous plans that do not fit (other configurations, threads
// on unknown or shared CPUs, stray indices). Plans must be equal, generation
// included: the specification fixes every tie the planner breaks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "planner/planner.hpp"
#include "topology/topology.hpp"
#include "random_topology.hpp"

using namespace hpplace;

// The planner as planner.hpp specifies it, written for clarity, not speed:
// sets and maps, every choice a plain scan over the candidates.
namespace naive {

__extension__ typedef unsigned __int128 Bytes;  // sums and products of byte counts, exactly

// The workload's nodes that the machine has, increasing id.
std::vector<const NumaNode*> nodes_of(const Topology& topology, const Workload& workload) {
    std::vector<const NumaNode*> nodes;
    for (const auto& node : topology.nodes) {
        if (workload.uses_node(node.id)) {
            nodes.push_back(&node);
        }
    }
    return nodes;
}

CpuSet served(const NumaNode& node, const Config& config) { return node.cpus - config.reserved_cpus; }

const std::vector<PlannedThread>& threads_of(const WorkloadPlan* previous) {
    static const std::vector<PlannedThread> none;
    return previous != nullptr ? previous->threads : none;
}

std::vector<PlannedThread> by_index(const std::map<unsigned, PlannedThread>& threads) {
    std::vector<PlannedThread> out;
    for (const auto& [index, thread] : threads) {
        out.push_back(thread);
    }
    return out;
}

// The node itself if it has memory, else the nearest one with memory (distance, then id).
const NumaNode* memory_home(const Topology& topology, const NumaNode& node) {
    if (node.has_memory()) {
        return &node;
    }
    const NumaNode* best = nullptr;
    unsigned best_distance = 0;
    for (std::size_t i = 0; i < topology.nodes.size(); ++i) {
        const unsigned distance = node.distances.at(i);
        if (topology.nodes[i].has_memory() && (best == nullptr || distance < best_distance)) {
            best = &topology.nodes[i];  // nodes are in increasing id: the first of equals wins
            best_distance = distance;
        }
    }
    return best;
}

// total split over the weights: floor of each exact share, then one more for the
// largest remainders, ties to the lower position.
std::vector<unsigned> largest_remainder(unsigned total, const std::vector<std::size_t>& weights) {
    std::size_t sum = 0;
    for (const auto w : weights) {
        sum += w;
    }
    std::vector<unsigned> shares;
    std::vector<std::pair<std::size_t, std::size_t>> by_remainder;  // (-remainder, position) sorts as wanted
    unsigned given = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        shares.push_back(static_cast<unsigned>(std::uint64_t{total} * weights[i] / sum));
        given += shares.back();
        by_remainder.emplace_back(sum - std::uint64_t{total} * weights[i] % sum, i);
    }
    std::sort(by_remainder.begin(), by_remainder.end());
    for (std::size_t i = 0; given < total; ++i, ++given) {
        ++shares[by_remainder[i].second];
    }
    return shares;
}

// Threads of a threads_per_cpu workload: k on every CPU of `cpus`; previous
// threads stay where there is room (lowest indices first), the rest are new.
std::vector<PlannedThread> per_cpu_threads(const Topology& topology, const CpuSet& cpus, unsigned k,
                                           const WorkloadPlan* previous) {
    std::map<unsigned, PlannedThread> threads;  // by index
    std::map<unsigned, unsigned> on_cpu;
    for (const auto& t : threads_of(previous)) {
        if (cpus.test(t.cpu) && on_cpu[t.cpu] < k) {
            ++on_cpu[t.cpu];
            threads[t.index] = {t.index, t.cpu, *topology.node_of_cpu(t.cpu)};
        }
    }
    unsigned index = 0;
    cpus.for_each([&](unsigned cpu) {
        for (unsigned n = on_cpu[cpu]; n < k; ++n) {
            while (threads.contains(index)) {
                ++index;
            }
            threads[index] = {index, cpu, *topology.node_of_cpu(cpu)};
        }
    });
    return by_index(threads);
}

// Threads of a fixed-count workload. `load` counts the threads per CPU of the
// workloads before it and is updated.
std::vector<PlannedThread> fixed_threads(const Topology& topology, const Config& config,
                                         const std::vector<const NumaNode*>& candidates, unsigned total,
                                         const WorkloadPlan* previous, std::map<unsigned, unsigned>& load) {
    std::vector<const NumaNode*> nodes;  // those with CPUs to serve
    std::vector<std::size_t> weights;
    CpuSet cpus;
    for (const NumaNode* node : candidates) {
        if (!served(*node, config).empty()) {
            nodes.push_back(node);
            weights.push_back(served(*node, config).count());
            cpus |= served(*node, config);
        }
    }
    if (nodes.empty()) {
        return {};
    }
    std::map<unsigned, PlannedThread> threads;  // by index
    const std::vector<unsigned> quota = largest_remainder(total, weights);
    std::vector<long> below_quota(quota.begin(), quota.end());
    for (const auto& t : threads_of(previous)) {
        if (t.index < total && cpus.test(t.cpu)) {
            const unsigned node = *topology.node_of_cpu(t.cpu);
            threads[t.index] = {t.index, t.cpu, node};
            ++load[t.cpu];
            for (std::size_t i = 0; i < nodes.size(); ++i) {
                below_quota[i] -= nodes[i]->id == node ? 1 : 0;
            }
        }
    }
    for (unsigned index = 0; index < total; ++index) {
        if (threads.contains(index)) {
            continue;
        }
        std::size_t best = 0;  // furthest below its quota, ties to the lower id
        for (std::size_t i = 1; i < nodes.size(); ++i) {
            best = below_quota[i] > below_quota[best] ? i : best;
        }
        std::optional<unsigned> cpu;  // least loaded, ties to the lower number
        served(*nodes[best], config).for_each([&](unsigned c) {
            cpu = !cpu || load[c] < load[*cpu] ? c : *cpu;
        });
        --below_quota[best];
        ++load[*cpu];
        threads[index] = {index, *cpu, nodes[best]->id};
    }
    return by_index(threads);
}

Plan plan(const Topology& topology, const Config& config, const Plan* previous) {
    Plan plan;
    std::map<unsigned, unsigned> load;  // threads per CPU of the workloads so far
    for (const auto& workload : config.workloads) {
        const auto nodes = nodes_of(topology, workload);
        WorkloadPlan wp;
        wp.name = workload.name;
        CpuSet cpus;
        CpuSet mems;
        std::map<unsigned, std::uint64_t> requested;  // by node
        for (const NumaNode* node : nodes) {
            cpus |= served(*node, config);
            const NumaNode* home = memory_home(topology, *node);
            if (home != nullptr) {
                mems.set(home->id);
                if (workload.buffer_per_cpu != 0 && !served(*node, config).empty()) {
                    requested[home->id] += workload.buffer_per_cpu * served(*node, config).count();
                }
            }
        }
        wp.cpuset = cpus;
        wp.mems = mems;
        for (const auto& [node, bytes] : requested) {
            wp.buffers.push_back({node, bytes, bytes, false});
        }
        const WorkloadPlan* before = previous != nullptr ? previous->find_workload(workload.name) : nullptr;
        if (workload.fixed_thread_count()) {
            wp.threads = fixed_threads(topology, config, nodes, *workload.threads, before, load);
        } else {
            wp.threads = per_cpu_threads(topology, cpus, workload.threads_per_cpu, before);
            cpus.for_each([&](unsigned cpu) { load[cpu] += workload.threads_per_cpu; });
        }
        plan.workloads.push_back(std::move(wp));
    }
    // max_memory_share: per node, the cap is floor(memory x share); above it every
    // buffer there gets floor(requested x cap / total requested).
    for (const auto& node : topology.nodes) {
        Bytes total = 0;
        for (const auto& wp : plan.workloads) {
            for (const auto& b : wp.buffers) {
                total += b.node == node.id ? b.requested_bytes : 0;
            }
        }
        const auto cap = static_cast<std::uint64_t>(static_cast<long double>(node.memory_bytes) *
                                                    std::min(1.0L, static_cast<long double>(config.max_memory_share)));
        for (auto& wp : plan.workloads) {
            for (auto& b : wp.buffers) {
                if (b.node == node.id && total > cap) {
                    b.bytes = static_cast<std::uint64_t>(Bytes{b.requested_bytes} * cap / total);
                    b.clipped = true;
                }
            }
        }
    }
    if (previous == nullptr || previous->generation == 0) {
        plan.generation = 1;
    } else {
        plan.generation = previous->generation + (plan.same_placement(*previous) ? 0 : 1);
    }
    return plan;
}

}  // namespace naive

namespace {

using test::chance;
using test::cpu_end;
using test::pick;

// Nodes with gaps in their ids, memoryless and CPU-less nodes, offline CPUs; the
// CPUs either in consecutive blocks per node or dealt out round robin (so that a
// node's CPUs interleave with the others'), sometimes beyond the first 64.
Topology random_topology(std::mt19937& rng, unsigned max_nodes, unsigned max_cpus_per_node) {
    const unsigned count = pick(rng, 1, max_nodes);
    Topology topology;
    unsigned id = chance(rng, 0.2) ? pick(rng, 1, 3) : 0;
    for (unsigned n = 0; n < count; ++n) {
        NumaNode node;
        node.id = id;
        id += chance(rng, 0.15) ? pick(rng, 2, 5) : 1;
        node.memory_bytes = chance(rng, 0.25) ? 0 : std::uint64_t{pick(rng, 1, 64)} << 28;
        topology.nodes.push_back(std::move(node));
    }
    std::vector<unsigned> cpus_of(count);
    for (auto& c : cpus_of) {
        c = chance(rng, 0.1) ? 0 : pick(rng, 1, max_cpus_per_node);
    }
    const bool interleaved = chance(rng, 0.3);
    unsigned next_cpu = chance(rng, 0.2) ? pick(rng, 1, 200) : 0;
    auto place = [&](unsigned n) {
        (chance(rng, 0.1) ? topology.nodes[n].offline_cpus : topology.nodes[n].cpus).set(next_cpu);
        next_cpu += chance(rng, 0.05) ? pick(rng, 2, 70) : 1;
    };
    if (interleaved) {
        for (bool more = true; more;) {
            more = false;
            for (unsigned n = 0; n < count; ++n) {
                if (cpus_of[n] > 0) {
                    --cpus_of[n];
                    place(n);
                    more = true;
                }
            }
        }
    } else {
        for (unsigned n = 0; n < count; ++n) {
            for (; cpus_of[n] > 0; --cpus_of[n]) {
                place(n);
            }
        }
    }
    test::fill_distances(topology, [&] { return chance(rng, 0.3) ? 20 : pick(rng, 11, 40); });
    return topology;
}

Config random_config(std::mt19937& rng, const Topology& topology) {
    Config config;
    const unsigned cpus = std::max(1u, cpu_end(topology));
    if (chance(rng, 0.3)) {
        for (unsigned k = pick(rng, 1, 4); k > 0; --k) {
            config.reserved_cpus.set(pick(rng, 0, cpus + 2));
        }
    }
    const double shares[] = {1.0, 0.5, 0.05, 0.001};
    config.max_memory_share = shares[pick(rng, 0, 3)];
    for (unsigned w = pick(rng, 1, 6); w > 0; --w) {
        Workload workload;
        workload.name = "w" + std::to_string(config.workloads.size());
        if (chance(rng, 0.5)) {
            workload.threads_per_cpu = pick(rng, 1, 3);
        } else {
            workload.threads = chance(rng, 0.1) ? 0 : pick(rng, 1, 3 * cpus + 1);
        }
        if (chance(rng, 0.5)) {
            std::vector<unsigned> ids;
            for (const auto& node : topology.nodes) {
                if (chance(rng, 0.5)) {
                    ids.push_back(node.id);
                }
            }
            if (ids.empty() || chance(rng, 0.1)) {
                ids.push_back(999);  // a node the machine does not have
            }
            if (chance(rng, 0.2)) {
                ids.push_back(ids.front());  // listed twice
            }
            if (chance(rng, 0.3)) {
                std::shuffle(ids.begin(), ids.end(), rng);
            }
            workload.nodes = ids;
        }
        workload.buffer_per_cpu = chance(rng, 0.3) ? 0 : std::uint64_t{pick(rng, 1, 4)} << 26;
        config.workloads.push_back(std::move(workload));
    }
    return config;
}

// Some CPUs go offline, come back or disappear; a CPU may be hot-added.
Topology mutated(std::mt19937& rng, Topology topology) {
    for (unsigned k = pick(rng, 1, 4); k > 0; --k) {
        auto& node = topology.nodes[pick(rng, 0, static_cast<unsigned>(topology.nodes.size()) - 1)];
        std::vector<unsigned> online = node.cpus.to_vector();
        std::vector<unsigned> offline = node.offline_cpus.to_vector();
        if (!online.empty() && chance(rng, 0.5)) {
            const unsigned cpu = online[pick(rng, 0, static_cast<unsigned>(online.size()) - 1)];
            node.cpus.reset(cpu);
            if (!chance(rng, 0.2)) {
                node.offline_cpus.set(cpu);
            }
        } else if (!offline.empty()) {
            const unsigned cpu = offline[pick(rng, 0, static_cast<unsigned>(offline.size()) - 1)];
            node.offline_cpus.reset(cpu);
            node.cpus.set(cpu);
        } else {
            node.cpus.set(cpu_end(topology) + pick(rng, 0, 3));
        }
    }
    return topology;
}

// A plan that fits no topology in particular: threads on random CPUs (some
// beyond the machine, some sharing a CPU), random nodes, indices with gaps and
// beyond any fixed count; workloads missing, renamed or in another order.
Plan random_plan(std::mt19937& rng, const Config& config, unsigned cpus) {
    Plan plan;
    plan.generation = chance(rng, 0.1) ? 0 : pick(rng, 1, 1000);
    for (const auto& workload : config.workloads) {
        if (chance(rng, 0.1)) {
            continue;
        }
        WorkloadPlan wp;
        wp.name = chance(rng, 0.05) ? "other" : workload.name;
        unsigned index = chance(rng, 0.3) ? pick(rng, 0, 5) : 0;
        for (unsigned t = pick(rng, 0, 3 * cpus + 3); t > 0; --t) {
            wp.threads.push_back({index, pick(rng, 0, cpus + 3), pick(rng, 0, 8)});
            index += chance(rng, 0.2) ? pick(rng, 2, 6) : 1;
        }
        wp.cpuset = CpuSet::range(0, cpus);
        wp.mems = CpuSet::range(0, 0);
        plan.workloads.push_back(std::move(wp));
    }
    if (chance(rng, 0.3)) {
        std::shuffle(plan.workloads.begin(), plan.workloads.end(), rng);
    }
    return plan;
}

void check_same(const Topology& topology, const Config& config, const Plan* previous) {
    const Plan expected = naive::plan(topology, config, previous);
    const Plan actual = previous != nullptr ? make_plan(topology, config, *previous) : make_plan(topology, config);
    REQUIRE(actual.workloads.size() == expected.workloads.size());
    for (std::size_t w = 0; w < expected.workloads.size(); ++w) {
        CAPTURE(w);
        const auto& a = actual.workloads[w];
        const auto& e = expected.workloads[w];
        CHECK(a.name == e.name);
        CHECK(a.cpuset == e.cpuset);
        CHECK(a.mems == e.mems);
        CHECK(a.buffers == e.buffers);
        CHECK(a.threads.size() == e.threads.size());
        CHECK(a.threads == e.threads);
    }
    CHECK(actual.generation == expected.generation);
    CHECK(actual == expected);
}

void run_seed(unsigned seed, unsigned max_nodes, unsigned max_cpus_per_node) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Topology topology = random_topology(rng, max_nodes, max_cpus_per_node);
    Config config = random_config(rng, topology);
    const unsigned cpus = std::max(1u, cpu_end(topology));
    check_same(topology, config, nullptr);
    Plan plan = make_plan(topology, config);
    for (unsigned step = 0; step < 6; ++step) {
        CAPTURE(step);
        // The plan of a nearby topology, of this one, or one that fits nothing.
        const unsigned kind = pick(rng, 0, 5);
        if (kind <= 2) {
            topology = mutated(rng, topology);
            check_same(topology, config, &plan);
            plan = make_plan(topology, config, plan);
        } else if (kind == 3) {
            check_same(topology, config, &plan);
        } else if (kind == 4) {
            // Another configuration: previous threads of workloads that changed shape.
            const Config other = random_config(rng, topology);
            const Plan other_plan = make_plan(topology, other);
            check_same(topology, config, &other_plan);
        } else {
            const Plan stray = random_plan(rng, config, cpus);
            check_same(topology, config, &stray);
        }
    }
}

}  // namespace

TEST_CASE("planner reference: the planner equals the reference, small machines") {
    for (unsigned seed = 1; seed <= 400; ++seed) {
        run_seed(seed, 8, 6);
    }
}

TEST_CASE("planner reference: the planner equals the reference, larger machines") {
    for (unsigned seed = 1001; seed <= 1100; ++seed) {
        run_seed(seed, 70, 40);
    }
}
