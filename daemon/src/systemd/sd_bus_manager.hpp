#pragma once

// UnitManager over the system bus with sd-bus, driven by the daemon's
// Boost.Asio loop: the connection's fd is waited on for what
// sd_bus_get_events() asks, a timer runs to sd_bus_get_timeout(), and
// sd_bus_process() runs when either fires. Every call is asynchronous
// (sd_bus_call_async); the replies, the signals and the watcher's callbacks
// come back through the loop, so nothing here waits on the bus or on systemd.
//
// It connects when first asked to set a unit's properties (a daemon without a
// unit workload never touches the bus), with sd_bus_open_system():
// $DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket. A bus that is not
// there, or that goes away, is retried for as long as the daemon runs, on a
// backoff (250 ms doubling to 10 s, then every 10 s); the first failure and the connection are
// logged, the attempts between them are not. Meanwhile set_allowed() fails at
// once (the unit applier retries on its own backoff).
//
// Restarts are seen through the manager's own signals, with one match each for
// every unit: after Subscribe(), systemd emits JobRemoved(id, job, unit,
// result) when a job ends, result "done" for a start or restart that worked
// (also the restarts of Restart=), and UnitNew(unit, path) when it loads a
// unit (a unit file installed and daemon-reload, a scope created). The other
// way, a PropertiesChanged match per unit on its object path, would need each
// unit's path first (GetUnit fails for a unit not loaded yet) and a match per
// unit. NameOwnerChanged of org.freedesktop.systemd1 tells that systemd took
// its name (booted, re-executed): Subscribe() again, then everything is set
// again (Watcher::available).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "core/backoff.hpp"
#include "systemd/unit_manager.hpp"

namespace hpplace {

class SdBusManager final : public UnitManager {
public:
    using LogLine = std::function<void(const std::string&)>;

    static constexpr BackoffPolicy default_reconnect{.first = std::chrono::milliseconds(250),
                                                     .max = std::chrono::seconds(10),
                                                     .budget = std::chrono::seconds(60)};

    // reconnect: doubling for its budget, then every `max` (Backoff::next_unbounded).
    SdBusManager(boost::asio::any_io_executor loop, LogLine log, BackoffPolicy reconnect = default_reconnect);
    ~SdBusManager() override;
    SdBusManager(const SdBusManager&) = delete;
    SdBusManager& operator=(const SdBusManager&) = delete;

    void watch(Watcher watcher) override;
    void set_allowed(const std::string& unit, const UnitAllowed& allowed, Done done) override;

    bool connected() const noexcept;

private:
    struct State;
    std::shared_ptr<State> state_;  // the loop's handlers hold it weakly
};

}  // namespace hpplace
