#include "kernel/report.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

#include "hpnotify.h"

namespace hpplace::kernel {

nlohmann::json to_json(const KernelState& state) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& node : state.nodes) {
        nodes.push_back({{"id", node.id}, {"cpus", node.cpus.to_vector()}, {"memory_bytes", node.memory_bytes}});
    }
    return {
        {"last_seq", state.last_seq},
        {"nr_cpu_ids", state.nr_cpu_ids},
        {"cpus",
         {{"possible", state.possible.to_vector()},
          {"present", state.present.to_vector()},
          {"online", state.online.to_vector()}}},
        {"nodes", std::move(nodes)},
    };
}

nlohmann::json to_json(const KernelStats& stats) {
    nlohmann::json sent = nlohmann::json::object();
    for (std::uint32_t t = 1; t <= HPNOTIFY_EVENT_MAX; ++t) {
        if (const auto type = event_type_from_kernel(t)) {
            const auto it = stats.sent.find(*type);
            sent[std::string(to_string(*type))] = it == stats.sent.end() ? 0 : it->second;
        }
    }
    return {
        {"last_seq", stats.last_seq},       {"sent", std::move(sent)},      {"send_failures", stats.send_failures},
        {"no_listener", stats.no_listener}, {"listeners", stats.listeners},
    };
}

std::string to_text(const KernelState& state) {
    std::ostringstream out;
    out << "last seq    " << state.last_seq << '\n'
        << "nr_cpu_ids  " << state.nr_cpu_ids << '\n'
        << "possible    " << state.possible.to_list() << '\n'
        << "present     " << state.present.to_list() << '\n'
        << "online      " << state.online.to_list() << '\n';
    for (const auto& node : state.nodes) {
        out << "node " << node.id << "      cpus " << (node.cpus.empty() ? "-" : node.cpus.to_list()) << ", memory "
            << (node.memory_bytes >> 20) << " MiB\n";
    }
    return out.str();
}

std::string to_text(const KernelStats& stats) {
    std::ostringstream out;
    out << "last seq       " << stats.last_seq << '\n'
        << "send failures  " << stats.send_failures << '\n'
        << "no listener    " << stats.no_listener << '\n'
        << "listeners      " << (stats.listeners ? "yes" : "no") << '\n';
    for (const auto& [type, count] : stats.sent) {
        out << "sent " << to_string(type) << ' ' << count << '\n';
    }
    return out.str();
}

}  // namespace hpplace::kernel
