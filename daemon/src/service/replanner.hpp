#pragma once

// The re-planning step of the daemon: plan = planner(topology, config,
// previous plan), the difference as actions, and the appliers that make the
// machine follow (cgroup cpusets today). Holds the current plan and config.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/backoff.hpp"
#include "config/config.hpp"
#include "plan/plan.hpp"
#include "plan/plan_diff.hpp"
#include "service/cgroup_applier.hpp"
#include "topology/topology.hpp"

namespace hpplace {

// Something that makes the machine follow the plan.
class PlanApplier {
public:
    virtual ~PlanApplier() = default;
    virtual std::string_view name() const noexcept = 0;
    // A new plan with the actions from the previous one; also called with the
    // same plan and no actions to heal drift (after a resync or a reload).
    // Returns the number of errors found at once (logged by the applier, never
    // fatal); an applier that works off the loop reports its later ones itself.
    virtual unsigned apply(const Plan& plan, const std::vector<PlanAction>& actions, const Config& config) = 0;
};

// The cgroup applier's side on the daemon's event loop: where its results come
// back and its retries are timed.
struct CgroupApplyLoop {
    boost::asio::any_io_executor executor;  // the daemon's loop: completions and timers, never a sleep
    BackoffPolicy backoff{};                // 5 ms doubling to 500 ms, for 3 s
    // The failed reads/writes, as the results come back (a plan's and its retries').
    std::function<void(unsigned errors)> count_errors;
    // A plan's writes are all done: the time since apply() (queueing included).
    // Not called for a plan a newer one overtook before all its writes started.
    std::function<void(std::chrono::nanoseconds took)> applied;
};

// Keeps each workload's cgroup cpuset.cpus/cpuset.mems equal to its plan, off
// the loop: the reads and writes of each cgroup are a job of its own thread
// (BlockingWorker, keyed by the cgroup), since a cpuset write waits for the CPU
// hotplug lock. Per cgroup they run in plan order, and a newer plan replaces
// the pending, not yet started job. Logs, error counts and retries follow on
// the loop as the results come back. Targets with a write the kernel refused
// for now (CgroupApplyResult::refused) are applied again on a backoff timer
// until they take or the budget is spent (logged once each way); a newer plan
// (or heal) replaces a pending retry.
class CgroupPlanApplier final : public PlanApplier {
public:
    CgroupPlanApplier(CgroupApplier applier, CgroupApplyLoop loop);
    ~CgroupPlanApplier() override;
    CgroupPlanApplier(const CgroupPlanApplier&) = delete;
    CgroupPlanApplier& operator=(const CgroupPlanApplier&) = delete;

    std::string_view name() const noexcept override { return "cgroup"; }
    // Hands the plan's targets to the worker; returns 0 (its errors come through count_errors).
    unsigned apply(const Plan& plan, const std::vector<PlanAction>& actions, const Config& config) override;

    // Cgroup jobs (a plan's or a retry's) whose result has not come back yet.
    std::size_t in_flight() const noexcept;
    // The workloads a retry is pending for.
    std::vector<std::string> retrying() const;
    std::uint64_t retries() const noexcept;   // retry rounds run
    std::uint64_t give_ups() const noexcept;  // targets given up on (until the next plan)

private:
    struct State;
    std::shared_ptr<State> state_;  // shared with the timer's handler, which holds it weakly
};

// The workloads' cgroup targets of a plan (workloads without a cgroup are left out).
std::vector<CgroupTarget> cgroup_targets(const Plan& plan, const Config& config);

// previous.generation == 0 means "no previous plan".
using PlanFunction = std::function<Plan(const Topology&, const Config&, const Plan& previous)>;
PlanFunction default_plan_function();

struct ReplanOutcome {
    bool new_generation = false;
    std::vector<PlanAction> actions;
    unsigned apply_errors = 0;
    bool applied = false;                  // the appliers ran
    std::chrono::nanoseconds plan_time{};  // the plan function and the diff
    std::chrono::nanoseconds apply_time{}; // all appliers together (when applied)
};

class Replanner {
public:
    explicit Replanner(Config config, PlanFunction plan = default_plan_function());

    void add_applier(std::unique_ptr<PlanApplier> applier);
    // Plans for the topology; applies when the placement changed or `heal`.
    // A throwing planner leaves the current plan in force and rethrows.
    ReplanOutcome replan(const Topology& topology, bool heal = false);

    const Plan& plan() const noexcept { return plan_; }
    const Config& config() const noexcept { return config_; }
    // The next replan plans for the new workloads (from the current plan).
    void set_config(Config config) { config_ = std::move(config); }
    std::uint64_t replans() const noexcept { return replans_; }

private:
    Config config_;
    PlanFunction plan_function_;
    Plan plan_;
    std::vector<std::unique_ptr<PlanApplier>> appliers_;
    std::uint64_t replans_ = 0;
};

}  // namespace hpplace
