#include "service/replanner.hpp"

#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "core/log.hpp"
#include "planner/planner.hpp"
#include "service/blocking_worker.hpp"

namespace hpplace {

// A plan's jobs, or a retry's: what the loop knows of them until the last result is back.
struct CgroupRound {
    CgroupRound(std::uint64_t plan_epoch, bool is_retry)
        : epoch(plan_epoch), retry(is_retry), started(Backoff::Clock::now()) {}

    std::uint64_t epoch;  // the plan it belongs to
    bool retry;
    Backoff::Clock::time_point started;
    unsigned outstanding = 0;  // jobs whose result has not come back
    bool overtaken = false;    // a job of it gave way to a newer plan's
    std::vector<CgroupTarget> refused;
    std::vector<std::string> last_errors;  // of the refused, in their order
};

struct CgroupPlanApplier::State : std::enable_shared_from_this<State> {
    CgroupApplier applier;  // read by the worker's jobs, never changed
    CgroupApplyLoop loop;
    boost::asio::steady_timer timer;
    std::vector<CgroupTarget> pending;  // refused for now: waiting for the timer, or retried now
    std::optional<Backoff> backoff;
    std::uint64_t epoch = 0;  // a new plan starts a new epoch: an older one's results start no retry
    std::uint64_t retries = 0;
    std::uint64_t give_ups = 0;
    BlockingWorker worker;  // last: joins before the rest goes

    State(CgroupApplier cgroup_applier, CgroupApplyLoop apply_loop)
        : applier(std::move(cgroup_applier))
        , loop(std::move(apply_loop))
        , timer(loop.executor)
        , worker(loop.executor) {}

    void cancel() {
        ++epoch;
        pending.clear();
        backoff.reset();
        timer.cancel();
    }

    void submit(const std::shared_ptr<CgroupRound>& round, const std::vector<CgroupTarget>& targets) {
        round->outstanding = static_cast<unsigned>(targets.size());
        for (const auto& target : targets) {
            // Runs on the worker: the lines come back with the result, in order.
            auto work = [this, round, target]() -> BlockingWorker::Completion {
                std::vector<std::string> lines;
                auto result = applier.apply_one(target, [&lines](const std::string& line) { lines.push_back(line); });
                return [this, round, target, result = std::move(result), lines = std::move(lines)] {
                    done(*round, target, result, lines);
                };
            };
            worker.submit(applier.resolve(target.cgroup).string(), std::move(work), [this, round] {
                round->overtaken = true;
                settle(*round);
            });
        }
        if (targets.empty()) {
            finish(*round);
        }
    }

    void settle(CgroupRound& round) {
        if (--round.outstanding == 0) {
            finish(round);
        }
    }

    void done(CgroupRound& round, const CgroupTarget& target, const CgroupApplyResult& result,
              const std::vector<std::string>& lines) {
        const bool current = round.epoch == epoch;
        const std::string last_error = lines.empty() ? std::string() : lines.back();
        if (!round.retry) {
            for (const auto& line : lines) {
                applier.log()(line);
            }
        } else if (current && result.refused.empty()) {
            // A retry is quiet until it ends.
            if (result.errors == 0) {
                applier.log()(log::notice("workload " + target.workload + ": cpuset applied after " +
                                          std::to_string(backoff->retries()) + " retries (" +
                                          std::to_string(backoff->elapsed().count()) + " ms)"));
            } else {
                applier.log()(last_error);  // failing otherwise now: left to the next change
            }
        }
        if (result.errors != 0 && loop.count_errors) {
            loop.count_errors(result.errors);
        }
        if (!result.refused.empty()) {
            round.refused.push_back(target);
            round.last_errors.push_back(last_error);
        }
        settle(round);
    }

    void finish(CgroupRound& round) {
        const auto now = Backoff::Clock::now();
        if (!round.retry && !round.overtaken && loop.applied) {
            loop.applied(now - round.started);
        }
        if (round.epoch != epoch) {
            return;  // a newer plan took over
        }
        if (!round.retry) {
            start(std::move(round.refused), now);
            return;
        }
        pending = std::move(round.refused);
        if (!pending.empty()) {
            arm(backoff->next(now), round.last_errors);
        }
    }

    void start(std::vector<CgroupTarget> refused, Backoff::Clock::time_point now) {
        if (refused.empty()) {
            return;
        }
        backoff.emplace(loop.backoff, now);
        pending = std::move(refused);
        for (const auto& target : pending) {
            applier.log()(log::notice("workload " + target.workload + ": retrying its cpuset for up to " +
                                      std::to_string(loop.backoff.budget.count()) + " ms"));
        }
        arm(backoff->next(now), {});
    }

    void arm(std::optional<Backoff::Clock::time_point> at, const std::vector<std::string>& last_errors) {
        if (!at) {
            for (std::size_t i = 0; i < pending.size(); ++i) {
                applier.log()(log::warning("workload " + pending[i].workload + ": cpuset still refused after " +
                                           std::to_string(backoff->retries()) + " retries (" +
                                           std::to_string(backoff->elapsed().count()) +
                                           " ms), retried at the next change" +
                                           (i < last_errors.size() ? ": " + std::string(log::parse(last_errors[i]).text)
                                                                   : std::string())));
            }
            give_ups += pending.size();
            pending.clear();
            return;
        }
        timer.expires_at(*at);
        timer.async_wait([weak = weak_from_this(), epoch = epoch](const boost::system::error_code& error) {
            const auto self = weak.lock();
            if (self && !error && self->epoch == epoch) {
                self->attempt();
            }
        });
    }

    // Applies the pending targets again; those still refused come back in the round's finish().
    void attempt() {
        ++retries;
        auto round = std::make_shared<CgroupRound>(epoch, true);
        submit(round, pending);
    }
};

CgroupPlanApplier::CgroupPlanApplier(CgroupApplier applier, CgroupApplyLoop loop)
    : state_(std::make_shared<State>(std::move(applier), std::move(loop))) {}

CgroupPlanApplier::~CgroupPlanApplier() { state_->cancel(); }

unsigned CgroupPlanApplier::apply(const Plan& plan, const std::vector<PlanAction>&, const Config& config) {
    state_->cancel();  // this plan replaces what a retry was bringing in
    auto round = std::make_shared<CgroupRound>(state_->epoch, false);
    state_->submit(round, cgroup_targets(plan, config));
    return 0;
}

std::size_t CgroupPlanApplier::in_flight() const noexcept { return state_->worker.in_flight(); }

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
