// The unit applier against a fake UnitManager: what it sends, when it sends
// again (a new plan, a heal, a restart, the manager coming back), one call per
// unit at a time, retries on failure; and the bitmask systemd takes.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "service/unit_applier.hpp"
#include "systemd/unit_manager.hpp"

using namespace hpplace;
using namespace std::chrono_literals;

namespace {

// Keeps each call's Done for the test to answer.
struct FakeManager final : UnitManager {
    struct Call {
        std::string unit;
        UnitAllowed allowed;
        Done done;
    };
    Watcher watcher;
    std::vector<Call> calls;
    std::size_t answered = 0;

    void watch(Watcher w) override { watcher = std::move(w); }
    void set_allowed(const std::string& unit, const UnitAllowed& allowed, Done done) override {
        calls.push_back({unit, allowed, std::move(done)});
    }
    void answer(std::optional<BusError> error = std::nullopt) {
        REQUIRE(answered < calls.size());
        calls[answered++].done(error);
    }
};

Config unit_config(const std::string& unit = "web.service") {
    Config config;
    Workload workload;
    workload.name = "web";
    workload.unit = unit;
    Workload other;
    other.name = "batch";  // no unit: left alone
    config.workloads = {workload, other};
    return config;
}

Plan plan_with(const std::string& cpus, const std::string& mems = "0") {
    Plan plan;
    plan.generation = 1;
    for (const char* name : {"web", "batch"}) {
        WorkloadPlan workload;
        workload.name = name;
        workload.cpuset = CpuSet::parse_list(cpus);
        workload.mems = CpuSet::parse_list(mems);
        plan.workloads.push_back(workload);
    }
    return plan;
}

const std::vector<PlanAction> some_actions(1);  // a new plan (none: a heal)

struct Fixture {
    boost::asio::io_context io;
    FakeManager manager;
    std::vector<std::string> lines;
    unsigned errors = 0;
    UnitPlanApplier applier{manager, UnitApplyLoop{.executor = io.get_executor(),
                                                   .retry = {.first = 5ms, .max = 20ms, .budget = 50ms},
                                                   .log = [this](const std::string& l) { lines.push_back(l); },
                                                   .count_errors = [this](unsigned n) { errors += n; }}};

    bool logged(const std::string& part) const {
        for (const auto& line : lines) {
            if (line.find(part) != std::string::npos) {
                return true;
            }
        }
        return false;
    }
};

}  // namespace

TEST_CASE("unit mask: bit i % 8 of byte i / 8, no trailing zero bytes") {
    CHECK(to_dbus_mask(CpuSet{}).empty());
    CHECK(to_dbus_mask(CpuSet::parse_list("0-1,9")) == std::vector<std::uint8_t>{0x03, 0x02});
    CHECK(to_dbus_mask(CpuSet::parse_list("7,8,63")) ==
          std::vector<std::uint8_t>{0x80, 0x01, 0, 0, 0, 0, 0, 0x80});
    CHECK(from_dbus_mask({0x03, 0x02}) == CpuSet::parse_list("0-1,9"));
    CHECK(from_dbus_mask(to_dbus_mask(CpuSet::parse_list("0-3,100-130"))) == CpuSet::parse_list("0-3,100-130"));
}

TEST_CASE("unit targets: workloads with a unit and a cpuset, their plan's cpuset and mems") {
    const auto targets = unit_targets(plan_with("0-2", "0-1"), unit_config());
    REQUIRE(targets.size() == 1);
    CHECK(targets[0].workload == "web");
    CHECK(targets[0].unit == "web.service");
    CHECK(targets[0].allowed.cpus == CpuSet::parse_list("0-2"));
    CHECK(targets[0].allowed.mems == CpuSet::parse_list("0-1"));
    CHECK(unit_targets(plan_with(""), unit_config()).empty());  // no CPU: systemd would read "no restriction"
}

TEST_CASE("unit applier: sets the plan's sets, again only for a change, a heal, a restart or the manager back") {
    Fixture f;
    f.applier.apply(plan_with("0-2", "0-1"), some_actions, unit_config());
    REQUIRE(f.manager.calls.size() == 1);
    CHECK(f.manager.calls[0].unit == "web.service");
    CHECK(f.manager.calls[0].allowed == UnitAllowed{CpuSet::parse_list("0-2"), CpuSet::parse_list("0-1")});
    CHECK(f.applier.in_flight() == 1);
    f.manager.answer();
    CHECK(f.applier.in_flight() == 0);
    CHECK(f.logged("workload web: unit web.service: AllowedCPUs=0-2 AllowedMemoryNodes=0-1 set"));

    f.applier.apply(plan_with("0-2", "0-1"), some_actions, unit_config());  // another workload's change
    CHECK(f.manager.calls.size() == 1);
    f.applier.apply(plan_with("0-2", "0-1"), {}, unit_config());  // heal
    REQUIRE(f.manager.calls.size() == 2);
    f.manager.answer();
    f.applier.apply(plan_with("0-3", "0-1"), some_actions, unit_config());  // a CPU came
    REQUIRE(f.manager.calls.size() == 3);
    CHECK(f.manager.calls[2].allowed.cpus == CpuSet::parse_list("0-3"));
    f.manager.answer();

    f.manager.watcher.unit_changed("other.service");
    CHECK(f.manager.calls.size() == 3);
    f.manager.watcher.unit_changed("web.service");
    REQUIRE(f.manager.calls.size() == 4);
    CHECK(f.manager.calls[3].allowed.cpus == CpuSet::parse_list("0-3"));
    CHECK(f.logged("unit web.service started or loaded"));
    f.manager.answer();
    f.manager.watcher.available();
    REQUIRE(f.manager.calls.size() == 5);
    f.manager.answer();
    CHECK(f.errors == 0);
}

TEST_CASE("unit applier: one call per unit at a time; what came meanwhile is sent after, the newest only") {
    Fixture f;
    f.applier.apply(plan_with("0"), some_actions, unit_config());
    f.applier.apply(plan_with("0-1"), some_actions, unit_config());
    f.applier.apply(plan_with("0-2"), some_actions, unit_config());
    REQUIRE(f.manager.calls.size() == 1);
    f.manager.answer();
    REQUIRE(f.manager.calls.size() == 2);
    CHECK(f.manager.calls[1].allowed.cpus == CpuSet::parse_list("0-2"));
    // A restart while a call is out: sent once more when it is back.
    f.manager.watcher.unit_changed("web.service");
    CHECK(f.manager.calls.size() == 2);
    f.manager.answer();
    CHECK(f.manager.calls.size() == 3);
    f.manager.answer();
    CHECK(f.manager.calls.size() == 3);
}

TEST_CASE("unit applier: a failure is logged once, counted each time and retried until it works") {
    Fixture f;
    f.applier.apply(plan_with("0-1"), some_actions, unit_config());
    const BusError no_unit{"org.freedesktop.systemd1.NoSuchUnit", "Unit web.service not found."};
    for (int i = 0; i < 5; ++i) {  // past the backoff's budget: retried every `max` from there on
        REQUIRE(f.manager.calls.size() == static_cast<std::size_t>(i + 1));
        f.manager.answer(no_unit);
        CHECK(f.applier.retrying() == std::vector<std::string>{"web.service"});
        f.io.run_one_for(1s);  // the retry timer
        f.io.restart();
    }
    CHECK(f.errors == 5);
    std::size_t failures_logged = 0;
    for (const auto& line : f.lines) {
        failures_logged += line.find("NoSuchUnit") != std::string::npos ? 1 : 0;
    }
    CHECK(failures_logged == 1);
    REQUIRE(f.manager.calls.size() == 6);
    f.manager.answer();
    CHECK(f.applier.retrying().empty());
    CHECK(f.logged("AllowedCPUs=0-1 AllowedMemoryNodes=0 set after 5 retries"));
    // Another reason is logged again.
    f.applier.apply(plan_with("0"), some_actions, unit_config());
    f.manager.answer(BusError{"hpplace.NoSystemBus", "cannot connect to the system bus: No such file or directory"});
    CHECK(f.logged("cannot set AllowedCPUs=0 AllowedMemoryNodes=0: hpplace.NoSystemBus"));
}

TEST_CASE("unit applier: a new plan during the backoff is sent at once; a unit whose workload went is dropped") {
    Fixture f;
    f.applier.apply(plan_with("0-1"), some_actions, unit_config());
    f.manager.answer(BusError{"org.freedesktop.DBus.Error.ServiceUnknown", "not there"});
    REQUIRE(f.applier.retrying().size() == 1);
    f.applier.apply(plan_with("0-2"), some_actions, unit_config());
    REQUIRE(f.manager.calls.size() == 2);
    CHECK(f.manager.calls[1].allowed.cpus == CpuSet::parse_list("0-2"));
    CHECK(f.applier.retrying().empty());
    f.manager.answer(BusError{"org.freedesktop.DBus.Error.ServiceUnknown", "not there"});
    Config without = unit_config();
    without.workloads[0].unit.reset();
    f.applier.apply(plan_with("0-2"), some_actions, without);
    CHECK(f.applier.retrying().empty());
    f.io.run_for(50ms);
    CHECK(f.manager.calls.size() == 2);  // no retry for a unit no workload names
    f.manager.watcher.unit_changed("web.service");
    CHECK(f.manager.calls.size() == 2);
}
