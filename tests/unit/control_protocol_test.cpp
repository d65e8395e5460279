#include <doctest/doctest.h>

#include <string>

#include "control/protocol.hpp"

using namespace hpplace;
using namespace hpplace::control;

TEST_CASE("LineSplitter: lines split across reads are joined") {
    LineSplitter splitter(64);
    CHECK(splitter.feed("{\"op\":").empty());
    CHECK(splitter.pending() == 6);
    const auto lines = splitter.feed("\"status\"}\n{\"op\":\"pl");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "{\"op\":\"status\"}");
    const auto more = splitter.feed("an\"}\r\n\n");
    REQUIRE(more.size() == 2);
    CHECK(more[0] == "{\"op\":\"plan\"}");
    CHECK(more[1].empty());
    CHECK(splitter.pending() == 0);
}

TEST_CASE("LineSplitter: many lines in one read, one byte at a time is the same") {
    const std::string stream = "a\nbb\n\nccc\nrest";
    LineSplitter whole(16);
    const auto at_once = whole.feed(stream);
    LineSplitter bytewise(16);
    std::vector<std::string> one_by_one;
    for (const char c : stream) {
        for (auto& line : bytewise.feed(std::string_view(&c, 1))) {
            one_by_one.push_back(std::move(line));
        }
    }
    CHECK(at_once == std::vector<std::string>{"a", "bb", "", "ccc"});
    CHECK(one_by_one == at_once);
    CHECK(whole.pending() == 4);
    CHECK(bytewise.pending() == 4);
}

TEST_CASE("LineSplitter: a line of exactly the limit passes, one byte more is refused") {
    LineSplitter splitter(8);
    const auto lines = splitter.feed("12345678\n");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "12345678");
    CHECK_THROWS_WITH_AS(splitter.feed("123456789\n"), "line longer than 8 bytes", ProtocolError);
}

TEST_CASE("LineSplitter: an unterminated line never buffers beyond the limit") {
    LineSplitter splitter(max_line_bytes);
    const std::string chunk(16 * 1024, 'x');
    for (int i = 0; i < 4; ++i) {
        CHECK(splitter.feed(chunk).empty());
    }
    CHECK(splitter.pending() == max_line_bytes);
    CHECK_THROWS_AS(splitter.feed("x"), ProtocolError);
    CHECK(splitter.pending() == 0);
}

TEST_CASE("parse_request: the ops and their fields") {
    CHECK(parse_request(R"({"op":"status"})").op == Op::status);
    CHECK(parse_request(R"({"op":"plan"})").op == Op::plan);
    CHECK(parse_request(R"({"op":"metrics"})").op == Op::metrics);
    CHECK(parse_request(R"({"op":"ping"})").op == Op::ping);

    const auto with_id = parse_request(R"({"op":"status","id":7})");
    CHECK(with_id.id == 7);
    CHECK(parse_request(R"({"id":"abc","op":"status"})").id == "abc");
    CHECK(parse_request(R"({"op":"status"})").id.is_null());

    const auto all = parse_request(R"({"op":"subscribe"})");
    CHECK(all.op == Op::subscribe);
    CHECK(all.streams == Streams{.events = true, .plans = true});
    const auto events = parse_request(R"({"op":"subscribe","streams":["events"]})");
    CHECK(events.streams == Streams{.events = true, .plans = false});

    const auto reg = parse_request(R"({"op":"register","workload":{"name":"db","threads_per_cpu":2}})");
    CHECK(reg.op == Op::register_workload);
    CHECK(reg.workload.name == "db");
    CHECK(reg.workload.threads_per_cpu == 2);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"register","workload":{"name":"db","threads_per_cpu":0}})"),
                         "register: workload.threads_per_cpu: expected an integer in 1..1024, got 0", ProtocolError);
    const auto unreg = parse_request(R"({"op":"unregister","name":"db"})");
    CHECK(unreg.op == Op::unregister_workload);
    CHECK(unreg.name == "db");
}

TEST_CASE("parse_request: bad requests get a clear one-line error") {
    CHECK_THROWS_WITH_AS(parse_request("status"), "request is not JSON: \"status\"", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"status")"), "request is not JSON: \"{\"op\":\"status\"\"",
                         ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request("[1,2]"), "request must be a JSON object, got array", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request("42"), "request must be a JSON object, got number", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request("{}"),
                         "request has no \"op\" (ops: status, plan, metrics, subscribe, unsubscribe, register, "
                         "unregister, ping)",
                         ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":3})"), "\"op\" must be a string, got number", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"reboot"})"),
                         "unknown op \"reboot\" (ops: status, plan, metrics, subscribe, unsubscribe, register, "
                         "unregister, ping)",
                         ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"status","id":[1]})"), "\"id\" must be an integer or a string",
                         ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"subscribe","streams":"events"})"),
                         "\"streams\" must be an array of \"events\" and \"plans\"", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"subscribe","streams":["logs"]})"),
                         "unknown stream \"logs\" (streams: events, plans)", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"subscribe","streams":[]})"),
                         "\"streams\" is empty (streams: events, plans)", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"register"})"), "\"register\" needs a \"workload\" object",
                         ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"register","workload":{"name":""}})"),
                         "\"workload\" needs a non-empty string \"name\"", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request(R"({"op":"unregister","name":5})"),
                         "\"unregister\" needs a non-empty string \"name\"", ProtocolError);
    // Invalid UTF-8 and control bytes are not echoed raw.
    CHECK_THROWS_WITH_AS(parse_request("\xff\x01"), "request is not JSON: \"??\"", ProtocolError);
    // A huge unknown op is cut short in the message.
    try {
        parse_request(R"({"op":")" + std::string(1000, 'a') + "\"}");
        FAIL("no exception");
    } catch (const ProtocolError& e) {
        CHECK(std::string(e.what()).size() < 200);
    }
}

TEST_CASE("request_id_of: the id of a request that failed validation") {
    CHECK(request_id_of(R"({"op":"reboot","id":4})") == 4);
    CHECK(request_id_of(R"({"op":"reboot","id":{}})").is_null());
    CHECK(request_id_of("garbage").is_null());
}

TEST_CASE("responses and pushes are single lines that parse back") {
    const std::string ok = render_result({{"a", 1}}, 9);
    CHECK(ok.back() == '\n');
    CHECK(ok.find('\n') == ok.size() - 1);
    const auto result = parse_message(std::string_view(ok).substr(0, ok.size() - 1));
    CHECK(result.kind == Message::Kind::result);
    CHECK(result.id == 9);
    CHECK(result.payload == nlohmann::json{{"a", 1}});

    const std::string error = render_error("unknown op \"x\"\nsecond line");
    CHECK(error.find('\n') == error.size() - 1);
    const auto parsed_error = parse_message(error.substr(0, error.size() - 1));
    CHECK(parsed_error.kind == Message::Kind::error);
    CHECK(parsed_error.id.is_null());
    CHECK(parsed_error.error == "unknown op \"x\"\nsecond line");

    Event event;
    event.seq = 12;
    event.type = EventType::cpu_arrived;
    event.cpu = 2;
    const std::string push = render_event_push(event);
    const auto parsed_push = parse_message(push.substr(0, push.size() - 1));
    CHECK(parsed_push.kind == Message::Kind::event);
    CHECK(parsed_push.payload.at("type") == "cpu_arrived");
    CHECK(parsed_push.payload.at("seq") == 12);
    CHECK(parsed_push.payload.at("cpu") == 2);

    const std::string plan = render_plan_push({{"generation", 3}, {"workloads", nlohmann::json::array()}});
    const auto parsed_plan = parse_message(plan.substr(0, plan.size() - 1));
    CHECK(parsed_plan.kind == Message::Kind::plan);
    CHECK(parsed_plan.payload.at("generation") == 3);

    // A string that is not valid UTF-8 is replaced, not thrown on.
    CHECK_NOTHROW(render_error(std::string("bad \xff byte")));
}

TEST_CASE("parse_message: malformed answers") {
    CHECK_THROWS_AS(parse_message("nope"), ProtocolError);
    CHECK_THROWS_WITH_AS(parse_message(R"({"ok":"yes"})"), "\"ok\" must be a boolean", ProtocolError);
    CHECK_THROWS_WITH_AS(parse_message(R"({"ok":true})"), "response has \"ok\": true and no \"result\"",
                         ProtocolError);
    CHECK_THROWS_WITH_AS(parse_message(R"({"ok":false,"error":1})"),
                         "response has \"ok\": false and no string \"error\"", ProtocolError);
    CHECK_THROWS_AS(parse_message(R"({"hello":1})"), ProtocolError);
}

TEST_CASE("op names round-trip") {
    for (const auto op : {Op::status, Op::plan, Op::metrics, Op::subscribe, Op::unsubscribe, Op::register_workload,
                          Op::unregister_workload, Op::ping}) {
        CHECK(op_from_string(to_string(op)) == op);
    }
    for (const auto op : {Op::status, Op::plan, Op::metrics, Op::subscribe, Op::unsubscribe, Op::ping}) {
        const auto request = parse_request(render_request({.op = op, .id = 1}));
        CHECK(request.op == op);
        CHECK(request.id == 1);
    }
    CHECK(render_request({.op = Op::status, .id = 1}) == "{\"id\":1,\"op\":\"status\"}\n");
    // Subscribing to both streams is the default: the request leaves them out.
    CHECK(render_request({.op = Op::subscribe, .id = "subscribe"}) == "{\"id\":\"subscribe\",\"op\":\"subscribe\"}\n");
    const auto plans = parse_request(render_request({.op = Op::subscribe, .streams = {.plans = true}}));
    CHECK(plans.streams == Streams{.events = false, .plans = true});
    const Workload db{.name = "db", .threads = 3u, .nodes = std::vector<unsigned>{0, 2}, .buffer_per_cpu = 4096,
                      .cgroup = "/sys/fs/cgroup/db", .unit = {}};
    const auto reg = parse_request(render_request({.op = Op::register_workload, .workload = db}));
    CHECK(reg.workload == db);
    CHECK(parse_request(render_request({.op = Op::unregister_workload, .name = "db"})).name == "db");
    CHECK_FALSE(op_from_string("STATUS").has_value());
}

TEST_CASE("parse_request and parse_message refuse JSON nested deeper than 64 levels") {
    // 100k '[' parse iteratively, but copying the value would recurse 100k frames deep.
    const std::string deep(100'000, '[');
    CHECK_THROWS_WITH_AS(parse_message(deep), "message from hpplaced nests arrays and objects deeper than 64 levels",
                         ProtocolError);
    CHECK_THROWS_WITH_AS(parse_request("{\"op\":\"register\",\"workload\":" + deep),
                         "request nests arrays and objects deeper than 64 levels", ProtocolError);
    CHECK(request_id_of("{\"id\":1,\"x\":" + deep).is_null());

    // 64 levels pass: the object itself and 63 arrays inside it.
    const std::string ok = "{\"ok\":true,\"result\":" + std::string(63, '[') + std::string(63, ']') + "}";
    CHECK(parse_message(ok).kind == Message::Kind::result);
    const std::string too_deep = "{\"ok\":true,\"result\":" + std::string(64, '[') + std::string(64, ']') + "}";
    CHECK_THROWS_AS(parse_message(too_deep), ProtocolError);
    // Brackets inside strings are text.
    CHECK(parse_message("{\"ok\":false,\"error\":\"" + std::string(1000, '[') + "\\\"" + "\"}").error.size() == 1001);
}

TEST_CASE("render_event_push is the event document in an \"event\" member, one line") {
    Event event;
    event.seq = 41;
    event.type = EventType::cpu_offline;
    event.time_ns = 5;
    event.cpu = 1;
    event.node = 0;
    event.online_cpus = 1;
    event.online_mask = CpuSet::range(0, 0);
    CHECK(render_event_push(event) == nlohmann::json{{"event", to_json(event)}}.dump() + "\n");
}

TEST_CASE("render_plan_push is the plan document in a \"plan\" member, one line, from the plan or its JSON") {
    Plan plan;
    plan.generation = 3;
    plan.workloads.push_back(WorkloadPlan{"svc", {{0, 1, 0}}, {{0, 8 << 20, 8 << 20, false}}, CpuSet::range(0, 1),
                                          CpuSet::range(0, 0)});
    const std::string line = nlohmann::json{{"plan", to_json(plan)}}.dump() + "\n";
    CHECK(render_plan_push(plan) == line);
    CHECK(render_plan_push(to_json(plan)) == line);
}
