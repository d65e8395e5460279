#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

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

TEST_CASE("append_json writes what to_json(event).dump() writes") {
    // Every type and source, each optional field present or not (bit i of
    // `fields`), zero and the largest values, CPU sets spanning words.
    const std::vector<CpuSet> masks = {CpuSet{}, CpuSet::range(0, 0), CpuSet::parse_list("0-2,63-65,1000")};
    unsigned round = 0;
    for (unsigned t = 1; t <= event_type_count; ++t) {
        for (const auto source : {EventSource::kernel, EventSource::udev, EventSource::sysfs}) {
            for (unsigned fields = 0; fields < 64; ++fields, ++round) {
                Event e;
                e.type = static_cast<EventType>(t);
                e.source = source;
                e.seq = round % 2 == 0 ? round : UINT64_MAX;
                e.time_ns = round % 3 == 0 ? 0 : UINT64_MAX - round;
                if (fields & 1) e.cpu = round % 2 == 0 ? 0u : UINT32_MAX;
                if (fields & 2) e.node = round % 7;
                if (fields & 4) e.start = std::uint64_t{round} << 27;
                if (fields & 8) e.size = round % 5 == 0 ? 0 : UINT64_MAX;
                if (fields & 16) e.online_cpus = round;
                if (fields & 32) e.online_mask = masks[round % masks.size()];
                std::string text = "prefix";
                append_json(text, e);
                CAPTURE(text);
                REQUIRE(text == "prefix" + to_json(e).dump());
            }
        }
    }
}
