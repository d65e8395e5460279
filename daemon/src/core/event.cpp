#include "core/event.hpp"

#include <array>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/json_text.hpp"

namespace hpplace {

namespace {

constexpr std::array<std::string_view, event_type_count> type_names = {
    "cpu_arrived",       "cpu_add_start", "cpu_online",          "cpu_add_failed",    "cpu_going_offline",
    "cpu_offline",       "cpu_removed",   "mem_going_online",    "mem_online",        "mem_online_canceled",
    "mem_going_offline", "mem_offline",   "mem_offline_canceled", "node_mem_added",   "node_mem_removed",
    "mem_block_added",   "mem_block_removed",
};

// Types the kernel module emits: 1 .. node_mem_removed.
constexpr std::uint32_t last_kernel_type = static_cast<std::uint32_t>(EventType::node_mem_removed);


}  // namespace

std::string_view to_string(EventType type) noexcept {
    const auto index = static_cast<std::size_t>(type) - 1;
    return index < type_names.size() ? type_names[index] : std::string_view{"unknown"};
}

std::string_view to_string(EventSource source) noexcept {
    switch (source) {
        case EventSource::kernel:
            return "kernel";
        case EventSource::udev:
            return "udev";
        case EventSource::sysfs:
            return "sysfs";
    }
    return "unknown";
}

std::optional<EventType> event_type_from_string(std::string_view name) noexcept {
    for (std::size_t i = 0; i < type_names.size(); ++i) {
        if (type_names[i] == name) {
            return static_cast<EventType>(i + 1);
        }
    }
    return std::nullopt;
}

std::optional<EventType> event_type_from_kernel(std::uint32_t value) noexcept {
    if (value < 1 || value > last_kernel_type) {
        return std::nullopt;
    }
    return static_cast<EventType>(value);
}

nlohmann::json to_json(const Event& event) {
    nlohmann::json j = {
        {"seq", event.seq},
        {"type", to_string(event.type)},
        {"source", to_string(event.source)},
        {"time_ns", event.time_ns},
    };
    if (event.cpu) {
        j["cpu"] = *event.cpu;
    }
    if (event.node) {
        j["node"] = *event.node;
    }
    if (event.start) {
        j["start"] = *event.start;
    }
    if (event.size) {
        j["size"] = *event.size;
    }
    if (event.online_cpus) {
        j["online_cpus"] = *event.online_cpus;
    }
    if (event.online_mask) {
        j["online_mask"] = event.online_mask->to_vector();
    }
    return j;
}

void append_json(std::string& out, const Event& event) {
    // The members in the order of to_json()'s std::map, so that the text is
    // what to_json(event).dump() writes; the names need no escaping.
    bool first = true;
    out += '{';
    const auto number = [&](std::string_view key, std::uint64_t value) {
        json_text::key(out, first, key);
        json_text::number(out, value);
    };
    const auto name = [&](std::string_view key, std::string_view value) {
        json_text::key(out, first, key);
        json_text::plain_string(out, value);
    };
    if (event.cpu) {
        number("cpu", *event.cpu);
    }
    if (event.node) {
        number("node", *event.node);
    }
    if (event.online_cpus) {
        number("online_cpus", *event.online_cpus);
    }
    if (event.online_mask) {
        json_text::key(out, first, "online_mask");
        json_text::cpu_array(out, *event.online_mask);
    }
    number("seq", event.seq);
    if (event.size) {
        number("size", *event.size);
    }
    name("source", to_string(event.source));
    if (event.start) {
        number("start", *event.start);
    }
    number("time_ns", event.time_ns);
    name("type", to_string(event.type));
    out += '}';
}

std::string to_text(const Event& event) {
    std::ostringstream out;
    out << '#' << event.seq << ' ' << to_string(event.type) << " [" << to_string(event.source) << ']';
    if (event.cpu) {
        out << " cpu " << *event.cpu;
    }
    if (event.node) {
        out << " node " << *event.node;
    }
    if (event.start) {
        out << " start 0x" << std::hex << *event.start << std::dec;
    }
    if (event.size) {
        out << " size " << (*event.size >> 20) << " MiB";
    }
    if (event.online_cpus) {
        out << " online " << *event.online_cpus;
        if (event.online_mask) {
            out << " (" << event.online_mask->to_list() << ')';
        }
    }
    return out.str();
}

}  // namespace hpplace
