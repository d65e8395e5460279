#include "service/replanner.hpp"

#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "planner/planner.hpp"

namespace hpplace {

struct CgroupPlanApplier::State : std::enable_shared_from_this<State> {
    CgroupApplier applier;
    std::optional<CgroupRetry> retry;
    std::optional<boost::asio::steady_timer> timer;
    std::vector<CgroupTarget> pending;
    std::optional<Backoff> backoff;
    std::uint64_t round = 0;  // a new plan starts a new round: a handler of an older one does nothing
    std::uint64_t retries = 0;
    std::uint64_t give_ups = 0;

    State(CgroupApplier cgroup_applier, std::optional<CgroupRetry> cgroup_retry)
        : applier(std::move(cgroup_applier)), retry(std::move(cgroup_retry)) {
        if (retry) {
            timer.emplace(retry->executor);
        }
    }

    void cancel() {
        ++round;
        pending.clear();
        backoff.reset();
        if (timer) {
            timer->cancel();
        }
    }

    void start(std::vector<CgroupTarget> refused) {
        if (!retry || refused.empty()) {
            return;
        }
        const auto now = Backoff::Clock::now();
        backoff.emplace(retry->backoff, now);
        pending = std::move(refused);
        for (const auto& target : pending) {
            applier.log()("workload " + target.workload + ": retrying its cpuset for up to " +
                          std::to_string(retry->backoff.budget.count()) + " ms");
        }
        arm(backoff->next(now), {});
    }

    void arm(std::optional<Backoff::Clock::time_point> at, const std::vector<std::string>& last_errors) {
        if (!at) {
            for (std::size_t i = 0; i < pending.size(); ++i) {
                applier.log()("workload " + pending[i].workload + ": cpuset still refused after " +
                              std::to_string(backoff->retries()) + " retries (" +
                              std::to_string(backoff->elapsed().count()) + " ms), retried at the next change" +
                              (i < last_errors.size() ? ": " + last_errors[i] : std::string()));
            }
            give_ups += pending.size();
            pending.clear();
            return;
        }
        timer->expires_at(*at);
        timer->async_wait([weak = weak_from_this(), round = round](const boost::system::error_code& error) {
            const auto self = weak.lock();
            if (self && !error && self->round == round) {
                self->attempt();
            }
        });
    }

    // Applies the pending targets again; keeps those still refused, quietly until the end.
    void attempt() {
        ++retries;
        unsigned errors = 0;
        std::vector<CgroupTarget> still;
        std::vector<std::string> last_errors;
        for (const auto& target : pending) {
            std::string last_error;
            const auto result = applier.apply_one(target, [&](const std::string& line) { last_error = line; });
            errors += result.errors;
            if (!result.refused.empty()) {
                still.push_back(target);
                last_errors.push_back(last_error);
            } else if (result.errors == 0) {
                applier.log()("workload " + target.workload + ": cpuset applied after " +
                              std::to_string(backoff->retries()) + " retries (" +
                              std::to_string(backoff->elapsed().count()) + " ms)");
            } else {
                applier.log()(last_error);  // failing otherwise now: left to the next change
            }
        }
        if (errors != 0 && retry->count_errors) {
            retry->count_errors(errors);
        }
        pending = std::move(still);
        if (!pending.empty()) {
            arm(backoff->next(Backoff::Clock::now()), last_errors);
        }
    }
};

CgroupPlanApplier::CgroupPlanApplier(CgroupApplier applier)
    : state_(std::make_shared<State>(std::move(applier), std::nullopt)) {}

CgroupPlanApplier::CgroupPlanApplier(CgroupApplier applier, CgroupRetry retry)
    : state_(std::make_shared<State>(std::move(applier), std::move(retry))) {}

CgroupPlanApplier::~CgroupPlanApplier() { state_->cancel(); }

unsigned CgroupPlanApplier::apply(const Plan& plan, const std::vector<PlanAction>&, const Config& config) {
    state_->cancel();  // this plan replaces what a retry was bringing in
    auto result = state_->applier.apply(cgroup_targets(plan, config));
    state_->start(std::move(result.refused));
    return result.errors;
}

std::vector<std::string> CgroupPlanApplier::retrying() const {
    std::vector<std::string> out;
    for (const auto& target : state_->pending) {
        out.push_back(target.workload);
    }
    return out;
}

std::uint64_t CgroupPlanApplier::retries() const noexcept { return state_->retries; }
std::uint64_t CgroupPlanApplier::give_ups() const noexcept { return state_->give_ups; }

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
