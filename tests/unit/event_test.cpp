#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/event.hpp"
#include "hpnotify.h"

using namespace hpplace;

TEST_CASE("event names follow the contract and the uapi numbering") {
    CHECK(to_string(EventType::cpu_arrived) == "cpu_arrived");
    CHECK(to_string(EventType::mem_block_removed) == "mem_block_removed");
    CHECK(event_type_from_kernel(HPNOTIFY_EVENT_CPU_ONLINE) == EventType::cpu_online);
    CHECK(event_type_from_kernel(HPNOTIFY_EVENT_NODE_MEM_REMOVED) == EventType::node_mem_removed);
    CHECK_FALSE(event_type_from_kernel(0));
    CHECK_FALSE(event_type_from_kernel(HPNOTIFY_EVENT_MAX + 1));
    for (unsigned t = 1; t <= event_type_count; ++t) {
        const auto type = static_cast<EventType>(t);
        CHECK(event_type_from_string(to_string(type)) == type);
    }
    CHECK_FALSE(event_type_from_string("cpu_exploded"));
}

TEST_CASE("event json carries only the fields that apply") {
    Event e;
    e.seq = 7;
    e.type = EventType::mem_online;
    e.time_ns = 123;
    e.node = 1;
    e.start = 0x140000000;
    e.size = 128U << 20;
    e.online_cpus = 2;
    const auto j = to_json(e);
    CHECK(j["seq"] == 7);
    CHECK(j["type"] == "mem_online");
    CHECK(j["source"] == "kernel");
    CHECK(j["size"] == 134217728);
    CHECK_FALSE(j.contains("cpu"));
    CHECK_FALSE(j.contains("online_mask"));
    CHECK(to_text(e).find("mem_online") != std::string::npos);
    // The active set, when the event has it, as an array of CPUs.
    e.online_mask = CpuSet::parse_list("0-1,64");
    CHECK(to_json(e)["online_mask"] == nlohmann::json::array({0, 1, 64}));
}
