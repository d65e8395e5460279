#include "client/client_state.hpp"

#include <nlohmann/json.hpp>

#include "client/messages.hpp"

namespace hpplace::client {

namespace {

std::optional<ProcessorState> processor_state_of(EventType type) noexcept {
    switch (type) {
        case EventType::cpu_add_start:
            return ProcessorState::add_start;
        case EventType::cpu_online:
            return ProcessorState::add_complete;
        case EventType::cpu_add_failed:
            return ProcessorState::add_failed;
        case EventType::cpu_going_offline:
            return ProcessorState::going_offline;
        case EventType::cpu_offline:
            return ProcessorState::offline;
        case EventType::cpu_removed:
            return ProcessorState::removed;
        default:
            return std::nullopt;
    }
}

std::optional<MemoryState> memory_state_of(EventType type) noexcept {
    switch (type) {
        case EventType::mem_going_online:
            return MemoryState::going_online;
        case EventType::mem_online:
            return MemoryState::online;
        case EventType::mem_online_canceled:
            return MemoryState::online_canceled;
        case EventType::mem_going_offline:
            return MemoryState::going_offline;
        case EventType::mem_offline:
            return MemoryState::offline;
        case EventType::mem_offline_canceled:
            return MemoryState::offline_canceled;
        default:
            return std::nullopt;
    }
}

}  // namespace

std::optional<unsigned> ClientState::node_of(unsigned cpu) const {
    if (snapshot_) {
        if (const auto it = snapshot_->node_of_cpu.find(cpu); it != snapshot_->node_of_cpu.end()) {
            return it->second;
        }
    }
    return std::nullopt;
}

ProcessorChange ClientState::processor_change(ProcessorState state, unsigned cpu, std::uint64_t seq,
                                              bool synthesized) const {
    return ProcessorChange{
        .state = state,
        .cpu = cpu,
        .node = node_of(cpu),
        .active_count = static_cast<unsigned>(active_.count()),
        .active_cpus = active_.to_vector(),
        .seq = seq,
        .synthesized = synthesized,
    };
}

std::vector<Notification> ClientState::on_event(const Event& event) {
    std::vector<Notification> out;
    // Already part of the snapshot taken after it (kernel sequence numbers only).
    if (snapshot_ && event.source == EventSource::kernel && event.seq != 0 && event.seq <= snapshot_->last_seq) {
        return out;
    }
    if (snapshot_ && event.source == EventSource::kernel) {
        snapshot_->last_seq = std::max(snapshot_->last_seq, event.seq);
    }
    if (const auto state = processor_state_of(event.type); state && event.cpu) {
        if (event.node && snapshot_) {
            snapshot_->node_of_cpu[*event.cpu] = *event.node;
        }
        if (event.online_mask) {
            active_ = *event.online_mask;
        } else if (*state == ProcessorState::add_complete) {
            active_.set(*event.cpu);
        } else if (*state == ProcessorState::offline) {
            active_.reset(*event.cpu);
        }
        if (snapshot_) {
            snapshot_->online = active_;
        }
        auto change = processor_change(*state, *event.cpu, event.seq, false);
        if (event.node) {
            change.node = event.node;
        }
        if (event.online_cpus) {
            change.active_count = *event.online_cpus;
        }
        change.time_ns = event.time_ns;
        out.emplace_back(std::move(change));
        return out;
    }
    if (const auto state = memory_state_of(event.type)) {
        const std::uint64_t size = event.size.value_or(0);
        if (snapshot_ && event.node) {
            auto& memory = snapshot_->node_memory[*event.node];
            if (*state == MemoryState::online) {
                memory += size;
            } else if (*state == MemoryState::offline) {
                memory -= std::min(memory, size);
            }
            if (memory == 0) {
                snapshot_->node_memory.erase(*event.node);
            }
        }
        out.emplace_back(MemoryChange{
            .state = *state,
            .start = event.start.value_or(0),
            .size = size,
            .node = event.node,
            .seq = event.seq,
            .synthesized = false,
            .time_ns = event.time_ns,
        });
    }
    return out;
}

std::vector<Notification> ClientState::on_snapshot(const Snapshot& snapshot) {
    std::vector<Notification> out;
    if (!snapshot_) {
        snapshot_ = snapshot;
        active_ = snapshot.online;
        return out;
    }
    const Snapshot before = *snapshot_;
    // Node numbers of the new picture for CPUs that arrived.
    for (const auto& [cpu, node] : snapshot.node_of_cpu) {
        snapshot_->node_of_cpu[cpu] = node;
    }
    (before.online - snapshot.online).for_each([&](unsigned cpu) {
        active_.reset(cpu);
        out.emplace_back(processor_change(ProcessorState::offline, cpu, 0, true));
    });
    (snapshot.online - before.online).for_each([&](unsigned cpu) {
        active_.set(cpu);
        out.emplace_back(processor_change(ProcessorState::add_complete, cpu, 0, true));
    });
    std::map<unsigned, std::pair<std::uint64_t, std::uint64_t>> memory;  // node -> before, after
    for (const auto& [node, bytes] : before.node_memory) {
        memory[node].first = bytes;
    }
    for (const auto& [node, bytes] : snapshot.node_memory) {
        memory[node].second = bytes;
    }
    for (const auto& [node, sizes] : memory) {
        const auto [was, now] = sizes;
        if (was != now) {
            out.emplace_back(MemoryChange{
                .state = now > was ? MemoryState::online : MemoryState::offline,
                .start = 0,
                .size = now > was ? now - was : was - now,
                .node = node,
                .seq = 0,
                .synthesized = true,
            });
        }
    }
    snapshot_ = snapshot;
    active_ = snapshot.online;
    return out;
}

std::vector<Notification> ClientState::on_plan(const nlohmann::json& plan) {
    std::vector<Notification> out;
    if (workload_.empty()) {
        return out;
    }
    auto assignment = assignment_from_plan(plan, workload_);
    if (!assignment || assignment == assignment_) {
        return out;
    }
    assignment_ = std::move(assignment);
    out.emplace_back(*assignment_);
    return out;
}

std::vector<ProcessorChange> ClientState::existing_processors() const {
    std::vector<ProcessorChange> out;
    active_.for_each([&](unsigned cpu) { out.push_back(processor_change(ProcessorState::add_complete, cpu, 0, true)); });
    return out;
}

std::vector<MemoryChange> ClientState::existing_memory() const {
    std::vector<MemoryChange> out;
    if (snapshot_) {
        for (const auto& [node, bytes] : snapshot_->node_memory) {
            out.push_back(MemoryChange{.state = MemoryState::online, .start = 0, .size = bytes, .node = node,
                                       .seq = 0, .synthesized = true});
        }
    }
    return out;
}

}  // namespace hpplace::client
