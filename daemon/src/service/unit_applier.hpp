#pragma once

// Keeps each unit-named workload's systemd unit in line with the plan:
// AllowedCPUs= = the plan's "cpuset", AllowedMemoryNodes= = its "mems", set at
// run time (SetUnitProperties with runtime = true: systemd writes them into the
// unit's cgroup and keeps them, in /run, until the next boot), through a
// UnitManager (systemd/), on the daemon's loop.
//
// Per unit, one call at a time: a plan that comes while one is out is sent when
// its reply is back, the newest only. A unit is set again when its wanted sets
// change, on a heal (the same plan again after a resync or a reload), when
// systemd reports it started, restarted or loaded (Watcher::unit_changed), and
// when the manager comes within reach (Watcher::available). A failed call (no
// bus, no systemd on it, no such unit, refused) is logged on its first failure
// and when its reason changes, counted, and retried on a backoff (500 ms
// doubling to 30 s, then every 30 s) for as long as the unit has a workload;
// success after failures is logged with the number of retries. Nothing is
// fatal. A unit whose workload goes keeps the properties it was given.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/backoff.hpp"
#include "service/replanner.hpp"
#include "systemd/unit_manager.hpp"

namespace hpplace {

struct UnitTarget {
    std::string workload;  // for log lines
    std::string unit;
    UnitAllowed allowed;
    friend bool operator==(const UnitTarget&, const UnitTarget&) = default;
};

// The workloads' unit targets of a plan (workloads without a unit, or with no
// CPU or node in the plan, are left out: systemd reads an empty AllowedCPUs=
// as "no restriction").
std::vector<UnitTarget> unit_targets(const Plan& plan, const Config& config);

struct UnitApplyLoop {
    boost::asio::any_io_executor executor;  // the daemon's loop: retry timers
    BackoffPolicy retry{.first = std::chrono::milliseconds(500),
                        .max = std::chrono::seconds(30),
                        .budget = std::chrono::minutes(2)};
    std::function<void(const std::string&)> log;
    std::function<void(unsigned errors)> count_errors;  // each failed call
};

class UnitPlanApplier final : public PlanApplier {
public:
    // `manager` outlives the applier.
    UnitPlanApplier(UnitManager& manager, UnitApplyLoop loop);
    ~UnitPlanApplier() override;
    UnitPlanApplier(const UnitPlanApplier&) = delete;
    UnitPlanApplier& operator=(const UnitPlanApplier&) = delete;

    std::string_view name() const noexcept override { return "unit"; }
    // Sends what changed (everything on a heal); returns 0, its errors come through count_errors.
    unsigned apply(const Plan& plan, const std::vector<PlanAction>& actions, const Config& config) override;

    // Calls sent whose reply has not come back.
    std::size_t in_flight() const noexcept;
    // The units a retry is pending for.
    std::vector<std::string> retrying() const;

private:
    struct State;
    std::shared_ptr<State> state_;  // the manager's callbacks and the timers hold it weakly
};

}  // namespace hpplace
