#pragma once

// A placement plan: plain values, what the planner computes from a topology, the
// workloads and the previous plan. JSON (docs/contract.md, `hpctl plan --json`):
//   {"generation", "workloads": [{"name", "threads": [{"index", "cpu", "node"}],
//    "buffers": [{"node", "bytes", "requested_bytes", "clipped"}], "cpuset", "mems"}]}
// ("requested_bytes" and "clipped" are extensions: what buffer_per_cpu asked for,
// and whether max_memory_share cut it down.)

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/cpu_set.hpp"

namespace hpplace {

struct PlannedThread {
    unsigned index = 0;  // stable identity of the thread within its workload
    unsigned cpu = 0;    // pinned to this CPU
    unsigned node = 0;   // the CPU's node

    friend bool operator==(const PlannedThread&, const PlannedThread&) = default;
};

struct PlannedBuffer {
    unsigned node = 0;  // where the memory lives (a node with memory)
    std::uint64_t bytes = 0;
    std::uint64_t requested_bytes = 0;  // before max_memory_share
    bool clipped = false;               // bytes < requested_bytes

    friend bool operator==(const PlannedBuffer&, const PlannedBuffer&) = default;
};

struct WorkloadPlan {
    std::string name;
    std::vector<PlannedThread> threads;  // increasing index
    std::vector<PlannedBuffer> buffers;  // increasing node
    CpuSet cpuset;                       // the CPUs the workload may use
    CpuSet mems;                         // the nodes (by id) whose memory it may use

    friend bool operator==(const WorkloadPlan&, const WorkloadPlan&) = default;
};

struct Plan {
    std::uint64_t generation = 0;  // 0 = no plan yet; 1 = the first plan
    std::vector<WorkloadPlan> workloads;  // in configuration order

    const WorkloadPlan* find_workload(std::string_view name) const noexcept;
    // Same placement, whatever the generation.
    bool same_placement(const Plan& other) const noexcept { return workloads == other.workloads; }

    friend bool operator==(const Plan&, const Plan&) = default;
};

// A malformed plan JSON; what() names the JSON path ("workloads[0].threads[2].cpu: ...").
class PlanError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

nlohmann::json to_json(const Plan& plan);
// The same document as text, exactly as control::render_json(to_json(plan))
// writes it, appended to `out` without building it (each new plan is pushed
// to subscribers; a plan answer may hold a million threads).
void append_json(std::string& out, const Plan& plan);
// Validates everything it reads: types, ranges, unique names, thread indices and
// buffer nodes, cpulist syntax; sorts threads by index and buffers by node.
Plan plan_from_json(const nlohmann::json& json);
// A readable table (several lines, ends with a newline).
std::string to_text(const Plan& plan);

}  // namespace hpplace
