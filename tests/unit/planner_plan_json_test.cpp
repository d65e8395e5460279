#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "plan/plan.hpp"
#include "plan/plan_diff.hpp"

using namespace hpplace;

namespace {

Plan sample_plan() {
    Plan plan;
    plan.generation = 7;
    plan.workloads.push_back(WorkloadPlan{"web",
                                          {{0, 0, 0}, {1, 4, 1}, {5, 5, 1}},
                                          {{0, 1 << 20, 1 << 20, false}, {1, 100, 300, true}},
                                          CpuSet::parse_list("0,4-5"),
                                          CpuSet::parse_list("0-1")});
    plan.workloads.push_back(WorkloadPlan{"idle", {}, {}, {}, {}});
    return plan;
}

std::string error_of(const nlohmann::json& json) {
    try {
        plan_from_json(json);
    } catch (const PlanError& e) {
        return e.what();
    }
    return "(no error)";
}

// The same document with every integer held as a signed JSON integer, as
// nlohmann holds json(int) and as other tools' writers may produce it.
nlohmann::json as_signed(const nlohmann::json& json) {
    if (json.is_number_unsigned()) {
        return nlohmann::json(static_cast<std::int64_t>(json.get<std::uint64_t>()));
    }
    nlohmann::json out = json;
    if (json.is_structured()) {
        for (auto it = out.begin(); it != out.end(); ++it) {
            *it = as_signed(*it);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("plan JSON round trip") {
    const Plan plan = sample_plan();
    const nlohmann::json json = to_json(plan);
    CHECK(json["generation"] == 7);
    CHECK(json["workloads"][0]["threads"][1] == nlohmann::json{{"index", 1}, {"cpu", 4}, {"node", 1}});
    CHECK(json["workloads"][0]["buffers"][1]["clipped"] == true);
    CHECK(json["workloads"][0]["cpuset"] == "0,4-5");
    CHECK(plan_from_json(json) == plan);
    CHECK(plan_from_json(nlohmann::json::parse(json.dump())) == plan);
}

TEST_CASE("plan JSON: optional fields, order and normal form") {
    const auto json = nlohmann::json::parse(R"({"generation": 1, "workloads": [{"name": "w",
        "threads": [{"index": 3, "cpu": 1, "node": 0}, {"index": 0, "cpu": 2, "node": 0}],
        "buffers": [{"node": 2, "bytes": 10}, {"node": 0, "bytes": 5}],
        "cpuset": "2,1", "mems": "0", "extra": true}], "extra": 1})");
    const Plan plan = plan_from_json(json);
    REQUIRE(plan.workloads.size() == 1);
    const auto& w = plan.workloads[0];
    CHECK(w.threads[0].index == 0);
    CHECK(w.threads[1].index == 3);
    CHECK(w.buffers[0].node == 0);
    CHECK(w.buffers[1].requested_bytes == 10);
    CHECK_FALSE(w.buffers[1].clipped);
    CHECK(w.cpuset.to_list() == "1-2");
    CHECK(to_json(plan)["workloads"][0]["cpuset"] == "1-2");
    CHECK(to_json(plan)["workloads"][0]["mems"] == "0");
}

TEST_CASE("plan JSON: errors name the path") {
    auto good = to_json(sample_plan());
    struct Case {
        std::function<void(nlohmann::json&)> spoil;
        const char* message;
    };
    const Case cases[] = {
        {[](auto& j) { j = nlohmann::json::array(); }, "plan: expected an object"},
        {[](auto& j) { j.erase("generation"); }, "plan.generation: missing"},
        {[](auto& j) { j["generation"] = -1; }, "generation: expected an integer"},
        {[](auto& j) { j["generation"] = "1"; }, "generation: expected an integer"},
        {[](auto& j) { j["workloads"] = 3; }, "workloads: expected an array"},
        {[](auto& j) { j["workloads"][1] = "x"; }, "workloads[1]: expected an object"},
        {[](auto& j) { j["workloads"][1]["name"] = 4; }, "workloads[1].name: expected a string"},
        {[](auto& j) { j["workloads"][1]["name"] = "web"; }, "workloads[1].name: workload \"web\" appears twice"},
        {[](auto& j) { j["workloads"][0]["threads"][2].erase("cpu"); }, "workloads[0].threads[2].cpu: missing"},
        {[](auto& j) { j["workloads"][0]["threads"][2]["cpu"] = 1.5; }, "workloads[0].threads[2].cpu: expected"},
        {[](auto& j) { j["workloads"][0]["threads"][2]["node"] = 1 << 22; }, "workloads[0].threads[2].node"},
        {[](auto& j) { j["workloads"][0]["threads"][2]["index"] = 1; }, "workloads[0].threads: thread index 1 appears twice"},
        {[](auto& j) { j["workloads"][0]["buffers"][0]["bytes"] = "1MiB"; }, "workloads[0].buffers[0].bytes: expected"},
        {[](auto& j) { j["workloads"][0]["buffers"][1]["clipped"] = 1; }, "workloads[0].buffers[1].clipped: expected a boolean"},
        {[](auto& j) { j["workloads"][0]["buffers"][1]["bytes"] = 400; }, "workloads[0].buffers[1].bytes: larger than"},
        {[](auto& j) { j["workloads"][0]["buffers"][1]["node"] = 0; }, "workloads[0].buffers: node 0 appears twice"},
        {[](auto& j) { j["workloads"][0]["cpuset"] = "0-"; }, "workloads[0].cpuset: bad CPU list"},
        {[](auto& j) { j["workloads"][0].erase("mems"); }, "workloads[0].mems: missing"},
    };
    for (const auto& c : cases) {
        nlohmann::json json = good;
        c.spoil(json);
        CAPTURE(json.dump());
        const std::string message = error_of(json);
        CAPTURE(message);
        CHECK(message.starts_with(c.message));
    }
}

TEST_CASE("plan diff: workloads that come and go, buffers and mems") {
    const Plan before = sample_plan();
    Plan after = before;
    after.workloads.erase(after.workloads.begin() + 1);  // "idle" gone (had nothing to stop)
    after.workloads[0].buffers[0].bytes = 2 << 20;
    after.workloads[0].buffers[0].requested_bytes = 2 << 20;
    after.workloads[0].mems.reset(1);  // "0-1" -> "0"
    after.workloads.push_back(
        WorkloadPlan{"new", {{0, 3, 0}}, {{0, 64, 64, false}}, CpuSet::parse_list("3"), CpuSet::parse_list("0")});
    const auto actions = diff_plans(before, after);
    std::vector<std::string> lines;
    for (const auto& a : actions) {
        lines.push_back(to_text(a));
    }
    const std::vector<std::string> expected = {
        "web: mems \"0-1\" -> \"0\"",
        "new: cpuset \"\" -> \"3\"",
        "new: mems \"\" -> \"0\"",
        "web: grow buffer on node 0 from 1MiB to 2MiB",
        "new: grow buffer on node 0 from 0B to 64B",
        "new: start thread 0 on cpu 3 (node 0)",
    };
    CHECK(lines == expected);
    CHECK(diff_plans(before, before).empty());
    // Everything of a workload that disappears is stopped and freed.
    const auto teardown = diff_plans(before, Plan{8, {}});
    CHECK(teardown.size() == 5);  // 3 threads, 2 buffers
    CHECK(std::holds_alternative<StopThread>(teardown.front()));
    CHECK(to_json(teardown.back())["action"] == "shrink_buffer");
    CHECK(to_json(teardown.back())["to_bytes"] == 0);
}

TEST_CASE("plan JSON: signed integers are read when not negative, negatives are refused by name") {
    const Plan plan = sample_plan();
    const nlohmann::json json = as_signed(to_json(plan));
    REQUIRE(json["generation"].is_number_integer());
    REQUIRE_FALSE(json["generation"].is_number_unsigned());
    REQUIRE_FALSE(json["workloads"][0]["threads"][1]["cpu"].is_number_unsigned());
    CHECK(plan_from_json(json) == plan);
    // As `hpctl plan --previous P.json` reads a file another tool wrote.
    const auto parsed = nlohmann::json::parse(R"({"generation": 3, "workloads": [{"name": "w",
        "threads": [{"index": 0, "cpu": 2, "node": 1}], "buffers": [{"node": 1, "bytes": 4096}],
        "cpuset": "2", "mems": "1"}]})");
    CHECK(plan_from_json(as_signed(parsed)) == plan_from_json(parsed));

    struct Case {
        std::function<void(nlohmann::json&)> spoil;
        const char* message;
    };
    const Case cases[] = {
        {[](auto& j) { j["generation"] = std::int64_t{-1}; },
         "generation: expected an integer in 0..18446744073709551614, got a negative number (-1)"},
        {[](auto& j) { j["workloads"][0]["threads"][1]["cpu"] = -4; },
         "workloads[0].threads[1].cpu: expected an integer in 0..1048575, got a negative number (-4)"},
        {[](auto& j) { j["workloads"][0]["threads"][0]["index"] = -1; },
         "workloads[0].threads[0].index: expected an integer in 0..1048575, got a negative number (-1)"},
        {[](auto& j) { j["workloads"][0]["buffers"][0]["bytes"] = std::int64_t{-1} << 40; },
         "workloads[0].buffers[0].bytes: expected an integer in 0..18446744073709551615, got a negative number "
         "(-1099511627776)"},
        {[](auto& j) { j["workloads"][0]["buffers"][1]["requested_bytes"] = -300; },
         "workloads[0].buffers[1].requested_bytes: expected an integer in 0..18446744073709551615, got a negative "
         "number (-300)"},
        {[](auto& j) { j["workloads"][0]["threads"][2]["node"] = std::int64_t{1} << 22; },
         "workloads[0].threads[2].node: expected an integer in 0..1048575, got 4194304"},
        {[](auto& j) { j["workloads"][0]["threads"][2]["node"] = 1.5; },
         "workloads[0].threads[2].node: expected an integer in 0..1048575, got a fractional number (1.5)"},
    };
    for (const auto& c : cases) {
        nlohmann::json spoiled = json;
        c.spoil(spoiled);
        CAPTURE(spoiled.dump());
        CHECK(error_of(spoiled) == c.message);
    }
}

TEST_CASE("append_json writes what to_json(plan).dump() writes") {
    Plan plan = sample_plan();
    // Names that need escaping, one that is not UTF-8 (replaced, as on the wire).
    plan.workloads.push_back(WorkloadPlan{"quote\" back\\slash\nnew\x01line \xc3\xa9t\xc3\xa9", {{2, 1u << 31, 7}},
                                          {{9, UINT64_MAX, UINT64_MAX, false}}, CpuSet::parse_list("0-2,64,1000"),
                                          CpuSet::parse_list("9")});
    plan.workloads.push_back(WorkloadPlan{"bad \xff utf-8", {}, {}, {}, {}});
    for (const std::uint64_t generation : {std::uint64_t{0}, std::uint64_t{7}, UINT64_MAX}) {
        plan.generation = generation;
        std::string text = "prefix";
        append_json(text, plan);
        CHECK(text == "prefix" + to_json(plan).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    Plan empty;
    std::string text;
    append_json(text, empty);
    CHECK(text == to_json(empty).dump());
    CHECK(text == R"({"generation":0,"workloads":[]})");
}
