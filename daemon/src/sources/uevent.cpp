#include "sources/uevent.hpp"

#include <charconv>
#include <stdexcept>

namespace hpplace {

std::optional<unsigned> sysname_number(std::string_view sysname, std::string_view prefix) noexcept {
    if (!sysname.starts_with(prefix) || sysname.size() == prefix.size()) {
        return std::nullopt;
    }
    const std::string_view digits = sysname.substr(prefix.size());
    unsigned value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc{} || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return value;
}

std::uint64_t parse_memory_block_size(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.remove_suffix(1);
    }
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value == 0) {
        throw std::invalid_argument("bad memory block size '" + std::string(text) + "' (expected hex bytes)");
    }
    return value;
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
