#pragma once

// Test doubles of the daemon's OS-bound inputs, shared by the tracker and the
// daemon tests: event sources and a family watcher the test drives by hand
// (each records the listener it was started with, and forgets it on stop;
// a source reports the counters the test keeps for it, as a real source
// reports its own), the small two-node machine both start from, and CPU events.

#include <cstdint>

#include "core/event.hpp"
#include "sources/hotplug_source.hpp"
#include "topology/topology.hpp"

namespace hpplace::testing {

class FakeSource final : public HotplugSource {
public:
    // memory_blocks_only_out, when given, follows set_memory_blocks_only().
    FakeSource(EventSource kind, SourceListener** listener_out, const StreamCounters* counters = nullptr,
               bool* memory_blocks_only_out = nullptr)
        : kind_(kind), listener_out_(listener_out), counters_(counters), memory_blocks_only_out_(memory_blocks_only_out) {}
    ~FakeSource() override { stop(); }
    EventSource kind() const noexcept override { return kind_; }
    void start(SourceListener& listener) override { *listener_out_ = &listener; }
    void stop() noexcept override { *listener_out_ = nullptr; }
    StreamCounters counters() const noexcept override { return counters_ != nullptr ? *counters_ : StreamCounters{}; }
    void set_memory_blocks_only(bool only) noexcept override {
        if (memory_blocks_only_out_ != nullptr) {
            *memory_blocks_only_out_ = only;
        }
    }

private:
    EventSource kind_;
    SourceListener** listener_out_;
    const StreamCounters* counters_;
    bool* memory_blocks_only_out_;
};

class FakeWatcher final : public FamilyWatcher {
public:
    explicit FakeWatcher(FamilyWatcherListener** listener_out) : listener_out_(listener_out) {}
    void start(FamilyWatcherListener& listener) override { *listener_out_ = &listener; }
    void stop() noexcept override { *listener_out_ = nullptr; }

private:
    FamilyWatcherListener** listener_out_;
};

// Node 0: CPUs 0-1, node 1: CPU 2 online and CPU 3 offline; 512 MiB each.
inline Topology two_node_machine() {
    Topology topology;
    NumaNode node0;
    node0.id = 0;
    node0.cpus = CpuSet::range(0, 1);
    node0.memory_bytes = 512ull << 20;
    node0.distances = {10, 20};
    NumaNode node1;
    node1.id = 1;
    node1.cpus = CpuSet::range(2, 2);
    node1.offline_cpus = CpuSet::range(3, 3);
    node1.memory_bytes = 512ull << 20;
    node1.distances = {20, 10};
    topology.nodes = {node0, node1};
    return topology;
}

// A CPU event as a source reports it.
inline Event cpu_event(EventType type, unsigned cpu, unsigned node, std::uint64_t seq,
                       EventSource source = EventSource::kernel) {
    Event event;
    event.type = type;
    event.source = source;
    event.seq = seq;
    event.cpu = cpu;
    event.node = node;
    return event;
}

}  // namespace hpplace::testing
