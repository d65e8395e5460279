#include <doctest/doctest.h>

#include <stdexcept>

#include "sources/uevent.hpp"

using namespace hpplace;

namespace {

constexpr std::uint64_t block_size = 0x8000000;  // 128 MiB

Uevent uevent(std::string action, std::string subsystem, std::string sysname, std::optional<unsigned> node = {}) {
    return Uevent{.action = std::move(action),
                  .subsystem = std::move(subsystem),
                  .sysname = std::move(sysname),
                  .seqnum = 4711,
                  .node = node};
}

}  // namespace

TEST_CASE("sysname_number takes the digits after the prefix and nothing else") {
    CHECK(sysname_number("cpu12", "cpu") == 12u);
    CHECK(sysname_number("memory0", "memory") == 0u);
    CHECK_FALSE(sysname_number("cpu", "cpu"));
    CHECK_FALSE(sysname_number("cpufreq", "cpu"));
    CHECK_FALSE(sysname_number("cpu1a", "cpu"));
    CHECK_FALSE(sysname_number("memory_tier0", "memory"));
    CHECK_FALSE(sysname_number("node1", "cpu"));
    CHECK_FALSE(sysname_number("cpu99999999999999999999", "cpu"));
}

TEST_CASE("parse_memory_block_size reads sysfs hex and refuses the rest") {
    CHECK(parse_memory_block_size("8000000\n") == 128u << 20);
    CHECK(parse_memory_block_size("80000000") == 2048ull << 20);
    CHECK_THROWS_AS(parse_memory_block_size(""), std::invalid_argument);
    CHECK_THROWS_AS(parse_memory_block_size("0"), std::invalid_argument);
    CHECK_THROWS_AS(parse_memory_block_size("0x8000000"), std::invalid_argument);
    CHECK_THROWS_AS(parse_memory_block_size("12 MiB"), std::invalid_argument);
}

TEST_CASE("cpu uevents become cpu events") {
    const auto arrived = event_from_uevent(uevent("add", "cpu", "cpu2", 1), block_size, 99);
    REQUIRE(arrived);
    CHECK(arrived->type == EventType::cpu_arrived);
    CHECK(arrived->source == EventSource::udev);
    CHECK(arrived->cpu == 2u);
    CHECK(arrived->node == 1u);
    CHECK(arrived->seq == 4711u);
    CHECK(arrived->time_ns == 99u);
    CHECK_FALSE(arrived->start);

    CHECK(event_from_uevent(uevent("online", "cpu", "cpu3"), block_size)->type == EventType::cpu_online);
    CHECK(event_from_uevent(uevent("offline", "cpu", "cpu3"), block_size)->type == EventType::cpu_offline);
    CHECK(event_from_uevent(uevent("remove", "cpu", "cpu3"), block_size)->type == EventType::cpu_removed);
    CHECK_FALSE(event_from_uevent(uevent("change", "cpu", "cpu3"), block_size));
    CHECK_FALSE(event_from_uevent(uevent("bind", "cpu", "cpu3"), block_size));
    CHECK_FALSE(event_from_uevent(uevent("add", "cpu", "cpufreq"), block_size));
}

TEST_CASE("memory block uevents carry the block's range") {
    const auto added = event_from_uevent(uevent("add", "memory", "memory42", 1), block_size);
    REQUIRE(added);
    CHECK(added->type == EventType::mem_block_added);
    CHECK(added->start == 42 * block_size);
    CHECK(added->size == block_size);
    CHECK(added->node == 1u);
    CHECK_FALSE(added->cpu);

    const auto online = event_from_uevent(uevent("online", "memory", "memory8", 0), block_size);
    REQUIRE(online);
    CHECK(online->type == EventType::mem_online);
    CHECK(online->start == 8 * block_size);
    CHECK(online->size == block_size);
    CHECK(online->node == 0u);

    CHECK(event_from_uevent(uevent("offline", "memory", "memory8"), block_size)->type == EventType::mem_offline);
    CHECK(event_from_uevent(uevent("remove", "memory", "memory8"), block_size)->type ==
          EventType::mem_block_removed);
    CHECK_FALSE(event_from_uevent(uevent("change", "memory", "memory8"), block_size));
    CHECK_FALSE(event_from_uevent(uevent("add", "memory", "memory_tier1"), block_size));
    // Without a known block size the range is unknown: no event rather than a wrong one.
    CHECK_FALSE(event_from_uevent(uevent("online", "memory", "memory8"), 0));
}

TEST_CASE("uevents of other subsystems are ignored") {
    CHECK_FALSE(event_from_uevent(uevent("add", "node", "node1"), block_size));
    CHECK_FALSE(event_from_uevent(uevent("add", "", ""), block_size));
}

TEST_CASE("parse_memory_block_size: the one reader of block_size_bytes takes whitespace around the hex") {
    // The topology reader and the auto-online policy read the file through it too.
    CHECK(parse_memory_block_size("  8000000 \n") == 128u << 20);
    CHECK(parse_memory_block_size("\t10000000") == 256u << 20);
    CHECK_THROWS_WITH_AS(parse_memory_block_size("8g"), "bad memory block size \"8g\" (expected non-zero hex bytes)",
                         std::invalid_argument);
}

TEST_CASE("uevent_wanted: beside the kernel source only memory block add and remove are kept") {
    for (const char* action : {"add", "remove", "online", "offline", "change"}) {
        CHECK(uevent_wanted("cpu", action, false));
        CHECK(uevent_wanted("memory", action, false));
        CHECK_FALSE(uevent_wanted("cpu", action, true));
    }
    CHECK(uevent_wanted("memory", "add", true));
    CHECK(uevent_wanted("memory", "remove", true));
    CHECK_FALSE(uevent_wanted("memory", "online", true));
    CHECK_FALSE(uevent_wanted("memory", "offline", true));
}
