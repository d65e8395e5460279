#include "service/replanner.hpp"

#include "planner/planner.hpp"

namespace hpplace {

std::vector<CgroupTarget> cgroup_targets(const Plan& plan, const Config& config) {
    std::vector<CgroupTarget> targets;
    for (const Workload& workload : config.workloads) {
        if (!workload.cgroup) {
            continue;
        }
        const WorkloadPlan* planned = plan.find_workload(workload.name);
        if (planned == nullptr || planned->cpuset.empty() || planned->mems.empty()) {
            // An empty cpuset would make the kernel refuse the cgroup's tasks a
            // CPU: leave the cgroup as it is until the workload has CPUs again.
            continue;
        }
        targets.push_back(CgroupTarget{
            .workload = workload.name,
            .cgroup = *workload.cgroup,
            .cpus = planned->cpuset,
            .mems = planned->mems,
        });
    }
    return targets;
}

unsigned CgroupPlanApplier::apply(const Plan& plan, const std::vector<PlanAction>&, const Config& config) {
    return applier_.apply(cgroup_targets(plan, config)).errors;
}

PlanFunction default_plan_function() {
    return [](const Topology& topology, const Config& config, const Plan& previous) {
        return previous.generation == 0 ? make_plan(topology, config) : make_plan(topology, config, previous);
    };
}

Replanner::Replanner(Config config, PlanFunction plan)
    : config_(std::move(config)), plan_function_(std::move(plan)) {}

void Replanner::add_applier(std::unique_ptr<PlanApplier> applier) {
    appliers_.push_back(std::move(applier));
}

ReplanOutcome Replanner::replan(const Topology& topology, bool heal) {
    using Clock = std::chrono::steady_clock;
    ++replans_;
    const auto planning = Clock::now();
    Plan next = plan_function_(topology, config_, plan_);
    ReplanOutcome outcome;
    outcome.new_generation = next.generation != plan_.generation || !next.same_placement(plan_);
    if (outcome.new_generation) {
        outcome.actions = diff_plans(plan_, next);
    }
    plan_ = std::move(next);
    const auto applying = Clock::now();
    outcome.plan_time = applying - planning;
    if (outcome.new_generation || heal) {
        for (const auto& applier : appliers_) {
            outcome.apply_errors += applier->apply(plan_, outcome.actions, config_);
        }
        outcome.applied = true;
        outcome.apply_time = Clock::now() - applying;
    }
    return outcome;
}

}  // namespace hpplace
