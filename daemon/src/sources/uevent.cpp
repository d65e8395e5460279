#include "sources/uevent.hpp"

namespace hpplace {

bool uevent_wanted(std::string_view subsystem, std::string_view action, bool memory_blocks_only) noexcept {
    return !memory_blocks_only || (subsystem == "memory" && (action == "add" || action == "remove"));
}

std::optional<Event> event_from_uevent(const Uevent& uevent, std::uint64_t memory_block_size, std::uint64_t time_ns) {
    Event event;
    event.seq = uevent.seqnum;
    event.source = EventSource::udev;
    event.time_ns = time_ns;
    event.node = uevent.node;
    if (uevent.subsystem == "cpu") {
        const auto cpu = sysname_number(uevent.sysname, "cpu");
        if (!cpu) {
            return std::nullopt;
        }
        event.cpu = *cpu;
        if (uevent.action == "add") {
            event.type = EventType::cpu_arrived;
        } else if (uevent.action == "online") {
            event.type = EventType::cpu_online;
        } else if (uevent.action == "offline") {
            event.type = EventType::cpu_offline;
        } else if (uevent.action == "remove") {
            event.type = EventType::cpu_removed;
        } else {
            return std::nullopt;
        }
        return event;
    }
    if (uevent.subsystem == "memory") {
        const auto block = sysname_number(uevent.sysname, "memory");
        if (!block || memory_block_size == 0) {
            return std::nullopt;
        }
        event.start = std::uint64_t{*block} * memory_block_size;
        event.size = memory_block_size;
        if (uevent.action == "add") {
            event.type = EventType::mem_block_added;
        } else if (uevent.action == "remove") {
            event.type = EventType::mem_block_removed;
        } else if (uevent.action == "online") {
            event.type = EventType::mem_online;
        } else if (uevent.action == "offline") {
            event.type = EventType::mem_offline;
        } else {
            return std::nullopt;
        }
        return event;
    }
    return std::nullopt;
}

}  // namespace hpplace
