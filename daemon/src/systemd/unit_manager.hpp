#pragma once

// systemd's manager as the unit applier (service/unit_applier.hpp) sees it:
// one call that sets a unit's AllowedCPUs= and AllowedMemoryNodes=, and the
// news that a unit needs them again (it was started, restarted or loaded) or
// that every unit does (the manager came within reach). SdBusManager is the
// real one; the unit tests have a fake.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/cpu_set.hpp"

namespace hpplace {

// What a unit is allowed: CPUs and NUMA node ids.
struct UnitAllowed {
    CpuSet cpus;
    CpuSet mems;
    friend bool operator==(const UnitAllowed&, const UnitAllowed&) = default;
};

// A failed call: the D-Bus error name ("org.freedesktop.systemd1.NoSuchUnit",
// or one of ours for a bus that is not there) and its message.
struct BusError {
    std::string name;
    std::string message;
};

// The bytes systemd's AllowedCPUs= and AllowedMemoryNodes= take over D-Bus
// ("ay"): bit i % 8 of byte i / 8 is CPU (node) i; no trailing zero bytes.
std::vector<std::uint8_t> to_dbus_mask(const CpuSet& set);
// The reverse (for the test peer and log lines).
CpuSet from_dbus_mask(const std::vector<std::uint8_t>& bytes);

class UnitManager {
public:
    struct Watcher {
        // The manager can be reached (again): the bus connected, or systemd
        // took its name on the bus. Everything is to be set again.
        std::function<void()> available;
        // A job of the unit ended well (started, restarted) or the manager
        // loaded it: its properties are to be set again.
        std::function<void(const std::string& unit)> unit_changed;
    };
    // Called on the loop, never from inside set_allowed(); nullopt on success.
    using Done = std::function<void(const std::optional<BusError>& error)>;

    virtual ~UnitManager() = default;
    virtual void watch(Watcher watcher) = 0;
    // SetUnitProperties(unit, runtime = true, [AllowedCPUs, AllowedMemoryNodes]).
    virtual void set_allowed(const std::string& unit, const UnitAllowed& allowed, Done done) = 0;
};

}  // namespace hpplace
