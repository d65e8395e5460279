#pragma once

// The planner: plan = f(topology, configuration, previous plan), pure. This is
// the whole specification: tests/unit/planner_reference_test.cpp implements it
// naively and compares.
//
// A workload's nodes are those of its `nodes` the topology has (other ids are
// ignored), or all for "all"; its CPUs are the online CPUs of those nodes minus
// reserved_cpus.
// Threads. A workload with threads_per_cpu = k gets k threads on every one of
// its CPUs. One with a fixed `threads` count spreads it over its nodes that have
// CPUs in proportion to their CPUs (quotas by largest remainder, ties to the
// lower node id); the threads to place, in increasing index, each go to the node
// furthest below its quota (counting the threads already there; ties to the
// lower id), there to the least-loaded CPU (threads of the workloads before it
// plus its own so far), ties to the lower CPU. A thread's node is its CPU's node.
// Buffers. buffer_per_cpu x the workload's CPUs on each node, placed on that node,
// or for a node without memory on the nearest node with memory (SLIT distance,
// ties to the lower id); nodes with the same home add up. The buffers of all
// workloads on a node together take at most cap = floor(memory x
// max_memory_share) bytes; above that each gets floor(requested x cap / total
// requested) and is marked clipped.
// cpuset = the workload's CPUs; mems = the memory home (as for buffers) of each
// of its nodes, whether the node has CPUs or not.
// Stability. With a previous plan (its workload of the same name), a thread whose
// CPU is still one of the workload's keeps its CPU and index: for threads_per_cpu
// at most k per CPU, the lowest indices; for a fixed count those with an index
// below the count. Threads of CPUs that left are stopped (threads_per_cpu) or
// placed again as above (fixed count: the indices below the count that no kept
// thread has). New threads of a threads_per_cpu workload take the lowest free
// indices, CPUs in increasing order. generation = previous + 1 when the placement
// differs, previous otherwise, 1 for a first plan (or a previous of generation 0).
//
// The daemon recomputes the whole plan on every change (a burst of events is one
// recompute): docs/benchmarks.md has its cost.

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "topology/topology.hpp"

namespace hpplace {

Plan make_plan(const Topology& topology, const Config& config);
Plan make_plan(const Topology& topology, const Config& config, const Plan& previous);

}  // namespace hpplace
