#include "topology/topology.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace hpplace {

namespace {

constexpr unsigned local_distance = 10;
constexpr unsigned unknown_remote_distance = 20;

auto node_position(std::vector<NumaNode>& nodes, unsigned id) {
    return std::lower_bound(nodes.begin(), nodes.end(), id,
                            [](const NumaNode& node, unsigned wanted) { return node.id < wanted; });
}

// Inserts node `id` in id order and keeps the distance matrix square: 10 to
// itself, 20 to and from every other node (the SLIT default when unknown).
// O(nodes^2) for the matrix, once per node the machine ever gains.
NumaNode& insert_node(Topology& topology, unsigned id) {
    auto& nodes = topology.nodes;
    const auto position = node_position(nodes, id);
    const auto index = static_cast<std::size_t>(position - nodes.begin());
    for (auto& node : nodes) {
        node.distances.insert(node.distances.begin() + static_cast<std::ptrdiff_t>(index), unknown_remote_distance);
    }
    NumaNode created;
    created.id = id;
    created.distances.assign(nodes.size() + 1, unknown_remote_distance);
    created.distances[index] = local_distance;
    return *nodes.insert(position, std::move(created));
}

NumaNode& find_or_insert_node(Topology& topology, unsigned id) {
    if (NumaNode* node = topology.find_node(id)) {
        return *node;
    }
    return insert_node(topology, id);
}

// Where a CPU is now: its node and whether it is online.
struct CpuPlace {
    NumaNode* node = nullptr;
    bool online = false;
};

CpuPlace find_cpu(Topology& topology, unsigned cpu) noexcept {
    for (auto& node : topology.nodes) {
        if (node.cpus.test(cpu)) {
            return {&node, true};
        }
        if (node.offline_cpus.test(cpu)) {
            return {&node, false};
        }
    }
    return {};
}

// "cpu_online event #7", the start of every error about an event.
std::string event_name(const Event& event) {
    return std::string(to_string(event.type)) + " event #" + std::to_string(event.seq);
}

[[noreturn]] void throw_missing(const Event& event, const char* field) {
    throw TopologyError(event_name(event) + " has no " + field);
}

unsigned required_cpu(const Event& event) {
    if (!event.cpu) {
        throw_missing(event, "cpu");
    }
    return *event.cpu;
}

// Rejects ids no kernel has before anything is allocated for them.
void check_ids(const Event& event) {
    if (event.cpu && *event.cpu > max_cpu_id) {
        throw TopologyError(event_name(event) + ": cpu " + std::to_string(*event.cpu) + " is out of range (at most " +
                            std::to_string(max_cpu_id) + ")");
    }
    if (event.node && *event.node > max_node_id) {
        throw TopologyError(event_name(event) + ": node " + std::to_string(*event.node) +
                            " is out of range (at most " + std::to_string(max_node_id) + ")");
    }
}

// The node a CPU event puts the CPU on: the event's node, else the node the CPU
// is on now, else the lowest node (node 0 of a non-NUMA machine; created if the
// topology is empty).
NumaNode& target_node(Topology& topology, const Event& event, const CpuPlace& place) {
    if (event.node) {
        return find_or_insert_node(topology, *event.node);
    }
    if (place.node != nullptr) {
        return *place.node;
    }
    if (!topology.nodes.empty()) {
        return topology.nodes.front();
    }
    return insert_node(topology, 0);
}

// Puts `cpu` on the node the event names, online or offline. Returns true when
// anything changed. Node creation can reallocate the node vector, so the old
// place is cleared by id after the target is known.
bool place_cpu(Topology& topology, const Event& event, unsigned cpu, bool online) {
    const CpuPlace before = find_cpu(topology, cpu);
    const bool was_known = before.node != nullptr;
    const unsigned before_id = was_known ? before.node->id : 0;
    const bool was_online = before.online;
    const unsigned target_id = target_node(topology, event, before).id;
    if (was_known && before_id == target_id && was_online == online) {
        return false;
    }
    if (was_known) {
        NumaNode& old = *topology.find_node(before_id);
        old.cpus.reset(cpu);
        old.offline_cpus.reset(cpu);
    }
    NumaNode& target = *topology.find_node(target_id);
    if (online) {
        target.cpus.set(cpu);
    } else {
        target.offline_cpus.set(cpu);
    }
    return true;
}

bool remove_cpu(Topology& topology, unsigned cpu) {
    const CpuPlace place = find_cpu(topology, cpu);
    if (place.node == nullptr) {
        return false;
    }
    place.node->cpus.reset(cpu);
    place.node->offline_cpus.reset(cpu);
    return true;
}

bool ensure_node(Topology& topology, const Event& event) {
    if (!event.node || topology.find_node(*event.node) != nullptr) {
        return false;
    }
    insert_node(topology, *event.node);
    return true;
}

bool add_memory(Topology& topology, const Event& event) {
    if (!event.node) {
        throw_missing(event, "node");
    }
    if (!event.size) {
        throw_missing(event, "size");
    }
    const bool created = ensure_node(topology, event);
    NumaNode& node = *topology.find_node(*event.node);
    // Saturate rather than wrap: a sum past 2^64 bytes means a corrupted event.
    const std::uint64_t added = std::min(UINT64_MAX - node.memory_bytes, *event.size);
    node.memory_bytes += added;
    return created || added != 0;
}

bool remove_memory(Topology& topology, const Event& event) {
    if (!event.node) {
        throw_missing(event, "node");
    }
    if (!event.size) {
        throw_missing(event, "size");
    }
    NumaNode* node = topology.find_node(*event.node);
    if (node == nullptr || node->memory_bytes == 0 || *event.size == 0) {
        return false;
    }
    // Never below zero: an offline we did not see come online leaves 0, not a wrap.
    node->memory_bytes -= std::min(node->memory_bytes, *event.size);
    return true;
}

}  // namespace

const NumaNode* Topology::find_node(unsigned id) const noexcept {
    const auto position = std::lower_bound(nodes.begin(), nodes.end(), id,
                                           [](const NumaNode& node, unsigned wanted) { return node.id < wanted; });
    return position != nodes.end() && position->id == id ? &*position : nullptr;
}

NumaNode* Topology::find_node(unsigned id) noexcept {
    return const_cast<NumaNode*>(std::as_const(*this).find_node(id));
}

CpuSet Topology::online_cpus() const {
    CpuSet all;
    for (const auto& node : nodes) {
        all |= node.cpus;
    }
    return all;
}

CpuSet Topology::present_cpus() const {
    CpuSet all;
    for (const auto& node : nodes) {
        all |= node.cpus;
        all |= node.offline_cpus;
    }
    return all;
}

std::optional<unsigned> Topology::node_of_cpu(unsigned cpu) const noexcept {
    for (const auto& node : nodes) {
        if (node.cpus.test(cpu) || node.offline_cpus.test(cpu)) {
            return node.id;
        }
    }
    return std::nullopt;
}

bool apply_event(Topology& topology, const Event& event) {
    check_ids(event);
    switch (event.type) {
        case EventType::cpu_arrived: {
            // A hot-added CPU is present and offline. One we already know keeps
            // its state; only an offline one follows a different node.
            const unsigned cpu = required_cpu(event);
            const CpuPlace place = find_cpu(topology, cpu);
            if (place.node != nullptr && (place.online || !event.node || *event.node == place.node->id)) {
                return false;
            }
            return place_cpu(topology, event, cpu, false);
        }
        case EventType::cpu_online:
            return place_cpu(topology, event, required_cpu(event), true);
        case EventType::cpu_offline:
        case EventType::cpu_add_failed:
            return place_cpu(topology, event, required_cpu(event), false);
        case EventType::cpu_removed:
            return remove_cpu(topology, required_cpu(event));
        case EventType::mem_online:
            return add_memory(topology, event);
        case EventType::mem_offline:
            return remove_memory(topology, event);
        case EventType::node_mem_added:
            // The node exists from now on even if we never heard of it; counts
            // change with the mem_online that comes with it.
            return ensure_node(topology, event);
        case EventType::cpu_add_start:
        case EventType::cpu_going_offline:
        case EventType::mem_going_online:
        case EventType::mem_online_canceled:
        case EventType::mem_going_offline:
        case EventType::mem_offline_canceled:
        case EventType::node_mem_removed:
        case EventType::mem_block_added:
        case EventType::mem_block_removed:
            // Transitions and block devices: memory blocks arrive offline and only
            // online memory is counted, so nothing to do.
            return false;
    }
    return false;
}

}  // namespace hpplace
