#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/cpu_set.hpp"
#include "hpnotify.h"

namespace hpplace {

// Every hotplug event the product knows, kernel or udev born: the kernel's types
// with the uapi's values (common/hpnotify.h), then the udev-only ones.
enum class EventType : std::uint8_t {
    cpu_arrived = HPNOTIFY_EVENT_CPU_ARRIVED,
    cpu_add_start = HPNOTIFY_EVENT_CPU_ADD_START,
    cpu_online = HPNOTIFY_EVENT_CPU_ONLINE,
    cpu_add_failed = HPNOTIFY_EVENT_CPU_ADD_FAILED,
    cpu_going_offline = HPNOTIFY_EVENT_CPU_GOING_OFFLINE,
    cpu_offline = HPNOTIFY_EVENT_CPU_OFFLINE,
    cpu_removed = HPNOTIFY_EVENT_CPU_REMOVED,
    mem_going_online = HPNOTIFY_EVENT_MEM_GOING_ONLINE,
    mem_online = HPNOTIFY_EVENT_MEM_ONLINE,
    mem_online_canceled = HPNOTIFY_EVENT_MEM_ONLINE_CANCELED,
    mem_going_offline = HPNOTIFY_EVENT_MEM_GOING_OFFLINE,
    mem_offline = HPNOTIFY_EVENT_MEM_OFFLINE,
    mem_offline_canceled = HPNOTIFY_EVENT_MEM_OFFLINE_CANCELED,
    node_mem_added = HPNOTIFY_EVENT_NODE_MEM_ADDED,
    node_mem_removed = HPNOTIFY_EVENT_NODE_MEM_REMOVED,
    mem_block_added,
    mem_block_removed,
};

// The kernel's types (1 .. HPNOTIFY_EVENT_MAX of the uapi), then the two udev-only ones.
inline constexpr unsigned event_type_count = HPNOTIFY_EVENT_MAX + 2;
static_assert(static_cast<unsigned>(EventType::node_mem_removed) == HPNOTIFY_EVENT_MAX,
              "a uapi event type is missing from EventType");
static_assert(static_cast<unsigned>(EventType::mem_block_removed) == event_type_count);

enum class EventSource : std::uint8_t { kernel, udev, sysfs };

// The names of docs/contract.md ("cpu_online", "kernel", ...).
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

// One JSON object as `hpctl watch --json` prints it (docs/contract.md).
nlohmann::json to_json(const Event& event);
// The same object as text, exactly as to_json(event).dump() writes it, appended
// to `out` without building the document (an event push per event, per
// subscriber stream, is the daemon's commonest line).
void append_json(std::string& out, const Event& event);

// One readable line, without a newline.
std::string to_text(const Event& event);

}  // namespace hpplace
