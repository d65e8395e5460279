#include "control/status.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/json_integer.hpp"
#include "core/json_text.hpp"

namespace hpplace::control {

nlohmann::json to_json(const Status& status) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& node : status.nodes) {
        nodes.push_back({{"id", node.id}, {"cpus", node.cpus.to_vector()}, {"memory_bytes", node.memory_bytes}});
    }
    const auto& events = status.events;
    return {
        {"source", status.source == EventSource::kernel ? "kernel" : "udev"},
        {"cpus", {{"online", status.online.to_vector()}, {"present", status.present.to_vector()}}},
        {"nodes", std::move(nodes)},
        {"events",
         {{"received", events.received},
          {"last_seq", events.last_seq},
          {"lost", events.lost},
          {"resyncs", events.resyncs}}},
        {"plan_generation", status.plan_generation},
    };
}

void append_json(std::string& out, const Status& status) {
    // Members in to_json()'s std::map order: the bytes of render_json(to_json(status)).
    using json_text::key;
    using json_text::number;
    bool first = true;
    out += '{';
    key(out, first, "cpus");
    bool first_set = true;
    out += '{';
    key(out, first_set, "online");
    json_text::cpu_array(out, status.online);
    key(out, first_set, "present");
    json_text::cpu_array(out, status.present);
    out += '}';
    key(out, first, "events");
    bool first_count = true;
    out += '{';
    key(out, first_count, "last_seq");
    number(out, status.events.last_seq);
    key(out, first_count, "lost");
    number(out, status.events.lost);
    key(out, first_count, "received");
    number(out, status.events.received);
    key(out, first_count, "resyncs");
    number(out, status.events.resyncs);
    out += '}';
    key(out, first, "nodes");
    out += '[';
    for (std::size_t i = 0; i < status.nodes.size(); ++i) {
        const NodeStatus& node = status.nodes[i];
        out += i == 0 ? "{" : ",{";
        bool first_member = true;
        key(out, first_member, "cpus");
        json_text::cpu_array(out, node.cpus);
        key(out, first_member, "id");
        number(out, node.id);
        key(out, first_member, "memory_bytes");
        number(out, node.memory_bytes);
        out += '}';
    }
    out += ']';
    key(out, first, "plan_generation");
    number(out, status.plan_generation);
    key(out, first, "source");
    json_text::plain_string(out, status.source == EventSource::kernel ? "kernel" : "udev");
    out += '}';
}

namespace {

const nlohmann::json& field(const nlohmann::json& object, const char* name, const char* where) {
    if (!object.is_object()) {
        throw std::runtime_error(std::string("malformed status from hpplaced: ") + where + " is not an object");
    }
    const auto it = object.find(name);
    if (it == object.end()) {
        throw std::runtime_error(std::string("malformed status from hpplaced: no \"") + name + "\" in " + where);
    }
    return *it;
}

CpuSet cpus_of(const nlohmann::json& list, const char* what) {
    if (!list.is_array()) {
        throw std::runtime_error(std::string("malformed status from hpplaced: \"") + what + "\" is not a list");
    }
    CpuSet set;
    for (const auto& cpu : list) {
        const auto number = non_negative_integer(cpu);
        if (!number || *number >= (1U << 20)) {
            throw std::runtime_error(std::string("malformed status from hpplaced: bad CPU in \"") + what + "\"");
        }
        set.set(static_cast<unsigned>(*number));
    }
    return set;
}

std::uint64_t number(const nlohmann::json& value, const char* what) {
    const auto number = non_negative_integer(value);
    if (!number) {
        throw std::runtime_error(std::string("malformed status from hpplaced: \"") + what +
                                 "\" is not a non-negative integer");
    }
    return *number;
}

std::string string_of(const nlohmann::json& value, const char* what) {
    if (!value.is_string()) {
        throw std::runtime_error(std::string("malformed status from hpplaced: \"") + what + "\" is not a string");
    }
    return value.get<std::string>();
}

std::string mebibytes(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

std::string status_to_text(const nlohmann::json& status) {
    const auto& cpus = field(status, "cpus", "status");
    const auto& events = field(status, "events", "status");
    std::ostringstream out;
    out << "source:          " << string_of(field(status, "source", "status"), "source") << '\n';
    const CpuSet online = cpus_of(field(cpus, "online", "cpus"), "online");
    const CpuSet present = cpus_of(field(cpus, "present", "cpus"), "present");
    out << "cpus online:     " << (online.empty() ? "-" : online.to_list()) << " (" << online.count() << ")\n";
    out << "cpus present:    " << (present.empty() ? "-" : present.to_list()) << " (" << present.count() << ")\n";
    const auto& nodes = field(status, "nodes", "status");
    if (!nodes.is_array()) {
        throw std::runtime_error("malformed status from hpplaced: \"nodes\" is not a list");
    }
    for (const auto& node : nodes) {
        const CpuSet node_cpus = cpus_of(field(node, "cpus", "node"), "cpus");
        std::string label = "node " + std::to_string(number(field(node, "id", "node"), "id")) + ":";
        label.resize(std::max<std::size_t>(label.size() + 1, 17), ' ');
        out << label << "cpus "
            << (node_cpus.empty() ? "-" : node_cpus.to_list()) << ", memory "
            << mebibytes(number(field(node, "memory_bytes", "node"), "memory_bytes")) << '\n';
    }
    out << "events:          " << number(field(events, "received", "events"), "received") << " received, last seq "
        << number(field(events, "last_seq", "events"), "last_seq") << ", "
        << number(field(events, "lost", "events"), "lost") << " lost, "
        << number(field(events, "resyncs", "events"), "resyncs") << " resyncs\n";
    out << "plan generation: " << number(field(status, "plan_generation", "status"), "plan_generation") << '\n';
    return out.str();
}

}  // namespace hpplace::control
