// ClientState: which callbacks each message from the daemon calls for.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "client/client_state.hpp"

using namespace hpplace;
using client::ClientState;
using client::Notification;
using client::Snapshot;

namespace {

Snapshot two_cpus() {
    Snapshot s;
    s.online = CpuSet::parse_list("0-1");
    s.node_of_cpu = {{0, 0}, {1, 0}, {2, 1}};
    s.node_memory = {{0, 1 << 30}};
    s.last_seq = 10;
    return s;
}

Event cpu_event(EventType type, unsigned cpu, std::uint64_t seq) {
    Event e;
    e.type = type;
    e.cpu = cpu;
    e.seq = seq;
    return e;
}

template <typename T>
std::vector<T> only(const std::vector<Notification>& notifications) {
    std::vector<T> out;
    for (const auto& n : notifications) {
        if (const auto* value = std::get_if<T>(&n)) {
            out.push_back(*value);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("client state: CPU events become processor changes with the active set") {
    ClientState state("svc");
    CHECK(state.on_snapshot(two_cpus()).empty());  // the first picture reports nothing
    auto changes = only<ProcessorChange>(state.on_event(cpu_event(EventType::cpu_add_start, 2, 11)));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].state == ProcessorState::add_start);
    CHECK(changes[0].node == 1u);
    CHECK(changes[0].active_count == 2);

    changes = only<ProcessorChange>(state.on_event(cpu_event(EventType::cpu_online, 2, 12)));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].state == ProcessorState::add_complete);
    CHECK(changes[0].active_cpus == std::vector<unsigned>{0, 1, 2});
    CHECK(changes[0].active_count == 3);
    CHECK(changes[0].seq == 12);
    CHECK_FALSE(changes[0].synthesized);

    changes = only<ProcessorChange>(state.on_event(cpu_event(EventType::cpu_offline, 0, 13)));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].state == ProcessorState::offline);
    CHECK(changes[0].active_cpus == std::vector<unsigned>{1, 2});

    // Types that are neither processor nor memory changes call nothing.
    CHECK(state.on_event(cpu_event(EventType::cpu_arrived, 3, 14)).empty());
}

TEST_CASE("client state: the event's own mask and count win over bookkeeping") {
    ClientState state("");
    state.on_snapshot(two_cpus());
    Event e = cpu_event(EventType::cpu_online, 5, 11);
    e.online_mask = CpuSet::parse_list("0,5");
    e.online_cpus = 2;
    e.node = 3;
    const auto changes = only<ProcessorChange>(state.on_event(e));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].active_cpus == std::vector<unsigned>{0, 5});
    CHECK(changes[0].node == 3u);
    CHECK(state.active().to_list() == "0,5");
}

TEST_CASE("client state: kernel events the snapshot already holds are not reported twice") {
    ClientState state("");
    state.on_snapshot(two_cpus());
    CHECK(state.on_event(cpu_event(EventType::cpu_online, 1, 9)).empty());
    CHECK(state.on_event(cpu_event(EventType::cpu_online, 1, 10)).empty());
    CHECK(state.on_event(cpu_event(EventType::cpu_online, 1, 11)).size() == 1);
}

TEST_CASE("client state: memory events") {
    ClientState state("");
    state.on_snapshot(two_cpus());
    Event e;
    e.type = EventType::mem_online;
    e.seq = 11;
    e.node = 1;
    e.start = 0x100000000;
    e.size = 128 << 20;
    const auto changes = only<MemoryChange>(state.on_event(e));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].state == MemoryState::online);
    CHECK(changes[0].node == 1u);
    CHECK(changes[0].start == 0x100000000ULL);
    CHECK(changes[0].size == 128u << 20);
    const auto existing = state.existing_memory();
    REQUIRE(existing.size() == 2);
    CHECK(existing[1].node == 1u);
    CHECK(existing[1].size == 128u << 20);
    CHECK(existing[1].synthesized);
}

TEST_CASE("client state: a resync after reconnecting reports what changed meanwhile") {
    ClientState state("");
    state.on_snapshot(two_cpus());
    Snapshot later = two_cpus();
    later.online = CpuSet::parse_list("1-2");
    later.node_memory[0] -= 128 << 20;
    later.node_memory[1] = 256 << 20;
    const auto notifications = state.on_snapshot(later);
    const auto cpus = only<ProcessorChange>(notifications);
    REQUIRE(cpus.size() == 2);
    CHECK(cpus[0].state == ProcessorState::offline);
    CHECK(cpus[0].cpu == 0);
    CHECK(cpus[1].state == ProcessorState::add_complete);
    CHECK(cpus[1].cpu == 2);
    CHECK(cpus[1].node == 1u);
    CHECK(cpus[1].active_cpus == std::vector<unsigned>{1, 2});
    CHECK(cpus[1].synthesized);
    const auto memory = only<MemoryChange>(notifications);
    REQUIRE(memory.size() == 2);
    CHECK(memory[0].state == MemoryState::offline);
    CHECK(memory[0].size == 128u << 20);
    CHECK(memory[1].state == MemoryState::online);
    CHECK(memory[1].node == 1u);
    CHECK(state.on_snapshot(later).empty());
}

TEST_CASE("client state: replay of existing CPUs, and the assignment reported once per change") {
    ClientState state("svc");
    state.on_snapshot(two_cpus());
    const auto existing = state.existing_processors();
    REQUIRE(existing.size() == 2);
    CHECK(existing[0].state == ProcessorState::add_complete);
    CHECK(existing[1].cpu == 1);
    CHECK(existing[1].active_count == 2);
    auto plan = nlohmann::json::parse(R"({"generation": 1, "workloads": [{"name": "svc",
        "threads": [{"index": 0, "cpu": 0, "node": 0}], "buffers": [], "cpuset": "0", "mems": "0"}]})");
    CHECK(only<Assignment>(state.on_plan(plan)).size() == 1);
    CHECK(state.on_plan(plan).empty());
    plan["workloads"][0]["threads"][0]["cpu"] = 1U;
    plan["generation"] = 2U;
    const auto changed = only<Assignment>(state.on_plan(plan));
    REQUIRE(changed.size() == 1);
    CHECK(changed[0].threads[0].cpu == 1);
    CHECK(state.assignment()->generation == 2);
}
