#pragma once

// What the client knows (active CPUs, memory per node, the assignment) and the
// callbacks that each message from the daemon calls for. Pure: the connection
// (client.cpp) feeds it and dispatches the notifications it returns.

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "control/documents.hpp"
#include "hpplace/assignment.hpp"
#include "hpplace/client.hpp"

namespace hpplace::client {

using control::Snapshot;
using Notification = std::variant<ProcessorChange, MemoryChange, Assignment>;

class ClientState {
public:
    explicit ClientState(std::string workload) : workload_(std::move(workload)) {}

    // A pushed event: the processor or memory change it is (none for types that
    // are neither, or for an event the last snapshot already contains).
    std::vector<Notification> on_event(const Event& event);
    // A status document after (re)connecting. The first one is taken as it is;
    // a later one is compared with what the client knew and the differences
    // become synthesized changes (CPUs and memory that came or went meanwhile).
    std::vector<Notification> on_snapshot(const Snapshot& snapshot);
    // A plan document: the new assignment when the workload's part changed.
    std::vector<Notification> on_plan(const nlohmann::json& plan);

    // Replay::existing: add_complete per active CPU, memory online per node.
    std::vector<ProcessorChange> existing_processors() const;
    std::vector<MemoryChange> existing_memory() const;

    bool has_snapshot() const noexcept { return snapshot_.has_value(); }
    const std::optional<Assignment>& assignment() const noexcept { return assignment_; }
    const CpuSet& active() const noexcept { return active_; }

private:
    ProcessorChange processor_change(ProcessorState state, unsigned cpu, std::uint64_t seq, bool synthesized) const;
    std::optional<unsigned> node_of(unsigned cpu) const;

    std::string workload_;
    std::optional<Snapshot> snapshot_;  // the last one, updated by events
    CpuSet active_;
    std::optional<Assignment> assignment_;
};

}  // namespace hpplace::client
