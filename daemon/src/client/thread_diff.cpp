#include "client/thread_diff.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

#include "plan/plan_diff.hpp"

namespace hpplace::client {

namespace {

// A one-workload plan holding these threads, sorted by index as plans are.
Plan plan_of(const std::vector<AssignedThread>& threads) {
    WorkloadPlan workload{.name = "w", .threads = {}, .buffers = {}, .cpuset = {}, .mems = {}};
    for (const auto& thread : threads) {
        workload.threads.push_back({thread.index, thread.cpu, thread.node});
    }
    std::sort(workload.threads.begin(), workload.threads.end(),
              [](const PlannedThread& a, const PlannedThread& b) { return a.index < b.index; });
    return Plan{.generation = 1, .workloads = {std::move(workload)}};
}

AssignedThread assigned(const PlannedThread& thread) { return {thread.index, thread.cpu, thread.node}; }

}  // namespace

// The planner's diff (plan/plan_diff.hpp) restricted to one workload's threads.
ThreadActions diff_threads(const std::vector<AssignedThread>& running, const std::vector<AssignedThread>& planned) {
    std::set<unsigned> seen;
    for (const auto& thread : planned) {
        if (!seen.insert(thread.index).second) {
            throw std::invalid_argument("assignment names thread " + std::to_string(thread.index) + " twice");
        }
    }
    ThreadActions actions;
    for (const auto& action : diff_plans(plan_of(running), plan_of(planned))) {
        if (const auto* stop = std::get_if<StopThread>(&action)) {
            actions.stop.push_back(assigned(stop->thread));
        } else if (const auto* move = std::get_if<MoveThread>(&action)) {
            actions.move.push_back(assigned(move->to));
        } else if (const auto* start = std::get_if<StartThread>(&action)) {
            actions.start.push_back(assigned(start->thread));
        }
    }
    return actions;
}

}  // namespace hpplace::client
