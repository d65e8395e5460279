// The full recompute against a reference: the planner's full path as it was
// before it was tuned for speed (daemon/src/planner/planner.cpp at 8d6bfd8,
// copied verbatim below), on random topologies, configurations and previous
// plans, including previous plans that do not fit (other configurations, threads
// on unknown or duplicate CPUs, stray indices). The tuned planner must give the
// same plans, bit for bit, generation included.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "planner/planner.hpp"
#include "topology/topology.hpp"
#include "random_topology.hpp"

using namespace hpplace;

namespace reference {

__extension__ typedef unsigned __int128 uint128;

constexpr unsigned no_node = std::numeric_limits<unsigned>::max();
constexpr std::size_t no_position = std::numeric_limits<std::size_t>::max();

// --- pure arithmetic -------------------------------------------------------------

// Splits `total` over parts in proportion to `weights` (largest remainder; ties
// to the lower position). All zero weights give all zeros.
std::vector<std::uint64_t> largest_remainder(std::uint64_t total, std::span<const std::uint64_t> weights) {
    std::vector<std::uint64_t> shares(weights.size(), 0);
    const std::uint64_t sum = std::accumulate(weights.begin(), weights.end(), std::uint64_t{0});
    if (sum == 0) {
        return shares;
    }
    std::vector<std::uint64_t> remainders(weights.size());
    std::uint64_t given = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        const uint128 product = uint128{total} * weights[i];
        shares[i] = static_cast<std::uint64_t>(product / sum);
        remainders[i] = static_cast<std::uint64_t>(product % sum);
        given += shares[i];
    }
    std::vector<std::size_t> order(weights.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return remainders[a] > remainders[b]; });
    for (std::size_t i = 0; given < total; ++i, ++given) {
        ++shares[order[i]];
    }
    return shares;
}

// At most `share` of `memory` bytes.
std::uint64_t memory_cap(std::uint64_t memory, double share) {
    if (share >= 1.0) {
        return memory;
    }
    return static_cast<std::uint64_t>(static_cast<long double>(memory) * static_cast<long double>(share));
}

// bytes for one of several requests that together exceed the cap.
std::uint64_t clipped_bytes(std::uint64_t requested, std::uint64_t cap, uint128 total_requested) {
    return static_cast<std::uint64_t>(uint128{requested} * cap / total_requested);
}

// Position (in topology.nodes) of the nearest node with memory, by the SLIT row
// of the node at `position`; ties to the lower id. no_position when no node has memory.
std::size_t memory_home(const Topology& topology, std::size_t position) {
    const NumaNode& node = topology.nodes[position];
    if (node.has_memory()) {
        return position;
    }
    std::size_t best = no_position;
    unsigned best_distance = std::numeric_limits<unsigned>::max();
    for (std::size_t q = 0; q < topology.nodes.size(); ++q) {
        if (!topology.nodes[q].has_memory()) {
            continue;
        }
        const unsigned distance =
            q < node.distances.size() ? node.distances[q] : std::numeric_limits<unsigned>::max();
        if (best == no_position || distance < best_distance ||
            (distance == best_distance && topology.nodes[q].id < topology.nodes[best].id)) {
            best = q;
            best_distance = distance;
        }
    }
    return best;
}

std::vector<unsigned> served_cpus_of(const NumaNode& node, const CpuSet& reserved) {
    std::vector<unsigned> cpus;
    cpus.reserve(node.cpus.count());
    node.cpus.for_each([&](unsigned cpu) {
        if (!reserved.test(cpu)) {
            cpus.push_back(cpu);
        }
    });
    return cpus;
}

// The CPUs of one of a workload's nodes, as fixed-count placement sees them.
struct NodeCpus {
    unsigned id = 0;
    const std::vector<unsigned>* cpus = nullptr;  // increasing, non-empty
    unsigned kept = 0;                            // threads of the workload kept there
};

// Places the `unplaced` thread indices (increasing) of a fixed-count workload of
// `total` threads: each to the node furthest below its quota (ties to the lower
// id), there to the least-loaded CPU (ties to the lower number). `loads` holds the
// threads per CPU so far (earlier workloads and this one's kept threads) and is
// updated. Shared by the full and the incremental path.
std::vector<PlannedThread> place_fixed(std::uint64_t total, std::span<const NodeCpus> nodes,
                                       std::span<const unsigned> unplaced, std::vector<std::uint32_t>& loads) {
    std::vector<PlannedThread> placed;
    if (nodes.empty() || unplaced.empty()) {
        return placed;
    }
    std::vector<std::uint64_t> weights;
    weights.reserve(nodes.size());
    for (const auto& n : nodes) {
        weights.push_back(n.cpus->size());
    }
    const std::vector<std::uint64_t> quotas = largest_remainder(total, weights);
    // (deficit, -id): the largest deficit first, then the lowest id.
    using Entry = std::pair<std::uint64_t, std::int64_t>;
    std::priority_queue<Entry> by_deficit;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (quotas[i] > nodes[i].kept) {
            by_deficit.emplace(quotas[i] - nodes[i].kept, -static_cast<std::int64_t>(i));
        }
    }
    using Load = std::pair<std::uint32_t, unsigned>;  // (load, cpu), smallest first
    using MinHeap = std::priority_queue<Load, std::vector<Load>, std::greater<>>;
    std::vector<std::optional<MinHeap>> cpu_heaps(nodes.size());
    placed.reserve(unplaced.size());
    for (const unsigned index : unplaced) {
        if (by_deficit.empty()) {
            break;  // cannot happen: the deficits sum to at least the unplaced count
        }
        auto [deficit, negative_position] = by_deficit.top();
        by_deficit.pop();
        const auto position = static_cast<std::size_t>(-negative_position);
        if (deficit > 1) {
            by_deficit.emplace(deficit - 1, negative_position);
        }
        auto& heap = cpu_heaps[position];
        if (!heap) {
            std::vector<Load> entries;
            entries.reserve(nodes[position].cpus->size());
            for (const unsigned cpu : *nodes[position].cpus) {
                entries.emplace_back(loads[cpu], cpu);
            }
            heap.emplace(std::greater<>{}, std::move(entries));
        }
        const unsigned cpu = heap->top().second;
        heap->pop();
        ++loads[cpu];
        heap->emplace(loads[cpu], cpu);
        placed.push_back({index, cpu, nodes[position].id});
    }
    return placed;
}

// The `count` lowest indices not in `used`, increasing: the free ones below
// used.size() first, then used.size() on.
std::vector<unsigned> free_indices(const std::vector<bool>& used, std::size_t count) {
    std::vector<unsigned> indices;
    indices.reserve(count);
    for (unsigned i = 0; indices.size() < count; ++i) {
        if (i >= used.size() || !used[i]) {
            indices.push_back(i);
        }
    }
    return indices;
}

bool by_index(const PlannedThread& a, const PlannedThread& b) noexcept { return a.index < b.index; }

// threads[0, middle) and threads[middle, end) are each sorted by index: merges them.
void merge_by_index(std::vector<PlannedThread>& threads, std::size_t middle) {
    std::inplace_merge(threads.begin(), threads.begin() + static_cast<std::ptrdiff_t>(middle), threads.end(), by_index);
}

// A CpuSet from CPU numbers below `end`, without growing it bit by bit.
class CpuSetBuilder {
public:
    explicit CpuSetBuilder(unsigned end) : words_((end + 63) / 64, 0) {}
    void set(unsigned cpu) noexcept { words_[cpu / 64] |= std::uint64_t{1} << (cpu % 64); }
    CpuSet build() const { return CpuSet::from_words(words_); }

private:
    std::vector<std::uint64_t> words_;
};

// --- the full recompute ------------------------------------------------------------

// What the whole plan needs to know about the topology, computed once.
struct Machine {
    const Topology& topology;
    std::vector<std::vector<unsigned>> served;  // per node position: online, unreserved CPUs
    std::vector<std::size_t> home;               // per node position: memory home position
    std::vector<unsigned> cpu_position;          // per CPU: node position, or no_node if not served
    unsigned cpu_end = 0;

    Machine(const Topology& t, const CpuSet& reserved) : topology(t) {
        served.reserve(t.nodes.size());
        home.reserve(t.nodes.size());
        for (std::size_t p = 0; p < t.nodes.size(); ++p) {
            served.push_back(served_cpus_of(t.nodes[p], reserved));
            home.push_back(memory_home(t, p));
            if (!served.back().empty()) {
                cpu_end = std::max(cpu_end, served.back().back() + 1);
            }
        }
        cpu_position.assign(cpu_end, no_node);
        for (std::size_t p = 0; p < served.size(); ++p) {
            for (const unsigned cpu : served[p]) {
                cpu_position[cpu] = static_cast<unsigned>(p);
            }
        }
    }
};

// Node positions a workload uses, increasing id (topology order).
std::vector<std::size_t> selected_positions(const Topology& topology, const Workload& workload) {
    std::vector<std::size_t> positions;
    for (std::size_t p = 0; p < topology.nodes.size(); ++p) {
        if (workload.uses_node(topology.nodes[p].id)) {
            positions.push_back(p);
        }
    }
    return positions;
}

std::vector<PlannedThread> plan_threads(const Machine& machine, const Workload& workload,
                                        std::span<const std::size_t> positions, const WorkloadPlan* previous,
                                        std::vector<std::uint32_t>& loads) {
    const auto& topology = machine.topology;
    std::vector<bool> selected(topology.nodes.size(), false);
    for (const auto p : positions) {
        selected[p] = true;
    }
    auto served_here = [&](unsigned cpu) {
        return cpu < machine.cpu_end && machine.cpu_position[cpu] != no_node && selected[machine.cpu_position[cpu]];
    };
    std::vector<PlannedThread> threads;
    std::vector<bool> used;
    if (!workload.fixed_thread_count()) {
        const unsigned per_cpu = workload.threads_per_cpu;
        std::vector<std::uint32_t> on_cpu(machine.cpu_end, 0);
        if (previous != nullptr && !previous->threads.empty()) {
            used.assign(previous->threads.back().index + 1, false);
            threads.reserve(previous->threads.size());
            for (const auto& t : previous->threads) {
                if (served_here(t.cpu) && on_cpu[t.cpu] < per_cpu) {
                    ++on_cpu[t.cpu];
                    threads.push_back({t.index, t.cpu, topology.nodes[machine.cpu_position[t.cpu]].id});
                    used[t.index] = true;
                }
            }
        }
        std::size_t missing = 0;
        for (const auto p : positions) {
            for (const unsigned cpu : machine.served[p]) {
                missing += per_cpu - on_cpu[cpu];
            }
        }
        if (missing != 0) {
            const std::vector<unsigned> indices = free_indices(used, missing);
            std::size_t next = 0;
            const std::size_t kept = threads.size();
            for (unsigned cpu = 0; cpu < machine.cpu_end; ++cpu) {
                if (!served_here(cpu)) {
                    continue;
                }
                for (unsigned k = on_cpu[cpu]; k < per_cpu; ++k) {
                    threads.push_back({indices[next++], cpu, topology.nodes[machine.cpu_position[cpu]].id});
                }
            }
            merge_by_index(threads, kept);
        }
        for (const auto& t : threads) {
            ++loads[t.cpu];
        }
        return threads;
    }

    const unsigned total = *workload.threads;
    std::vector<unsigned> kept_on_position(topology.nodes.size(), 0);
    used.assign(total, false);
    if (previous != nullptr) {
        for (const auto& t : previous->threads) {
            if (t.index < total && served_here(t.cpu)) {
                const unsigned p = machine.cpu_position[t.cpu];
                threads.push_back({t.index, t.cpu, topology.nodes[p].id});
                used[t.index] = true;
                ++kept_on_position[p];
                ++loads[t.cpu];
            }
        }
    }
    std::vector<unsigned> unplaced;
    for (unsigned i = 0; i < total; ++i) {
        if (!used[i]) {
            unplaced.push_back(i);
        }
    }
    std::vector<NodeCpus> nodes;
    for (const auto p : positions) {
        if (!machine.served[p].empty()) {
            nodes.push_back({topology.nodes[p].id, &machine.served[p], kept_on_position[p]});
        }
    }
    const std::vector<PlannedThread> placed = place_fixed(total, nodes, unplaced, loads);
    const std::size_t kept = threads.size();
    threads.insert(threads.end(), placed.begin(), placed.end());
    merge_by_index(threads, kept);
    return threads;
}

// Requested bytes per memory home position, increasing node id.
std::vector<PlannedBuffer> plan_buffers(const Machine& machine, const Workload& workload,
                                        std::span<const std::size_t> positions) {
    std::vector<PlannedBuffer> buffers;
    if (workload.buffer_per_cpu == 0) {
        return buffers;
    }
    for (const auto p : positions) {
        const std::size_t home = machine.home[p];
        if (machine.served[p].empty() || home == no_position) {
            continue;
        }
        const unsigned node = machine.topology.nodes[home].id;
        const std::uint64_t bytes = workload.buffer_per_cpu * machine.served[p].size();
        auto it = std::lower_bound(buffers.begin(), buffers.end(), node,
                                   [](const PlannedBuffer& b, unsigned n) { return b.node < n; });
        if (it == buffers.end() || it->node != node) {
            it = buffers.insert(it, PlannedBuffer{node, 0, 0, false});
        }
        it->requested_bytes += bytes;
    }
    return buffers;
}

// Applies max_memory_share to the buffers on `only_node` (on every node if nullopt).
void clip_buffers(std::vector<WorkloadPlan>& workloads, const Topology& topology, double share,
                  std::optional<unsigned> only_node) {
    auto position_of = [&](unsigned id) {
        const auto it = std::lower_bound(topology.nodes.begin(), topology.nodes.end(), id,
                                         [](const NumaNode& n, unsigned i) { return n.id < i; });
        return it != topology.nodes.end() && it->id == id ? static_cast<std::size_t>(it - topology.nodes.begin())
                                                          : no_position;
    };
    auto applies = [&](const PlannedBuffer& b) { return !only_node || b.node == *only_node; };
    // Requested bytes per node position, over all workloads; buffers only live on nodes of the topology.
    std::vector<uint128> totals(topology.nodes.size(), 0);
    for (const auto& w : workloads) {
        for (const auto& b : w.buffers) {
            if (const auto p = position_of(b.node); applies(b) && p != no_position) {
                totals[p] += b.requested_bytes;
            }
        }
    }
    for (auto& w : workloads) {
        for (auto& b : w.buffers) {
            const auto p = position_of(b.node);
            if (!applies(b) || p == no_position) {
                continue;
            }
            const std::uint64_t cap = memory_cap(topology.nodes[p].memory_bytes, share);
            b.clipped = totals[p] > cap;
            b.bytes = b.clipped ? clipped_bytes(b.requested_bytes, cap, totals[p]) : b.requested_bytes;
        }
    }
}

std::string cpuset_of(const Machine& machine, std::span<const std::size_t> positions) {
    CpuSetBuilder cpus(machine.cpu_end);
    for (const auto p : positions) {
        for (const unsigned cpu : machine.served[p]) {
            cpus.set(cpu);
        }
    }
    return cpus.build().to_list();
}

std::string mems_of(const Machine& machine, std::span<const std::size_t> positions) {
    CpuSet mems;
    for (const auto p : positions) {
        if (machine.home[p] != no_position) {
            mems.set(machine.topology.nodes[machine.home[p]].id);
        }
    }
    return mems.to_list();
}

std::uint64_t next_generation(const Plan* previous, const Plan& plan) {
    if (previous == nullptr || previous->generation == 0) {
        return 1;
    }
    return previous->same_placement(plan) ? previous->generation : previous->generation + 1;
}

Plan plan_with(const Topology& topology, const Config& config, const Plan* previous) {
    const Machine machine(topology, config.reserved_cpus);
    std::vector<std::uint32_t> loads(machine.cpu_end, 0);
    Plan plan;
    plan.workloads.reserve(config.workloads.size());
    for (const auto& workload : config.workloads) {
        const std::vector<std::size_t> positions = selected_positions(topology, workload);
        const WorkloadPlan* before = previous != nullptr ? previous->find_workload(workload.name) : nullptr;
        WorkloadPlan wp;
        wp.name = workload.name;
        wp.threads = plan_threads(machine, workload, positions, before, loads);
        wp.buffers = plan_buffers(machine, workload, positions);
        wp.cpuset = cpuset_of(machine, positions);
        wp.mems = mems_of(machine, positions);
        plan.workloads.push_back(std::move(wp));
    }
    clip_buffers(plan.workloads, topology, config.max_memory_share, std::nullopt);
    plan.generation = next_generation(previous, plan);
    return plan;
}


}  // namespace reference

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
        wp.cpuset = "0-" + std::to_string(cpus);
        wp.mems = "0";
        plan.workloads.push_back(std::move(wp));
    }
    if (chance(rng, 0.3)) {
        std::shuffle(plan.workloads.begin(), plan.workloads.end(), rng);
    }
    return plan;
}

void check_same(const Topology& topology, const Config& config, const Plan* previous) {
    const Plan expected = reference::plan_with(topology, config, previous);
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

TEST_CASE("planner reference: the full recompute equals the reference, small machines") {
    for (unsigned seed = 1; seed <= 400; ++seed) {
        run_seed(seed, 8, 6);
    }
}

TEST_CASE("planner reference: the full recompute equals the reference, larger machines") {
    for (unsigned seed = 1001; seed <= 1100; ++seed) {
        run_seed(seed, 70, 40);
    }
}
