// libhpplace's side of the control protocol: frames from the daemon (bad,
// partial, oversized) and the documents in them (events, status, plan).

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "client/messages.hpp"
#include "control/documents.hpp"
#include "control/protocol.hpp"

using namespace hpplace;
using nlohmann::json;

namespace {

const json status_document = json::parse(R"({
  "source": "kernel", "cpus": {"online": [0, 1], "present": [0, 1, 2]},
  "nodes": [{"id": 0, "cpus": [0, 1], "memory_bytes": 1073741824},
            {"id": 1, "cpus": [2], "memory_bytes": 0}],
  "events": {"received": 9, "last_seq": 41, "lost": 0, "resyncs": 1},
  "plan_generation": 3, "future_field": {"x": 1}})");

const json plan_document = json::parse(R"({
  "generation": 3,
  "workloads": [
    {"name": "other", "threads": [{"index": 0, "cpu": 0, "node": 0}], "buffers": [], "cpuset": "0", "mems": "0"},
    {"name": "svc", "threads": [{"index": 1, "cpu": 1, "node": 0}, {"index": 0, "cpu": 0, "node": 0}],
     "buffers": [{"node": 0, "bytes": 4194304, "requested_bytes": 8388608, "clipped": true}],
     "cpuset": "0-1", "mems": "0", "new_key": true}]})");

}  // namespace

TEST_CASE("client protocol: a frame split across reads comes out whole; a partial one waits") {
    control::LineSplitter splitter(1024);
    CHECK(splitter.feed(R"({"event": {"seq": 7, "type": "cpu_on)").empty());
    CHECK(splitter.pending() > 0);
    const auto lines = splitter.feed("line\", \"cpu\": 3}}\n{\"plan\"");
    REQUIRE(lines.size() == 1);
    const auto message = control::parse_message(lines[0]);
    REQUIRE(message.kind == control::Message::Kind::event);
    const Event event = control::event_from_json(message.payload);
    CHECK(event.seq == 7);
    CHECK(event.type == EventType::cpu_online);
    CHECK(event.cpu == 3u);
    CHECK(splitter.pending() == std::string_view("{\"plan\"").size());
}

TEST_CASE("client protocol: an oversized frame is refused, complete or not") {
    control::LineSplitter splitter(64);
    CHECK_THROWS_AS(splitter.feed(std::string(65, 'x')), control::ProtocolError);
    control::LineSplitter whole(64);
    CHECK_THROWS_AS(whole.feed(std::string(100, 'x') + "\n"), control::ProtocolError);
}

TEST_CASE("client protocol: bad frames are errors, not crashes") {
    for (const std::string line : {"", "not json", "[1,2]", "{\"ok\": 1}", "{\"ok\": true}", "{\"ok\": false}",
                                   "{\"hello\": 1}", "{\"event\": 1"}) {
        CAPTURE(line);
        CHECK_THROWS(control::parse_message(line));
    }
    for (const std::string event : {R"({})", R"({"type": 3})", R"({"type": "cpu_exploded"})",
                                    R"({"type": "cpu_online", "cpu": -1})", R"({"type": "cpu_online", "cpu": "1"})",
                                    R"({"type": "cpu_online", "online_mask": "1-"})", R"("cpu_online")",
                                    R"({"type": "mem_online", "size": 1.5})"}) {
        CAPTURE(event);
        CHECK_THROWS_AS(control::event_from_json(json::parse(event)), std::invalid_argument);
    }
}

TEST_CASE("client protocol: events: every field read, unknown fields ignored") {
    const auto event = control::event_from_json(json::parse(R"({"seq": 12, "type": "mem_online", "source": "udev",
        "time_ns": 99, "node": 1, "start": 4294967296, "size": 134217728, "online_cpus": 3,
        "online_mask": "0-1,3", "shiny_new_field": [1, 2]})"));
    CHECK(event.seq == 12);
    CHECK(event.type == EventType::mem_online);
    CHECK(event.source == EventSource::udev);
    CHECK(event.time_ns == 99);
    CHECK(event.node == 1u);
    CHECK(event.start == 4294967296ULL);
    CHECK(event.size == 134217728ULL);
    CHECK(event.online_cpus == 3u);
    REQUIRE(event.online_mask);
    CHECK(event.online_mask->to_list() == "0-1,3");
    CHECK_FALSE(event.cpu);
    // An event as the daemon renders it (core to_json) reads back the same.
    Event original;
    original.seq = 5;
    original.type = EventType::cpu_going_offline;
    original.time_ns = 17;
    original.cpu = 1;
    original.node = 0;
    original.online_cpus = 1;
    CHECK(control::event_from_json(to_json(original)) == original);
}

TEST_CASE("client protocol: status document to snapshot") {
    const auto snapshot = control::snapshot_from_status(status_document);
    CHECK(snapshot.online.to_list() == "0-1");
    CHECK(snapshot.node_of_cpu == std::map<unsigned, unsigned>{{0, 0}, {1, 0}, {2, 1}});
    CHECK(snapshot.node_memory == std::map<unsigned, std::uint64_t>{{0, 1073741824}});
    CHECK(snapshot.last_seq == 41);
    json broken = status_document;
    broken["nodes"][0].erase("memory_bytes");
    CHECK_THROWS_WITH_AS(control::snapshot_from_status(broken), doctest::Contains("status.nodes[0]"),
                         std::invalid_argument);
    CHECK_THROWS_AS(control::snapshot_from_status(json::array()), std::invalid_argument);
}

TEST_CASE("client protocol: the workload's part of a plan") {
    const auto assignment = client::assignment_from_plan(plan_document, "svc");
    REQUIRE(assignment);
    CHECK(assignment->generation == 3);
    CHECK(assignment->workload == "svc");
    CHECK(assignment->threads == std::vector<AssignedThread>{{0, 0, 0}, {1, 1, 0}});
    CHECK(assignment->buffers == std::vector<AssignedBuffer>{{0, 4194304}});
    CHECK(assignment->cpuset == "0-1");
    CHECK(assignment->mems == "0");
    CHECK_FALSE(client::assignment_from_plan(plan_document, "absent"));
    json bad = plan_document;
    bad["workloads"][1]["threads"][0]["cpu"] = "one";
    CHECK_THROWS_WITH_AS(client::assignment_from_plan(bad, "svc"), doctest::Contains("workloads[1]"),
                         std::invalid_argument);
}

TEST_CASE("client protocol: the register request carries the [[workload]] keys") {
    WorkloadSpec spec{.name = "db", .threads_per_cpu = 2, .threads = {}, .nodes = {0, 1},
                      .buffer_per_cpu = 1 << 20, .cgroup = "/sys/fs/cgroup/db"};
    const Workload workload = client::workload_of(spec);
    CHECK(control::to_json(workload) == json::parse(R"({"name": "db", "threads_per_cpu": 2, "nodes": [0, 1],
        "buffer_per_cpu": 1048576, "cgroup": "/sys/fs/cgroup/db"})"));
    const auto request = control::parse_request(
        control::render_request({.op = control::Op::register_workload, .id = "register", .workload = workload}));
    CHECK(request.op == control::Op::register_workload);
    CHECK(request.workload == workload);
    spec.nodes.clear();
    CHECK(control::to_json(client::workload_of(spec))["nodes"] == "all");
    spec.threads_per_cpu.reset();
    CHECK(control::to_json(client::workload_of(spec))["threads_per_cpu"] == 1);  // the daemon's default
}

TEST_CASE("client protocol: the daemon reads a registered workload back") {
    WorkloadSpec spec;
    spec.name = "db";
    spec.threads = 3;
    spec.nodes = {1};
    spec.buffer_per_cpu = 4096;
    const Workload workload = control::workload_from_json(control::to_json(client::workload_of(spec)));
    CHECK(workload.name == "db");
    CHECK(workload.threads == 3u);
    CHECK(workload.nodes == std::vector<unsigned>{1});
    CHECK(workload.buffer_per_cpu == 4096);
    CHECK_FALSE(workload.cgroup);
    CHECK(control::workload_from_json(json::parse(R"({"name": "x", "buffer_per_cpu": "64MiB"})")).buffer_per_cpu ==
          64u << 20);
    for (const std::string bad : {R"({})", R"({"name": ""})", R"({"name": "x", "colour": "red"})",
                                  R"({"name": "x", "threads_per_cpu": 0})", R"({"name": "x", "nodes": "some"})",
                                  R"({"name": "x", "buffer_per_cpu": "lots"})", R"({"name": "x", "cgroup": 1})",
                                  R"({"name": "x", "threads": 2, "threads_per_cpu": 1})", R"([])"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(control::workload_from_json(json::parse(bad)), std::invalid_argument);
    }
}
