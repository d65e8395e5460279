#pragma once

// The status document of `hpctl status --json` (docs/contract.md):
//   {"source": "kernel"|"udev", "cpus": {"online": [...], "present": [...]},
//    "nodes": [{"id", "cpus", "memory_bytes"}],
//    "events": {"received", "last_seq", "lost", "resyncs"}, "plan_generation"}
//
// How the daemon uses it: its ControlHandler::status() returns a Status made
// from its topology (service/status.hpp), which the control server sends as
// to_json(). hpctl renders the text form
// with status_to_text(); libhpplace reads it with snapshot_from_status()
// (documents.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/cpu_set.hpp"
#include "core/event.hpp"

namespace hpplace::control {

// A copy of the daemon's event counters, sampled when a status or the metrics
// are rendered; each is counted by its one owner (the sources' StreamCounters,
// the topology tracker).
struct EventCounters {
    std::uint64_t received = 0;  // events taken in, from any source
    std::uint64_t last_seq = 0;  // kernel sequence number of the last event
    std::uint64_t lost = 0;      // events known lost (sequence gaps, overruns)
    std::uint64_t resyncs = 0;   // full state reloads
    std::uint64_t rejected = 0;  // events that did not fit the picture, each answered by a resync
                                 // (in the metrics, hpplaced_events_rejected_total; not in the status)
    std::uint64_t overruns = 0;  // ENOBUFS on the event sockets (metrics only)
    friend bool operator==(const EventCounters&, const EventCounters&) = default;
};

struct NodeStatus {
    unsigned id = 0;
    CpuSet cpus{};  // online
    std::uint64_t memory_bytes = 0;
    friend bool operator==(const NodeStatus&, const NodeStatus&) = default;
};

struct Status {
    // Where events come from now: kernel, or udev (EventSource::sysfs is
    // reported as "udev": the fallback path of udev plus sysfs rescans).
    EventSource source = EventSource::kernel;
    CpuSet online{};
    CpuSet present{};
    std::vector<NodeStatus> nodes{};
    EventCounters events{};  // all but "rejected" go into the document
    std::uint64_t plan_generation = 0;
    friend bool operator==(const Status&, const Status&) = default;
};

nlohmann::json to_json(const Status& status);
// The same document as text, written straight from the values (what the
// control server answers: during a storm the counters change between two
// requests, so each one renders it anew).
void append_json(std::string& out, const Status& status);

// A few readable lines for `hpctl status` without --json. Throws
// std::runtime_error naming the field when the document is malformed.
std::string status_to_text(const nlohmann::json& status);

}  // namespace hpplace::control
