#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "kernel/report.hpp"

using namespace hpplace;
using namespace hpplace::kernel;

TEST_CASE("kernel-state json: cpus as number arrays, nodes in kernel order") {
    KernelState state;
    state.last_seq = 12;
    state.nr_cpu_ids = 4;
    state.possible = CpuSet::parse_list("0-3");
    state.present = CpuSet::parse_list("0-2");
    state.online = CpuSet::parse_list("0,2");
    state.nodes = {{0, 512ULL << 20, CpuSet::parse_list("0-1")}, {1, 0, CpuSet{}}};
    const auto j = to_json(state);
    CHECK(j["last_seq"] == 12);
    CHECK(j["nr_cpu_ids"] == 4);
    CHECK(j["cpus"]["possible"] == nlohmann::json::array({0, 1, 2, 3}));
    CHECK(j["cpus"]["present"] == nlohmann::json::array({0, 1, 2}));
    CHECK(j["cpus"]["online"] == nlohmann::json::array({0, 2}));
    REQUIRE(j["nodes"].size() == 2);
    CHECK(j["nodes"][0]["id"] == 0);
    CHECK(j["nodes"][0]["cpus"] == nlohmann::json::array({0, 1}));
    CHECK(j["nodes"][0]["memory_bytes"] == 512ULL << 20);
    CHECK(j["nodes"][1]["cpus"] == nlohmann::json::array());
    CHECK(to_text(state).find("online      0,2\n") != std::string::npos);
}

TEST_CASE("kernel-stats json names every kernel event type") {
    KernelStats stats;
    stats.last_seq = 3;
    stats.sent[EventType::cpu_online] = 2;
    stats.send_failures = 1;
    stats.no_listener = 5;
    stats.listeners = true;
    const auto j = to_json(stats);
    CHECK(j["last_seq"] == 3);
    CHECK(j["sent"]["cpu_online"] == 2);
    CHECK(j["sent"]["node_mem_removed"] == 0);
    CHECK(j["sent"].size() == 15);
    CHECK_FALSE(j["sent"].contains("mem_block_added"));  // udev-only
    CHECK(j["send_failures"] == 1);
    CHECK(j["no_listener"] == 5);
    CHECK(j["listeners"] == true);
}
