#pragma once

// The difference between two plans as the actions that turn one into the other,
// in the order an applier should take them: stop threads, shrink buffers (free
// memory first), set cpusets and mems, move threads, grow buffers, start threads.
// Within each kind: workload order of the new plan (workloads gone: of the old
// one), then thread index or node. The daemon's appliers and libhpplace consume it.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "plan/plan.hpp"

namespace hpplace {

struct StopThread {
    std::string workload;
    PlannedThread thread;  // where it ran
    friend bool operator==(const StopThread&, const StopThread&) = default;
};

struct ResizeBuffer {  // grows when to_bytes > from_bytes; 0 = absent
    std::string workload;
    unsigned node = 0;
    std::uint64_t from_bytes = 0;
    std::uint64_t to_bytes = 0;
    bool grows() const noexcept { return to_bytes > from_bytes; }
    friend bool operator==(const ResizeBuffer&, const ResizeBuffer&) = default;
};

struct SetCpuset {  // from is empty for a new workload
    std::string workload;
    CpuSet from;
    CpuSet to;
    friend bool operator==(const SetCpuset&, const SetCpuset&) = default;
};

struct SetMems {  // node ids; from is empty for a new workload
    std::string workload;
    CpuSet from;
    CpuSet to;
    friend bool operator==(const SetMems&, const SetMems&) = default;
};

struct MoveThread {
    std::string workload;
    PlannedThread from;
    PlannedThread to;  // same index
    friend bool operator==(const MoveThread&, const MoveThread&) = default;
};

struct StartThread {
    std::string workload;
    PlannedThread thread;
    friend bool operator==(const StartThread&, const StartThread&) = default;
};

using PlanAction = std::variant<StopThread, ResizeBuffer, SetCpuset, SetMems, MoveThread, StartThread>;

std::vector<PlanAction> diff_plans(const Plan& from, const Plan& to);

// {"action": "stop_thread" | "shrink_buffer" | "set_cpuset" | "set_mems" | "move_thread" |
//  "grow_buffer" | "start_thread", "workload", ...}
nlohmann::json to_json(const PlanAction& action);
// One readable line.
std::string to_text(const PlanAction& action);

}  // namespace hpplace
