#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/cpu_set.hpp"
#include "hpnotify.h"

namespace hpplace {

// Every hotplug event the product knows, kernel or udev born. The numbering of
// the kernel's types is the uapi's (common/hpnotify.h); the udev-only ones follow.
enum class EventType : std::uint8_t {
    cpu_arrived = 1,
    cpu_add_start,
    cpu_online,
    cpu_add_failed,
    cpu_going_offline,
    cpu_offline,
    cpu_removed,
    mem_going_online,
    mem_online,
    mem_online_canceled,
    mem_going_offline,
    mem_offline,
    mem_offline_canceled,
    node_mem_added,
    node_mem_removed,
    mem_block_added,
    mem_block_removed,
};

// The kernel's types (1 .. HPNOTIFY_EVENT_MAX of the uapi), then the two udev-only ones.
inline constexpr unsigned event_type_count = HPNOTIFY_EVENT_MAX + 2;
static_assert(static_cast<unsigned>(EventType::node_mem_removed) == HPNOTIFY_EVENT_MAX,
              "EventType must list the uapi's event types first, in their order");
static_assert(static_cast<unsigned>(EventType::mem_block_removed) == event_type_count);

enum class EventSource : std::uint8_t { kernel, udev, sysfs };

// The CONTRACT.md names ("cpu_online", "kernel", ...).
std::string_view to_string(EventType type) noexcept;
std::string_view to_string(EventSource source) noexcept;
std::optional<EventType> event_type_from_string(std::string_view name) noexcept;
// Maps a uapi enum hpnotify_event_type value; nullopt when unknown.
std::optional<EventType> event_type_from_kernel(std::uint32_t value) noexcept;

struct Event {
    std::uint64_t seq = 0;
    EventType type = EventType::cpu_online;
    EventSource source = EventSource::kernel;
    std::uint64_t time_ns = 0;  // CLOCK_BOOTTIME
    std::optional<unsigned> cpu;
    std::optional<unsigned> node;
    std::optional<std::uint64_t> start;  // physical address of a memory range
    std::optional<std::uint64_t> size;   // bytes
    std::optional<unsigned> online_cpus;  // active-CPU count after the event
    std::optional<CpuSet> online_mask;    // active-CPU set after the event

    friend bool operator==(const Event&, const Event&) = default;
};

// One JSON object as `hpctl watch --json` prints it (CONTRACT.md).
nlohmann::json to_json(const Event& event);
// One readable line, without a newline.
std::string to_text(const Event& event);

}  // namespace hpplace
