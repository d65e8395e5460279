#pragma once

// How `hpctl kernel-state` and `hpctl kernel-stats` show the module's answers.

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "kernel/protocol.hpp"

namespace hpplace::kernel {

// {"last_seq", "nr_cpu_ids", "cpus": {"possible", "present", "online"},
//  "nodes": [{"id", "cpus", "memory_bytes"}]}, CPU sets as arrays of numbers.
nlohmann::json to_json(const KernelState& state);
// {"last_seq", "sent": {"cpu_online": n, ...}, "send_failures", "no_listener", "listeners"};
// "sent" names every kernel event type, 0 when the module did not report it.
nlohmann::json to_json(const KernelStats& stats);

// Readable multi-line forms, each line ending in '\n'.
std::string to_text(const KernelState& state);
std::string to_text(const KernelStats& stats);

}  // namespace hpplace::kernel
