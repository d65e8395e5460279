// The planner's cost when one CPU changes: the full recompute, alone and with the
// plan diff as the daemon's replanner runs them, for 64, 1024 and 8192 CPUs over
// 1, 8, 64 and 1024 nodes (not more nodes than CPUs), with 1 and 16 workloads. Each iteration is one CPU change: a CPU in the middle
// of the machine goes offline, the next iteration it comes back, and so on, so
// both directions are measured and the plan stays in steady state.
// Results and the targets: docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "plan/plan_diff.hpp"
#include "planner/planner.hpp"
#include "topology/topology.hpp"

namespace {

using namespace hpplace;

// `cpus` CPUs spread evenly over `nodes` nodes (consecutive numbers per node),
// 64 GiB each, SLIT 10 local / 20 remote.
Topology make_topology(unsigned cpus, unsigned nodes) {
    Topology topology;
    topology.nodes.resize(nodes);
    for (unsigned n = 0; n < nodes; ++n) {
        auto& node = topology.nodes[n];
        node.id = n;
        node.memory_bytes = std::uint64_t{64} << 30;
        node.distances.assign(nodes, 20);
        node.distances[n] = 10;
        for (unsigned cpu = n * cpus / nodes; cpu < (n + 1) * cpus / nodes; ++cpu) {
            node.cpus.set(cpu);
        }
    }
    return topology;
}

// 1 workload: one thread per CPU with a 64 MiB buffer per CPU. 16 workloads:
// alternately per-CPU (1 or 2 threads per CPU) and fixed counts (a quarter of
// the CPUs), each with its buffer; every fourth one limited to the even nodes.
Config make_config(unsigned workloads, unsigned cpus, unsigned nodes) {
    Config config;
    config.max_memory_share = 0.5;
    for (unsigned w = 0; w < workloads; ++w) {
        Workload workload;
        workload.name = "w" + std::to_string(w);
        if (w % 2 == 0) {
            workload.threads_per_cpu = 1 + (w / 2) % 2;
        } else {
            workload.threads = std::max(1U, cpus / 4);
        }
        workload.buffer_per_cpu = std::uint64_t{64} << 20;
        if (w % 4 == 3 && nodes > 1) {
            std::vector<unsigned> even;
            for (unsigned n = 0; n < nodes; n += 2) {
                even.push_back(n);
            }
            workload.nodes = even;
        }
        config.workloads.push_back(std::move(workload));
    }
    return config;
}

struct Scenario {
    Config config;
    std::array<Topology, 2> topologies;  // [0]: all online, [1]: the CPU offline
    unsigned cpu = 0;
    Plan steady;  // the plan of topologies[0]

    Scenario(unsigned cpus, unsigned nodes, unsigned workloads)
        : config(make_config(workloads, cpus, nodes)), cpu(cpus / 2 + 1) {
        topologies[0] = make_topology(cpus, nodes);
        topologies[1] = topologies[0];
        for (auto& node : topologies[1].nodes) {
            if (node.cpus.test(cpu)) {
                node.cpus.reset(cpu);
                node.offline_cpus.set(cpu);
            }
        }
        steady = make_plan(topologies[0], config);
    }

    std::size_t threads(const Plan& plan) const {
        std::size_t count = 0;
        for (const auto& w : plan.workloads) {
            count += w.threads.size();
        }
        return count;
    }
};

void set_counters(benchmark::State& state, const Scenario& s) {
    const Plan off = make_plan(s.topologies[1], s.config, s.steady);
    unsigned moved_or_stopped = 0;
    for (const auto& action : diff_plans(s.steady, off)) {
        moved_or_stopped += std::holds_alternative<MoveThread>(action) || std::holds_alternative<StopThread>(action);
    }
    state.counters["threads"] = static_cast<double>(s.threads(s.steady));
    state.counters["moved_or_stopped"] = moved_or_stopped;  // by the CPU going offline
    state.SetItemsProcessed(state.iterations());            // CPU changes
}

// make_plan(topology, config, previous) after each CPU change.
void BM_full_recompute(benchmark::State& state) {
    const Scenario s(static_cast<unsigned>(state.range(0)), static_cast<unsigned>(state.range(1)),
                     static_cast<unsigned>(state.range(2)));
    Plan plan = s.steady;
    std::size_t i = 0;
    for (auto _ : state) {
        plan = make_plan(s.topologies[++i % 2], s.config, plan);
        benchmark::DoNotOptimize(plan.generation);
    }
    set_counters(state, s);
}

// What the daemon does per change (service/replanner.cpp): the full recompute
// from the previous plan, then the diff between the two for the appliers.
void BM_recompute_and_diff(benchmark::State& state) {
    const Scenario s(static_cast<unsigned>(state.range(0)), static_cast<unsigned>(state.range(1)),
                     static_cast<unsigned>(state.range(2)));
    Plan plan = s.steady;
    std::size_t i = 0;
    for (auto _ : state) {
        Plan next = make_plan(s.topologies[++i % 2], s.config, plan);
        const std::vector<PlanAction> actions = diff_plans(plan, next);
        benchmark::DoNotOptimize(actions.data());
        plan = std::move(next);
    }
    set_counters(state, s);
}

void sizes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"cpus", "nodes", "workloads"});
    for (const long workloads : {1, 16}) {
        for (const long cpus : {64, 1024, 8192}) {
            for (const long nodes : {1, 8, 64, 1024}) {
                if (nodes <= cpus) {
                    b->Args({cpus, nodes, workloads});
                }
            }
        }
    }
    b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_full_recompute)->Apply(sizes);
BENCHMARK(BM_recompute_and_diff)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
