#include "client/messages.hpp"

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "plan/plan.hpp"

namespace hpplace::client {

Workload workload_of(const WorkloadSpec& spec) {
    Workload workload;
    workload.name = spec.name;
    if (spec.threads) {
        workload.threads = *spec.threads;
    } else if (spec.threads_per_cpu) {
        workload.threads_per_cpu = *spec.threads_per_cpu;
    }
    if (!spec.nodes.empty()) {
        workload.nodes = spec.nodes;
    }
    workload.buffer_per_cpu = spec.buffer_per_cpu;
    if (!spec.cgroup.empty()) {
        workload.cgroup = spec.cgroup;
    }
    return workload;
}

std::optional<Assignment> assignment_from_plan(const nlohmann::json& json, std::string_view workload) {
    Plan plan;
    try {
        plan = plan_from_json(json);
    } catch (const PlanError& e) {
        throw std::invalid_argument(std::string("plan: ") + e.what());
    }
    const WorkloadPlan* mine = plan.find_workload(workload);
    if (mine == nullptr) {
        return std::nullopt;
    }
    Assignment assignment;
    assignment.generation = plan.generation;
    assignment.workload = mine->name;
    for (const auto& thread : mine->threads) {
        assignment.threads.push_back({thread.index, thread.cpu, thread.node});
    }
    for (const auto& buffer : mine->buffers) {
        assignment.buffers.push_back({buffer.node, buffer.bytes});
    }
    assignment.cpuset = mine->cpuset.to_list();
    assignment.mems = mine->mems.to_list();
    return assignment;
}

}  // namespace hpplace::client
