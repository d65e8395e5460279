#include "planner/planner.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <queue>
#include <span>
#include <utility>

namespace hpplace {

namespace {

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

// Buffer sizes saturate instead of wrapping: the config caps buffer_per_cpu at
// 1 TiB, but make_plan() takes any Config, and 2^63 bytes per CPU on two CPUs
// must not come out as 0 bytes.
std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t product = 0;
    return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<std::uint64_t>::max() : product;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t sum = 0;
    return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::uint64_t>::max() : sum;
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

// Appends the online, unreserved CPUs of a node to `cpus`, increasing. Word by
// word, from the node's first non-empty word: a node's bitmap starts at CPU 0,
// and on a machine of many nodes most of its words are zero.
void append_served_cpus(const NumaNode& node, const CpuSet& reserved, std::vector<unsigned>& cpus) {
    const auto words = node.cpus.words();
    const auto held = reserved.words();
    std::size_t w = 0;
    while (w + 4 <= words.size() && (words[w] | words[w + 1] | words[w + 2] | words[w + 3]) == 0) {
        w += 4;
    }
    while (w < words.size() && words[w] == 0) {
        ++w;
    }
    for (; w < words.size(); ++w) {
        std::uint64_t bits = words[w] & ~(w < held.size() ? held[w] : 0);
        while (bits != 0) {
            cpus.push_back(static_cast<unsigned>(w * 64) + static_cast<unsigned>(__builtin_ctzll(bits)));
            bits &= bits - 1;
        }
    }
}

// Node id -> position in topology.nodes (nodes are in increasing id): a table
// for the ids a topology holds (at most max_node_id), a binary search beyond.
class NodeIndex {
public:
    explicit NodeIndex(const Topology& topology) : topology_(topology) {
        use_table_ = !topology.nodes.empty() && topology.nodes.back().id <= max_node_id;
        if (use_table_) {
            table_.assign(topology.nodes.back().id + 1, no_position);
            for (std::size_t p = topology.nodes.size(); p-- > 0;) {
                table_[topology.nodes[p].id] = p;
            }
        }
    }
    std::size_t find(unsigned id) const noexcept {
        if (!use_table_) {
            const auto it = std::lower_bound(topology_.nodes.begin(), topology_.nodes.end(), id,
                                             [](const NumaNode& n, unsigned i) { return n.id < i; });
            return it != topology_.nodes.end() && it->id == id
                       ? static_cast<std::size_t>(it - topology_.nodes.begin())
                       : no_position;
        }
        return id < table_.size() ? table_[id] : no_position;
    }

private:
    const Topology& topology_;
    bool use_table_ = false;
    std::vector<std::size_t> table_;
};

// The CPUs of one of a workload's nodes, as fixed-count placement sees them.
struct NodeCpus {
    unsigned id = 0;
    std::span<const unsigned> cpus;               // increasing, non-empty
    unsigned kept = 0;                            // threads of the workload kept there
};

// Places the `unplaced` thread indices (increasing) of a fixed-count workload of
// `total` threads: each to the node furthest below its quota (ties to the lower
// id), there to the least-loaded CPU (ties to the lower number). `loads` holds the
// threads per CPU so far (earlier workloads and this one's kept threads) and is
// updated.
std::vector<PlannedThread> place_fixed(std::uint64_t total, std::span<const NodeCpus> nodes,
                                       std::span<const unsigned> unplaced, std::vector<std::uint32_t>& loads) {
    std::vector<PlannedThread> placed;
    if (nodes.empty() || unplaced.empty()) {
        return placed;
    }
    std::vector<std::uint64_t> weights;
    weights.reserve(nodes.size());
    for (const auto& n : nodes) {
        weights.push_back(n.cpus.size());
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
            entries.reserve(nodes[position].cpus.size());
            for (const unsigned cpu : nodes[position].cpus) {
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

// threads (the kept ones) and `added` are each sorted by index, with no index in
// both: merges `added` in. From the back, each block of kept threads between two
// added ones moves once, by memmove.
void merge_added(std::vector<PlannedThread>& threads, std::span<const PlannedThread> added) {
    std::size_t i = threads.size();
    threads.resize(threads.size() + added.size());
    for (std::size_t j = added.size(); j-- > 0;) {
        const auto first = std::upper_bound(threads.begin(), threads.begin() + static_cast<std::ptrdiff_t>(i),
                                            added[j].index,
                                            [](unsigned index, const PlannedThread& t) { return index < t.index; });
        const auto pos = static_cast<std::size_t>(first - threads.begin());
        std::move_backward(first, threads.begin() + static_cast<std::ptrdiff_t>(i),
                           threads.begin() + static_cast<std::ptrdiff_t>(i + j + 1));
        threads[pos + j] = added[j];
        i = pos;
    }
}

// --- the full recompute ------------------------------------------------------------

// What the whole plan needs to know about the topology, computed once.
struct Machine {
    const Topology& topology;
    NodeIndex node_index;
    std::vector<unsigned> served_cpus;        // the served CPUs of all nodes, node after node
    std::vector<std::size_t> served_begin;    // per node position (+1 at the end): start in served_cpus
    std::vector<std::size_t> home;            // per node position: memory home position
    std::vector<unsigned> home_id;            // per node position: the home's id (no_node if none)
    std::vector<unsigned> cpu_position;       // per CPU: node position, or no_node if not served
    std::vector<unsigned> cpu_node;           // per served CPU: its node's id
    unsigned cpu_end = 0;

    Machine(const Topology& t, const CpuSet& reserved) : topology(t), node_index(t) {
        // CPUs are on one node each: the highest online CPU bounds their number.
        unsigned online_end = 0;
        for (const auto& node : t.nodes) {
            online_end = std::max(online_end, node.cpus.end());
        }
        served_cpus.reserve(online_end);
        served_begin.reserve(t.nodes.size() + 1);
        home.reserve(t.nodes.size());
        home_id.reserve(t.nodes.size());
        for (std::size_t p = 0; p < t.nodes.size(); ++p) {
            served_begin.push_back(served_cpus.size());
            append_served_cpus(t.nodes[p], reserved, served_cpus);
            if (served_cpus.size() != served_begin.back()) {
                cpu_end = std::max(cpu_end, served_cpus.back() + 1);
            }
            home.push_back(memory_home(t, p));
            home_id.push_back(home.back() != no_position ? t.nodes[home.back()].id : no_node);
        }
        served_begin.push_back(served_cpus.size());
        cpu_position.assign(cpu_end, no_node);
        cpu_node.assign(cpu_end, no_node);
        for (std::size_t p = 0; p < t.nodes.size(); ++p) {
            for (const unsigned cpu : served(p)) {
                cpu_position[cpu] = static_cast<unsigned>(p);
                cpu_node[cpu] = t.nodes[p].id;
            }
        }
    }

    // The online, unreserved CPUs of the node at `position`, increasing.
    std::span<const unsigned> served(std::size_t position) const noexcept {
        return std::span<const unsigned>(served_cpus).subspan(served_begin[position],
                                                              served_begin[position + 1] - served_begin[position]);
    }
};

// Node positions a workload uses, increasing id (topology order).
std::vector<std::size_t> selected_positions(const Machine& machine, const Workload& workload) {
    const std::size_t count = machine.topology.nodes.size();
    std::vector<std::size_t> positions;
    if (!workload.nodes) {
        positions.resize(count);
        std::iota(positions.begin(), positions.end(), std::size_t{0});
        return positions;
    }
    std::vector<std::uint8_t> chosen(count, 0);
    for (const unsigned id : *workload.nodes) {
        if (const std::size_t p = machine.node_index.find(id); p != no_position) {
            chosen[p] = 1;
        }
    }
    for (std::size_t p = 0; p < count; ++p) {
        if (chosen[p] != 0) {
            positions.push_back(p);
        }
    }
    return positions;
}

// What the workloads that use one set of nodes share: built once per distinct
// set of nodes in a plan (most workloads use all nodes, or the same few).
struct NodeSet {
    std::vector<std::size_t> positions;  // node positions, increasing
    std::vector<std::uint8_t> here;      // per CPU below cpu_end: 1 for a served CPU of these nodes
    std::size_t served_count = 0;        // how many
    CpuSet cpuset;
    CpuSet mems;
};

const NodeSet& node_set_of(const Machine& machine, std::vector<NodeSet>& known, std::vector<std::size_t> positions) {
    for (const auto& set : known) {
        if (set.positions == positions) {
            return set;
        }
    }
    NodeSet set;
    set.here.assign(machine.cpu_end, 0);
    std::vector<std::uint64_t> words((machine.cpu_end + 63) / 64, 0);
    CpuSet mems;
    for (const auto p : positions) {
        for (const unsigned cpu : machine.served(p)) {
            set.here[cpu] = 1;
            words[cpu / 64] |= std::uint64_t{1} << (cpu % 64);
        }
        set.served_count += machine.served(p).size();
        if (machine.home_id[p] != no_node) {
            mems.set(machine.home_id[p]);
        }
    }
    set.positions = std::move(positions);
    set.cpuset = CpuSet::from_words(words);
    set.mems = std::move(mems);
    known.push_back(std::move(set));
    return known.back();
}

// `room` is a per-CPU scratch array (cpu_end entries).
std::vector<PlannedThread> plan_threads(const Machine& machine, const Workload& workload, const NodeSet& nodes_used,
                                        const WorkloadPlan* previous, std::vector<std::uint32_t>& loads,
                                        std::vector<std::uint32_t>& room) {
    const std::span<const std::size_t> positions = nodes_used.positions;
    const std::uint8_t* const here = nodes_used.here.data();
    const auto& topology = machine.topology;
    const unsigned cpu_end = machine.cpu_end;
    std::vector<PlannedThread> threads;
    if (!workload.fixed_thread_count()) {
        // Every CPU of the workload ends with exactly per_cpu threads: room counts
        // down from per_cpu as the previous threads are kept, and what is left is
        // filled with new threads.
        const unsigned per_cpu = workload.threads_per_cpu;
        const std::size_t served_count = nodes_used.served_count;
        for (unsigned cpu = 0; cpu < cpu_end; ++cpu) {
            room[cpu] = here[cpu] * per_cpu;
        }
        // Written through a pointer: the final size is known, and push_back's
        // capacity check costs as much as the rest of this loop. (Zero-filling the
        // vector first is cheaper than copying the previous threads in: neither
        // is a memcpy, PlannedThread not being trivial.)
        threads.resize(served_count * per_cpu);
        PlannedThread* out = threads.data();
        if (previous != nullptr) {
            const std::uint32_t* const node_of = machine.cpu_node.data();
            std::uint32_t* const left = room.data();
            for (const auto& t : previous->threads) {
                if (t.cpu < cpu_end && left[t.cpu] != 0) {
                    --left[t.cpu];
                    *out++ = PlannedThread{t.index, t.cpu, node_of[t.cpu]};
                }
            }
        }
        const auto kept = static_cast<std::size_t>(out - threads.data());
        threads.resize(kept);
        if (kept != served_count * per_cpu) {
            // New threads: the lowest indices the kept threads (increasing index) leave free.
            std::vector<PlannedThread> added;
            added.reserve(served_count * per_cpu - kept);  // (the CPUs' room adds up to this)
            unsigned candidate = 0;
            std::size_t k = 0;
            auto next_free = [&] {
                while (k < kept && threads[k].index <= candidate) {
                    candidate += threads[k].index == candidate ? 1 : 0;
                    ++k;
                }
                return candidate++;
            };
            const std::size_t missing = served_count * per_cpu - kept;
            for (unsigned cpu = 0; added.size() < missing; ++cpu) {
                for (unsigned r = room[cpu]; r > 0; --r) {
                    added.push_back({next_free(), cpu, machine.cpu_node[cpu]});
                }
            }
            merge_added(threads, added);
        }
        for (unsigned cpu = 0; cpu < cpu_end; ++cpu) {
            loads[cpu] += here[cpu] * per_cpu;
        }
        return threads;
    }

    const unsigned total = *workload.threads;
    std::vector<unsigned> kept_on_position(topology.nodes.size(), 0);
    if (nodes_used.served_count != 0) {
        threads.reserve(total);  // all of them get placed
    }
    if (previous != nullptr) {
        for (const auto& t : previous->threads) {
            if (t.index < total && t.cpu < cpu_end && here[t.cpu] != 0) {
                const unsigned p = machine.cpu_position[t.cpu];
                threads.push_back({t.index, t.cpu, machine.cpu_node[t.cpu]});
                ++kept_on_position[p];
                ++loads[t.cpu];
            }
        }
    }
    // The indices the kept threads (increasing index) leave free.
    std::vector<unsigned> unplaced;
    unplaced.reserve(total - threads.size());
    {
        const PlannedThread* k = threads.data();
        const PlannedThread* const end = k + threads.size();
        for (unsigned i = 0; i < total; ++i) {
            while (k != end && k->index < i) {
                ++k;
            }
            if (k == end || k->index != i) {
                unplaced.push_back(i);
            }
        }
    }
    if (unplaced.empty()) {
        return threads;
    }
    std::vector<NodeCpus> nodes;
    nodes.reserve(positions.size());
    for (const auto p : positions) {
        if (!machine.served(p).empty()) {
            nodes.push_back({topology.nodes[p].id, machine.served(p), kept_on_position[p]});
        }
    }
    const std::vector<PlannedThread> placed = place_fixed(total, nodes, unplaced, loads);
    merge_added(threads, placed);
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
        const unsigned node = machine.home_id[p];
        if (machine.served(p).empty() || node == no_node) {
            continue;
        }
        const std::uint64_t bytes = saturating_mul(workload.buffer_per_cpu, machine.served(p).size());
        if (buffers.empty() || buffers.back().node < node) {
            // The usual case: every node is its own home, in increasing id.
            buffers.push_back(PlannedBuffer{node, 0, bytes, false});
            continue;
        }
        auto it = std::lower_bound(buffers.begin(), buffers.end(), node,
                                   [](const PlannedBuffer& b, unsigned n) { return b.node < n; });
        if (it == buffers.end() || it->node != node) {
            it = buffers.insert(it, PlannedBuffer{node, 0, 0, false});
        }
        it->requested_bytes = saturating_add(it->requested_bytes, bytes);
    }
    return buffers;
}

// Applies max_memory_share to the buffers of every node.
void clip_buffers(std::vector<WorkloadPlan>& workloads, const Topology& topology, double share) {
    const NodeIndex index(topology);
    // Requested bytes per node position, over all workloads; buffers only live on nodes of the topology.
    std::vector<uint128> totals(topology.nodes.size(), 0);
    for (const auto& w : workloads) {
        for (const auto& b : w.buffers) {
            if (const auto p = index.find(b.node); p != no_position) {
                totals[p] += b.requested_bytes;
            }
        }
    }
    // The cap of each node that holds buffers, computed once per node.
    std::vector<std::uint64_t> caps(topology.nodes.size(), 0);
    for (std::size_t p = 0; p < caps.size(); ++p) {
        if (totals[p] != 0) {
            caps[p] = memory_cap(topology.nodes[p].memory_bytes, share);
        }
    }
    for (auto& w : workloads) {
        for (auto& b : w.buffers) {
            const auto p = index.find(b.node);
            if (p == no_position) {
                continue;
            }
            const std::uint64_t cap = caps[p];  // (0 where nothing is requested: nothing to clip)
            b.clipped = totals[p] > cap;
            b.bytes = b.clipped ? clipped_bytes(b.requested_bytes, cap, totals[p]) : b.requested_bytes;
        }
    }
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
    std::vector<std::uint32_t> room(machine.cpu_end, 0);
    std::vector<NodeSet> node_sets;
    node_sets.reserve(config.workloads.size());  // references into it stay valid
    Plan plan;
    plan.workloads.reserve(config.workloads.size());
    for (const auto& workload : config.workloads) {
        const NodeSet& nodes_used = node_set_of(machine, node_sets, selected_positions(machine, workload));
        const WorkloadPlan* before = previous != nullptr ? previous->find_workload(workload.name) : nullptr;
        WorkloadPlan wp;
        wp.name = workload.name;
        wp.threads = plan_threads(machine, workload, nodes_used, before, loads, room);
        wp.buffers = plan_buffers(machine, workload, nodes_used.positions);
        wp.cpuset = nodes_used.cpuset;
        wp.mems = nodes_used.mems;
        plan.workloads.push_back(std::move(wp));
    }
    clip_buffers(plan.workloads, topology, config.max_memory_share);
    plan.generation = next_generation(previous, plan);
    return plan;
}

}  // namespace

Plan make_plan(const Topology& topology, const Config& config) { return plan_with(topology, config, nullptr); }

Plan make_plan(const Topology& topology, const Config& config, const Plan& previous) {
    return plan_with(topology, config, &previous);
}

}  // namespace hpplace
