#include "service/unit_applier.hpp"

#include <map>
#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "core/log.hpp"

namespace hpplace {

namespace {

std::string describe(const UnitAllowed& allowed) {
    return "AllowedCPUs=" + allowed.cpus.to_list() + " AllowedMemoryNodes=" + allowed.mems.to_list();
}

}  // namespace

std::vector<UnitTarget> unit_targets(const Plan& plan, const Config& config) {
    std::vector<UnitTarget> targets;
    for (const Workload& workload : config.workloads) {
        if (!workload.unit) {
            continue;
        }
        const WorkloadPlan* planned = plan.find_workload(workload.name);
        if (planned == nullptr || planned->cpuset.empty() || planned->mems.empty()) {
            continue;
        }
        targets.push_back(UnitTarget{.workload = workload.name,
                                     .unit = *workload.unit,
                                     .allowed = {.cpus = planned->cpuset, .mems = planned->mems}});
    }
    return targets;
}

struct UnitPlanApplier::State : std::enable_shared_from_this<State> {
    struct Unit {
        explicit Unit(const boost::asio::any_io_executor& executor) : timer(executor) {}

        std::string workload;
        UnitAllowed want;
        std::optional<UnitAllowed> applied;  // what systemd last accepted
        bool in_flight = false;
        bool again = false;  // send once the reply is back
        std::optional<Backoff> backoff;  // failing since
        std::string last_error;
        boost::asio::steady_timer timer;
        bool retry_pending = false;
    };

    UnitManager& manager;
    UnitApplyLoop loop;
    std::map<std::string, Unit> units;  // by unit name
    std::size_t in_flight = 0;

    State(UnitManager& unit_manager, UnitApplyLoop apply_loop) : manager(unit_manager), loop(std::move(apply_loop)) {}

    void log(const std::string& line) const {
        if (loop.log) {
            loop.log(line);
        }
    }

    void watch() {
        manager.watch(UnitManager::Watcher{
            .available =
                [weak = weak_from_this()] {
                    if (const auto self = weak.lock()) {
                        self->resend_all("systemd's manager is reachable");
                    }
                },
            .unit_changed =
                [weak = weak_from_this()](const std::string& unit) {
                    if (const auto self = weak.lock()) {
                        self->unit_changed(unit);
                    }
                },
        });
    }

    void apply(const std::vector<UnitTarget>& targets, bool heal) {
        std::map<std::string, const UnitTarget*> wanted;
        for (const auto& target : targets) {
            wanted.emplace(target.unit, &target);
        }
        for (auto it = units.begin(); it != units.end();) {
            if (!wanted.contains(it->first)) {
                it->second.timer.cancel();
                it = units.erase(it);  // a reply still out finds nothing
            } else {
                ++it;
            }
        }
        for (const auto& [name, target] : wanted) {
            auto [it, added] = units.try_emplace(name, loop.executor);
            Unit& unit = it->second;
            unit.workload = target->workload;
            const bool changed = unit.want != target->allowed;
            unit.want = target->allowed;
            if (added || changed || heal || !unit.applied) {
                send(name, unit);
            }
        }
    }

    void resend_all(const std::string& why) {
        if (units.empty()) {
            return;
        }
        log(why + ": setting " + std::to_string(units.size()) + " unit(s)");
        for (auto& [name, unit] : units) {
            unit.backoff.reset();  // a fresh start: the next failure is logged again
            unit.last_error.clear();
            send(name, unit);
        }
    }

    void unit_changed(const std::string& name) {
        const auto it = units.find(name);
        if (it == units.end()) {
            return;
        }
        log("workload " + it->second.workload + ": unit " + name + " started or loaded: setting it again");
        send(name, it->second);
    }

    void send(const std::string& name, Unit& unit) {
        if (unit.in_flight) {
            unit.again = true;
            return;
        }
        unit.timer.cancel();
        unit.retry_pending = false;
        unit.in_flight = true;
        ++in_flight;
        const UnitAllowed sent = unit.want;
        manager.set_allowed(name, sent, [weak = weak_from_this(), name, sent](const std::optional<BusError>& error) {
            if (const auto self = weak.lock()) {
                self->done(name, sent, error);
            }
        });
    }

    void done(const std::string& name, const UnitAllowed& sent, const std::optional<BusError>& error) {
        --in_flight;
        const auto it = units.find(name);
        if (it == units.end()) {
            return;  // its workload went
        }
        Unit& unit = it->second;
        unit.in_flight = false;
        const std::string who = "workload " + unit.workload + ": unit " + name + ": ";
        if (!error) {
            unit.applied = sent;
            log(who + describe(sent) +
                (unit.backoff ? " set after " + std::to_string(unit.backoff->retries()) + " retries (" +
                                    std::to_string(unit.backoff->elapsed().count()) + " ms)"
                              : " set"));
            unit.backoff.reset();
            unit.last_error.clear();
            if (std::exchange(unit.again, false)) {
                send(name, unit);  // a newer plan or a restart came meanwhile
            }
            return;
        }
        if (loop.count_errors) {
            loop.count_errors(1);
        }
        const auto now = Backoff::Clock::now();
        if (!unit.backoff) {
            unit.backoff.emplace(loop.retry, now);
        }
        const std::string reason = error->name + ": " + error->message;
        const auto at = unit.backoff->next_unbounded(now);
        if (reason != unit.last_error) {
            log(log::warning(who + "cannot set " + describe(sent) + ": " + reason + " (retried, at most every " +
                             std::to_string(std::max(loop.retry.max, loop.retry.first).count() / 1000) + " s)"));
            unit.last_error = reason;
        }
        if (std::exchange(unit.again, false)) {
            send(name, unit);  // something newer, or a restart, came meanwhile: at once
            return;
        }
        unit.retry_pending = true;
        unit.timer.expires_at(at);
        unit.timer.async_wait([weak = weak_from_this(), name](const boost::system::error_code& e) {
            const auto self = weak.lock();
            if (!self || e) {
                return;
            }
            const auto found = self->units.find(name);
            if (found != self->units.end() && found->second.retry_pending) {
                self->send(name, found->second);
            }
        });
    }
};

UnitPlanApplier::UnitPlanApplier(UnitManager& manager, UnitApplyLoop loop)
    : state_(std::make_shared<State>(manager, std::move(loop))) {
    state_->watch();
}

UnitPlanApplier::~UnitPlanApplier() {
    state_->manager.watch({});
    for (auto& [name, unit] : state_->units) {
        unit.timer.cancel();
    }
}

unsigned UnitPlanApplier::apply(const Plan& plan, const std::vector<PlanAction>& actions, const Config& config) {
    // No actions: the same plan again, to heal.
    state_->apply(unit_targets(plan, config), actions.empty());
    return 0;
}

std::size_t UnitPlanApplier::in_flight() const noexcept { return state_->in_flight; }

std::vector<std::string> UnitPlanApplier::retrying() const {
    std::vector<std::string> out;
    for (const auto& [name, unit] : state_->units) {
        if (unit.retry_pending) {
            out.push_back(name);
        }
    }
    return out;
}

}  // namespace hpplace
