#include "control/documents.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json_integer.hpp"
#include "core/quoted.hpp"
#include "core/size.hpp"

namespace hpplace::control {

namespace {

[[noreturn]] void bad(std::string_view where, std::string_view what) {
    throw std::invalid_argument(std::string(where) + ": " + std::string(what));
}

const nlohmann::json& field(const nlohmann::json& object, const char* key, std::string_view where) {
    if (!object.is_object()) {
        bad(where, "not an object");
    }
    const auto it = object.find(key);
    if (it == object.end()) {
        bad(where, std::string("missing \"") + key + "\"");
    }
    return *it;
}

std::uint64_t unsigned_value(const nlohmann::json& value, std::string_view where,
                             std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
    const auto number = non_negative_integer(value);
    if (!number) {
        bad(where, "not a non-negative integer");
    }
    if (*number > max) {
        bad(where, "out of range");
    }
    return *number;
}

unsigned small_value(const nlohmann::json& value, std::string_view where) {
    return static_cast<unsigned>(unsigned_value(value, where, 1U << 20));
}

std::optional<std::uint64_t> optional_unsigned(const nlohmann::json& object, const char* key, std::string_view where,
                                               std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return std::nullopt;
    }
    return unsigned_value(*it, std::string(where) + "." + key, max);
}

CpuSet cpus_of(const nlohmann::json& value, std::string_view where) {
    if (value.is_string()) {
        try {
            return CpuSet::parse_list(value.get_ref<const std::string&>());
        } catch (const std::invalid_argument& e) {
            bad(where, e.what());
        }
    }
    if (!value.is_array()) {
        bad(where, "not a CPU list");
    }
    CpuSet cpus;
    for (const auto& cpu : value) {
        cpus.set(small_value(cpu, where));
    }
    return cpus;
}

}  // namespace

Event event_from_json(const nlohmann::json& json) {
    Event event;
    const auto& type = field(json, "type", "event");
    if (!type.is_string()) {
        bad("event.type", "not a string");
    }
    const auto parsed = event_type_from_string(type.get_ref<const std::string&>());
    if (!parsed) {
        bad("event.type", "unknown type \"" + type.get<std::string>() + "\"");
    }
    event.type = *parsed;
    event.seq = optional_unsigned(json, "seq", "event").value_or(0);
    event.time_ns = optional_unsigned(json, "time_ns", "event").value_or(0);
    if (const auto source = json.find("source"); source != json.end() && source->is_string()) {
        if (*source == "udev") {
            event.source = EventSource::udev;
        } else if (*source == "sysfs") {
            event.source = EventSource::sysfs;
        }
    }
    constexpr std::uint64_t max_id = 1U << 20;
    if (const auto cpu = optional_unsigned(json, "cpu", "event", max_id)) {
        event.cpu = static_cast<unsigned>(*cpu);
    }
    if (const auto node = optional_unsigned(json, "node", "event", max_id)) {
        event.node = static_cast<unsigned>(*node);
    }
    event.start = optional_unsigned(json, "start", "event");
    event.size = optional_unsigned(json, "size", "event");
    if (const auto online = optional_unsigned(json, "online_cpus", "event", max_id)) {
        event.online_cpus = static_cast<unsigned>(*online);
    }
    if (const auto mask = json.find("online_mask"); mask != json.end() && !mask->is_null()) {
        event.online_mask = cpus_of(*mask, "event.online_mask");
    }
    return event;
}

Snapshot snapshot_from_status(const nlohmann::json& status) {
    Snapshot snapshot;
    snapshot.online = cpus_of(field(field(status, "cpus", "status"), "online", "status.cpus"), "status.cpus.online");
    const auto& nodes = field(status, "nodes", "status");
    if (!nodes.is_array()) {
        bad("status.nodes", "not an array");
    }
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const std::string where = "status.nodes[" + std::to_string(i) + "]";
        const unsigned id = small_value(field(nodes[i], "id", where), where + ".id");
        cpus_of(field(nodes[i], "cpus", where), where + ".cpus").for_each([&](unsigned cpu) {
            snapshot.node_of_cpu[cpu] = id;
        });
        const auto memory = unsigned_value(field(nodes[i], "memory_bytes", where), where + ".memory_bytes");
        if (memory != 0) {
            snapshot.node_memory[id] = memory;
        }
    }
    if (const auto events = status.find("events"); events != status.end() && events->is_object()) {
        snapshot.last_seq = optional_unsigned(*events, "last_seq", "status.events").value_or(0);
    }
    return snapshot;
}

nlohmann::json to_json(const Workload& workload) {
    nlohmann::json json = {{"name", workload.name}};
    if (workload.threads) {
        json["threads"] = *workload.threads;
    } else {
        json["threads_per_cpu"] = workload.threads_per_cpu;
    }
    if (workload.nodes) {
        json["nodes"] = *workload.nodes;
    } else {
        json["nodes"] = "all";
    }
    json["buffer_per_cpu"] = workload.buffer_per_cpu;
    if (workload.cgroup) {
        json["cgroup"] = *workload.cgroup;
    }
    if (workload.unit) {
        json["unit"] = *workload.unit;
    }
    return json;
}

Workload workload_from_json(const nlohmann::json& json) {
    if (!json.is_object()) {
        bad("workload", "not an object");
    }
    // Types here; the limits are the config's (workload_problem()), checked below.
    constexpr std::uint64_t max_unsigned = std::numeric_limits<unsigned>::max();
    Workload workload;
    const auto& name = field(json, "name", "workload");
    if (!name.is_string()) {
        bad("workload.name", "must be a non-empty string");
    }
    workload.name = name.get<std::string>();
    for (const auto& [key, value] : json.items()) {
        const std::string where = "workload." + key;
        if (key == "name") {
            continue;
        } else if (key == "threads_per_cpu") {
            workload.threads_per_cpu = static_cast<unsigned>(unsigned_value(value, where, max_unsigned));
        } else if (key == "threads") {
            workload.threads = static_cast<unsigned>(unsigned_value(value, where, max_unsigned));
        } else if (key == "nodes") {
            if (value == "all") {
                workload.nodes.reset();
            } else if (value.is_array()) {
                std::vector<unsigned> nodes;
                for (const auto& node : value) {
                    nodes.push_back(static_cast<unsigned>(unsigned_value(node, where, max_unsigned)));
                }
                workload.nodes = std::move(nodes);
            } else {
                bad(where, "must be \"all\" or a list of node ids");
            }
        } else if (key == "buffer_per_cpu") {
            if (value.is_string()) {
                try {
                    workload.buffer_per_cpu = parse_size(value.get_ref<const std::string&>());
                } catch (const std::exception& e) {
                    bad(where, e.what());
                }
            } else {
                workload.buffer_per_cpu = unsigned_value(value, where);
            }
        } else if (key == "cgroup") {
            if (!value.is_string()) {
                bad(where, "must be a string");
            }
            workload.cgroup = value.get<std::string>();
        } else if (key == "unit") {
            if (!value.is_string()) {
                bad(where, "must be a string");
            }
            workload.unit = value.get<std::string>();
        } else {
            bad("workload." + quoted_text(key), "unknown key (known: name, threads_per_cpu, threads, nodes, "
                                           "buffer_per_cpu, cgroup, unit)");
        }
    }
    if (json.contains("threads") && json.contains("threads_per_cpu")) {
        bad("workload", "has both \"threads\" and \"threads_per_cpu\"");
    }
    if (const auto problem = workload_problem(workload)) {
        bad("workload." + problem->key + (problem->item ? "[" + std::to_string(*problem->item) + "]" : ""),
            problem->problem);
    }
    if (workload.nodes) {
        std::sort(workload.nodes->begin(), workload.nodes->end());
    }
    return workload;
}

}  // namespace hpplace::control
