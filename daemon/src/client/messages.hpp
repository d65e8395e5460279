#pragma once

// libhpplace's reading of what hpplaced sends (docs/contract.md, "Control socket"): pushed
// events, the status document and the plan, turned into plain values. Pure.
// Unknown fields are ignored (the daemon may extend its documents); missing or
// mistyped fields the library needs throw std::invalid_argument naming them.

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/cpu_set.hpp"
#include "core/event.hpp"
#include "hpplace/assignment.hpp"
#include "hpplace/client.hpp"
#include "plan/workload.hpp"

namespace hpplace::client {

// The CPU and memory picture of a status document (docs/contract.md, `hpctl status --json`).
struct Snapshot {
    CpuSet online;
    std::map<unsigned, unsigned> node_of_cpu;         // present CPUs of the nodes
    std::map<unsigned, std::uint64_t> node_memory;    // bytes, nodes with memory
    std::uint64_t last_seq = 0;
    friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// An event object as `hpctl watch --json` prints it; "online_mask" (a cpulist
// string or an array of CPUs) is read when present.
Event event_from_json(const nlohmann::json& json);
Snapshot snapshot_from_status(const nlohmann::json& status);
// The workload's part of a plan document; nullopt when the plan does not name it.
// Throws std::invalid_argument when the plan is malformed.
std::optional<Assignment> assignment_from_plan(const nlohmann::json& plan, std::string_view workload);
// The register request's "workload" object: the keys of the config's [[workload]].
nlohmann::json workload_to_json(const WorkloadSpec& workload);
// The daemon's reading of that object (a [[workload]] table as JSON: sizes as
// integers or "64MiB" strings, nodes "all" or a list). Unknown keys and bad
// values throw std::invalid_argument naming the key.
Workload workload_from_json(const nlohmann::json& json);

}  // namespace hpplace::client
