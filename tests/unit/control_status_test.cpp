#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "control/status.hpp"
#include "service/status.hpp"

using namespace hpplace;

namespace {

Topology two_nodes() {
    Topology topology;
    NumaNode node0;
    node0.id = 0;
    node0.cpus = CpuSet::parse_list("0-1");
    node0.memory_bytes = 512ULL << 20;
    NumaNode node1;
    node1.id = 1;
    node1.cpus = CpuSet::parse_list("2");
    node1.offline_cpus = CpuSet::parse_list("3");
    node1.memory_bytes = 640ULL << 20;
    topology.nodes = {node0, node1};
    return topology;
}

// The document the daemon sends.
nlohmann::json status_json(EventSource source, const Topology& topology, const control::EventCounters& counters,
                           std::uint64_t plan_generation) {
    return control::to_json(make_status(source, topology, counters, plan_generation));
}

}  // namespace

TEST_CASE("make_status has exactly the shape of docs/contract.md") {
    const control::EventCounters counters{.received = 7, .last_seq = 41, .lost = 2, .resyncs = 1};
    const auto status = status_json(EventSource::kernel, two_nodes(), counters, 5);
    const auto expected = nlohmann::json::parse(R"({
        "source": "kernel",
        "cpus": {"online": [0, 1, 2], "present": [0, 1, 2, 3]},
        "nodes": [{"id": 0, "cpus": [0, 1], "memory_bytes": 536870912},
                  {"id": 1, "cpus": [2], "memory_bytes": 671088640}],
        "events": {"received": 7, "last_seq": 41, "lost": 2, "resyncs": 1},
        "plan_generation": 5
    })");
    CHECK(status == expected);
}

TEST_CASE("make_status: udev and sysfs sources both report udev") {
    CHECK(status_json(EventSource::udev, {}, {}, 0).at("source") == "udev");
    CHECK(status_json(EventSource::sysfs, {}, {}, 0).at("source") == "udev");
    CHECK(status_json(EventSource::udev, {}, {}, 0).at("nodes").is_array());
}

TEST_CASE("status_to_text reads the status document") {
    const auto status = status_json(EventSource::udev, two_nodes(), {.received = 3}, 2);
    const auto text = control::status_to_text(status);
    CHECK(text.find("source:          udev\n") != std::string::npos);
    CHECK(text.find("cpus online:     0-2 (3)\n") != std::string::npos);
    CHECK(text.find("cpus present:    0-3 (4)\n") != std::string::npos);
    CHECK(text.find("cpus 2, memory 640 MiB") != std::string::npos);
    CHECK(text.find("3 received") != std::string::npos);
    CHECK(text.find("plan generation: 2\n") != std::string::npos);
}

TEST_CASE("status_to_text names what is wrong in a malformed document") {
    auto status = status_json(EventSource::kernel, two_nodes(), {}, 1);
    status.erase("events");
    CHECK_THROWS_WITH(control::status_to_text(status), "malformed status from hpplaced: no \"events\" in status");
    status = status_json(EventSource::kernel, two_nodes(), {}, 1);
    status["cpus"]["online"] = "0-3";
    CHECK_THROWS_WITH(control::status_to_text(status), "malformed status from hpplaced: \"online\" is not a list");
    status = status_json(EventSource::kernel, two_nodes(), {}, 1);
    status["plan_generation"] = -1;
    CHECK_THROWS_WITH(control::status_to_text(status),
                      "malformed status from hpplaced: \"plan_generation\" is not a non-negative integer");
    CHECK_THROWS(control::status_to_text(nlohmann::json::array()));
}

TEST_CASE("status_to_text reads signed JSON integers that are not negative") {
    const auto status = status_json(EventSource::udev, two_nodes(), {.received = 3}, 2);
    nlohmann::json signed_status = status;
    signed_status["plan_generation"] = std::int64_t{2};
    signed_status["events"]["received"] = std::int64_t{3};
    signed_status["cpus"]["online"] = {std::int64_t{0}, std::int64_t{1}, std::int64_t{2}};
    signed_status["nodes"][1]["memory_bytes"] = std::int64_t{640} << 20;
    REQUIRE_FALSE(signed_status["plan_generation"].is_number_unsigned());
    CHECK(control::status_to_text(signed_status) == control::status_to_text(status));
    signed_status["cpus"]["online"][1] = -1;
    CHECK_THROWS_WITH(control::status_to_text(signed_status),
                      "malformed status from hpplaced: bad CPU in \"online\"");
}

TEST_CASE("append_json(Status) writes the bytes of render_json(to_json())") {
    const control::EventCounters counters{
        .received = 18446744073709551615ULL, .last_seq = 41, .lost = 0, .resyncs = 3, .rejected = 9, .overruns = 4};
    Topology topology = two_nodes();
    NumaNode empty;  // a memoryless node without CPUs
    empty.id = 7;
    topology.nodes.push_back(empty);
    for (const auto source : {EventSource::kernel, EventSource::udev, EventSource::sysfs}) {
        const control::Status status = make_status(source, topology, counters, 12);
        std::string text = "prefix";
        control::append_json(text, status);
        CHECK(text == "prefix" + control::render_json(control::to_json(status)));
    }
    std::string none;
    control::append_json(none, control::Status{});
    CHECK(none == control::render_json(control::to_json(control::Status{})));
}
