#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.hpp"
#include "core/sysfs_text.hpp"  // sysname_number, parse_memory_block_size

namespace hpplace {

// The parts of a kernel uevent (as libudev hands it over) that matter for
// CPU and memory hotplug. A plain value so the translation is testable.
struct Uevent {
    std::string action;     // "add", "remove", "online", "offline", "change"
    std::string subsystem;  // "cpu", "memory"
    std::string sysname;    // "cpu2", "memory42"
    std::uint64_t seqnum = 0;
    std::optional<unsigned> node;  // from the device's nodeN link, when known
};

// Whether a uevent with this subsystem and action is worth translating: all
// are, unless memory_blocks_only (memory add/remove alone,
// the only ones the tracker takes from udev while the kernel source runs).
bool uevent_wanted(std::string_view subsystem, std::string_view action, bool memory_blocks_only) noexcept;

// Translates one uevent into the product's event (source "udev"):
//   cpu add -> cpu_arrived, cpu online -> cpu_online, cpu offline -> cpu_offline,
//   cpu remove -> cpu_removed, memory add/remove -> mem_block_added/removed,
//   memory online/offline -> mem_online/mem_offline with start = id x block size
//   and size = block size. nullopt for anything else (other actions, other
//   devices such as "cpufreq" or "memory_tier0").
std::optional<Event> event_from_uevent(const Uevent& uevent, std::uint64_t memory_block_size,
                                       std::uint64_t time_ns = 0);

}  // namespace hpplace
