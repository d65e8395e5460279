#pragma once

// The control socket's documents besides its framing (protocol.hpp) and the
// writing of the status answer (status.hpp), read into and written from typed
// values: the register request's workload, pushed events, and a client's
// reading of the status document. Pure. Readers of what the daemon sends
// ignore unknown fields (it may extend its documents); missing or mistyped
// fields throw std::invalid_argument naming them ("status.nodes[0].id: ...").

#include <cstdint>
#include <map>

#include <nlohmann/json_fwd.hpp>

#include "core/cpu_set.hpp"
#include "core/event.hpp"
#include "plan/workload.hpp"

namespace hpplace::control {

// The CPU and memory picture of a status document (docs/contract.md, `hpctl status --json`).
struct Snapshot {
    CpuSet online;
    std::map<unsigned, unsigned> node_of_cpu;         // present CPUs of the nodes
    std::map<unsigned, std::uint64_t> node_memory;    // bytes, nodes with memory
    std::uint64_t last_seq = 0;
    friend bool operator==(const Snapshot&, const Snapshot&) = default;
};
Snapshot snapshot_from_status(const nlohmann::json& status);

// An event object as `hpctl watch --json` prints it (written by core's
// to_json(Event)); "online_mask" (a cpulist string or an array of CPUs) is
// read when present.
Event event_from_json(const nlohmann::json& json);

// The register request's "workload" object: the keys of the config's
// [[workload]] ("threads" for a fixed count, else "threads_per_cpu").
nlohmann::json to_json(const Workload& workload);
// The daemon's reading of that object (a [[workload]] table as JSON: sizes as
// integers or "64MiB" strings, nodes "all" or a list), held to
// workload_problem()'s limits. Unknown keys and bad values throw
// std::invalid_argument naming the key.
Workload workload_from_json(const nlohmann::json& json);

}  // namespace hpplace::control
