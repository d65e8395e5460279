#pragma once

// libhpplace's conversions between its public types and the control socket's
// (control/): the workload it registers, the assignment it reads from a plan
// document. Pure.

#include <optional>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "hpplace/assignment.hpp"
#include "hpplace/client.hpp"
#include "plan/workload.hpp"

namespace hpplace::client {

// The workload a register request carries (Client's constructor refuses a
// spec with both threads and threads_per_cpu; threads would win here).
Workload workload_of(const WorkloadSpec& spec);
// The workload's part of a plan document; nullopt when the plan does not name it.
// Throws std::invalid_argument when the plan is malformed.
std::optional<Assignment> assignment_from_plan(const nlohmann::json& plan, std::string_view workload);

}  // namespace hpplace::client
