#pragma once

// The planner: plan = f(topology, configuration, previous plan), pure.
//
// Threads. A workload with threads_per_cpu = k gets k threads on every online CPU
// of its nodes (minus reserved_cpus). One with a fixed `threads` count spreads it
// over its nodes in proportion to their online CPUs (largest remainder, ties to
// the lower node id); within a node each thread goes to the least-loaded CPU
// (threads of the workloads before it plus its own), ties to the lower CPU.
// Buffers. buffer_per_cpu x the workload's CPUs on each node, placed on that node,
// or for a node without memory on the nearest node with memory (SLIT distance,
// ties to the lower id). The buffers of all workloads on a node together take at
// most max_memory_share of its memory; above that each is scaled down in
// proportion and marked clipped.
// cpuset = the workload's CPUs; mems = the memory nodes of its nodes.
// Stability. With a previous plan, a thread whose CPU is still one of the
// workload's keeps its CPU and index; threads of CPUs that left are stopped
// (threads_per_cpu) or placed again as above (fixed count); new threads take the
// lowest free indices, CPUs in increasing order. generation = previous + 1 when
// the placement differs, previous otherwise, 1 for a first plan.

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "topology/topology.hpp"

namespace hpplace {

Plan make_plan(const Topology& topology, const Config& config);
Plan make_plan(const Topology& topology, const Config& config, const Plan& previous);

}  // namespace hpplace
