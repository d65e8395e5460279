#include "plan/plan.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/cpu_set.hpp"
#include "core/json_integer.hpp"
#include "core/json_text.hpp"
#include "core/size.hpp"

namespace hpplace {

const WorkloadPlan* Plan::find_workload(std::string_view name) const noexcept {
    for (const auto& workload : workloads) {
        if (workload.name == name) {
            return &workload;
        }
    }
    return nullptr;
}

nlohmann::json to_json(const Plan& plan) {
    auto workloads = nlohmann::json::array();
    for (const auto& workload : plan.workloads) {
        auto threads = nlohmann::json::array();
        for (const auto& t : workload.threads) {
            threads.push_back({{"index", t.index}, {"cpu", t.cpu}, {"node", t.node}});
        }
        auto buffers = nlohmann::json::array();
        for (const auto& b : workload.buffers) {
            buffers.push_back(
                {{"node", b.node}, {"bytes", b.bytes}, {"requested_bytes", b.requested_bytes}, {"clipped", b.clipped}});
        }
        workloads.push_back({{"name", workload.name},
                             {"threads", std::move(threads)},
                             {"buffers", std::move(buffers)},
                             {"cpuset", workload.cpuset.to_list()},
                             {"mems", workload.mems.to_list()}});
    }
    return {{"generation", plan.generation}, {"workloads", std::move(workloads)}};
}

namespace {

// [{...},{...}]: one object per item, its members written by `members`.
template <typename Item, typename Members>
void append_objects(std::string& out, const std::vector<Item>& items, Members members) {
    out += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
        bool first = true;
        out += i == 0 ? "{" : ",{";
        members(items[i], first);
        out += '}';
    }
    out += ']';
}

}  // namespace

void append_json(std::string& out, const Plan& plan) {
    // Member order and the name's escaping as render_json(to_json(plan)) has
    // them (std::map order; invalid UTF-8 replaced).
    using json_text::key;
    using json_text::number;
    out += "{\"generation\":";
    number(out, plan.generation);
    out += ",\"workloads\":";
    append_objects(out, plan.workloads, [&](const WorkloadPlan& workload, bool& first) {
        key(out, first, "buffers");
        append_objects(out, workload.buffers, [&](const PlannedBuffer& b, bool& first_member) {
            key(out, first_member, "bytes");
            number(out, b.bytes);
            key(out, first_member, "clipped");
            out += b.clipped ? "true" : "false";
            key(out, first_member, "node");
            number(out, b.node);
            key(out, first_member, "requested_bytes");
            number(out, b.requested_bytes);
        });
        key(out, first, "cpuset");
        json_text::plain_string(out, workload.cpuset.to_list());
        key(out, first, "mems");
        json_text::plain_string(out, workload.mems.to_list());
        key(out, first, "name");
        out += nlohmann::json(workload.name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        key(out, first, "threads");
        append_objects(out, workload.threads, [&](const PlannedThread& t, bool& first_member) {
            key(out, first_member, "cpu");
            number(out, t.cpu);
            key(out, first_member, "index");
            number(out, t.index);
            key(out, first_member, "node");
            number(out, t.node);
        });
    });
    out += '}';
}

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
    throw PlanError(path + ": " + problem);
}

const nlohmann::json& member(const nlohmann::json& object, const std::string& path, const char* key) {
    const auto it = object.find(key);
    if (it == object.end()) {
        fail(path + "." + key, "missing");
    }
    return *it;
}

const nlohmann::json& object_at(const nlohmann::json& json, const std::string& path) {
    if (!json.is_object()) {
        fail(path, std::string("expected an object, got ") + json.type_name());
    }
    return json;
}

const nlohmann::json& array_at(const nlohmann::json& json, const std::string& path) {
    if (!json.is_array()) {
        fail(path, std::string("expected an array, got ") + json.type_name());
    }
    return json;
}

// Signed JSON integers (other tools' writers) are as good as unsigned ones
// when they are not negative.
std::uint64_t unsigned_at(const nlohmann::json& json, const std::string& path, std::uint64_t max) {
    const auto number = non_negative_integer(json);
    if (!number) {
        fail(path, "expected an integer in 0.." + std::to_string(max) + ", got " + json_kind(json));
    }
    if (*number > max) {
        fail(path, "expected an integer in 0.." + std::to_string(max) + ", got " + std::to_string(*number));
    }
    return *number;
}

std::string string_at(const nlohmann::json& json, const std::string& path) {
    if (!json.is_string()) {
        fail(path, std::string("expected a string, got ") + json.type_name());
    }
    return json.get<std::string>();
}

CpuSet cpulist_at(const nlohmann::json& json, const std::string& path) {
    const std::string text = string_at(json, path);
    try {
        return CpuSet::parse_list(text);
    } catch (const std::exception& e) {
        fail(path, e.what());
    }
}

constexpr std::uint64_t max_id = (1U << 20) - 1;

PlannedThread thread_from_json(const nlohmann::json& json, const std::string& path) {
    object_at(json, path);
    PlannedThread thread;
    thread.index = static_cast<unsigned>(unsigned_at(member(json, path, "index"), path + ".index", max_id));
    thread.cpu = static_cast<unsigned>(unsigned_at(member(json, path, "cpu"), path + ".cpu", max_id));
    thread.node = static_cast<unsigned>(unsigned_at(member(json, path, "node"), path + ".node", max_id));
    return thread;
}

PlannedBuffer buffer_from_json(const nlohmann::json& json, const std::string& path) {
    object_at(json, path);
    constexpr auto max_bytes = std::numeric_limits<std::uint64_t>::max();
    PlannedBuffer buffer;
    buffer.node = static_cast<unsigned>(unsigned_at(member(json, path, "node"), path + ".node", max_id));
    buffer.bytes = unsigned_at(member(json, path, "bytes"), path + ".bytes", max_bytes);
    buffer.requested_bytes = buffer.bytes;
    if (const auto it = json.find("requested_bytes"); it != json.end()) {
        buffer.requested_bytes = unsigned_at(*it, path + ".requested_bytes", max_bytes);
    }
    if (const auto it = json.find("clipped"); it != json.end()) {
        if (!it->is_boolean()) {
            fail(path + ".clipped", std::string("expected a boolean, got ") + it->type_name());
        }
        buffer.clipped = it->get<bool>();
    }
    if (buffer.bytes > buffer.requested_bytes) {
        fail(path + ".bytes", "larger than requested_bytes");
    }
    return buffer;
}

// The array `key` of `json`, each element read by `read`, in order of `field`;
// two elements with the same field are refused ("<what>N appears twice").
template <typename Read, typename Field>
auto sorted_unique_at(const nlohmann::json& json, const std::string& path, const char* key, Read read, Field field,
                      const std::string& what) {
    const std::string where = path + "." + key;
    const auto& items = array_at(member(json, path, key), where);
    std::vector<decltype(read(items[0], where))> out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        out.push_back(read(items[i], where + "[" + std::to_string(i) + "]"));
    }
    std::stable_sort(out.begin(), out.end(), [&](const auto& a, const auto& b) { return a.*field < b.*field; });
    for (std::size_t i = 1; i < out.size(); ++i) {
        if (out[i].*field == out[i - 1].*field) {
            fail(where, what + std::to_string(out[i].*field) + " appears twice");
        }
    }
    return out;
}

WorkloadPlan workload_from_json(const nlohmann::json& json, const std::string& path) {
    object_at(json, path);
    WorkloadPlan workload;
    workload.name = string_at(member(json, path, "name"), path + ".name");
    if (workload.name.empty()) {
        fail(path + ".name", "must not be empty");
    }
    workload.threads = sorted_unique_at(json, path, "threads", thread_from_json, &PlannedThread::index,
                                        "thread index ");
    workload.buffers = sorted_unique_at(json, path, "buffers", buffer_from_json, &PlannedBuffer::node, "node ");
    workload.cpuset = cpulist_at(member(json, path, "cpuset"), path + ".cpuset");
    workload.mems = cpulist_at(member(json, path, "mems"), path + ".mems");
    return workload;
}

}  // namespace

Plan plan_from_json(const nlohmann::json& json) {
    object_at(json, "plan");
    Plan plan;
    plan.generation = unsigned_at(member(json, "plan", "generation"), "generation",
                                  std::numeric_limits<std::uint64_t>::max() - 1);
    const auto& workloads = array_at(member(json, "plan", "workloads"), "workloads");
    for (std::size_t i = 0; i < workloads.size(); ++i) {
        const std::string path = "workloads[" + std::to_string(i) + "]";
        WorkloadPlan workload = workload_from_json(workloads[i], path);
        if (plan.find_workload(workload.name) != nullptr) {
            fail(path + ".name", "workload \"" + workload.name + "\" appears twice");
        }
        plan.workloads.push_back(std::move(workload));
    }
    return plan;
}

std::string to_text(const Plan& plan) {
    std::string out = "plan generation " + std::to_string(plan.generation) + ", " +
                      std::to_string(plan.workloads.size()) + " workload(s)\n";
    char line[160];
    auto list = [](const CpuSet& set) { return set.empty() ? std::string("(none)") : set.to_list(); };
    for (const auto& workload : plan.workloads) {
        out += "\nworkload " + workload.name + ": " + std::to_string(workload.threads.size()) + " thread(s), cpuset " +
               list(workload.cpuset) + ", mems " + list(workload.mems) + "\n";
        if (!workload.threads.empty()) {
            std::snprintf(line, sizeof line, "  %8s %6s %5s\n", "THREAD", "CPU", "NODE");
            out += line;
        }
        for (const auto& t : workload.threads) {
            std::snprintf(line, sizeof line, "  %8u %6u %5u\n", t.index, t.cpu, t.node);
            out += line;
        }
        if (!workload.buffers.empty()) {
            std::snprintf(line, sizeof line, "  %8s %14s %14s\n", "BUF NODE", "BYTES", "REQUESTED");
            out += line;
        }
        for (const auto& b : workload.buffers) {
            std::snprintf(line, sizeof line, "  %8u %14s %14s%s\n", b.node, format_size_readable(b.bytes).c_str(),
                          format_size_readable(b.requested_bytes).c_str(), b.clipped ? " clipped" : "");
            out += line;
        }
    }
    return out;
}

}  // namespace hpplace
