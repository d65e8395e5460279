// Exact plans on small topologies, worked out by hand (tests/fixtures/planner/*/notes.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "plan/plan.hpp"
#include "plan/plan_diff.hpp"
#include "planner/planner.hpp"
#include "topology/topology.hpp"

using namespace hpplace;

namespace {

const std::filesystem::path fixtures = HPPLACE_FIXTURES "/planner";

nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    REQUIRE(in);
    return nlohmann::json::parse(in);
}

struct Case {
    Topology topology;
    Config config;
    std::optional<Plan> previous;
    Plan expected;
};

Case load_case(const std::string& name) {
    const auto dir = fixtures / name;
    Case c{topology_from_json(read_json(dir / "topology.json")), load_config(dir / "config.toml"), std::nullopt,
           plan_from_json(read_json(dir / "expected.json"))};
    if (std::filesystem::exists(dir / "previous.json")) {
        c.previous = plan_from_json(read_json(dir / "previous.json"));
    }
    return c;
}

}  // namespace

TEST_CASE("planner fixtures: exact plans") {
    for (const char* name : {"two_nodes", "two_nodes_cpu2_offline", "two_nodes_cpu2_back", "memoryless_node"}) {
        CAPTURE(name);
        const Case c = load_case(name);
        const Plan plan = c.previous ? make_plan(c.topology, c.config, *c.previous) : make_plan(c.topology, c.config);
        CHECK(to_json(plan) == to_json(c.expected));
        CHECK(plan == c.expected);
        // Planning again from the result changes nothing, not even the generation.
        CHECK(make_plan(c.topology, c.config, plan) == plan);
    }
}

TEST_CASE("planner fixtures: the diff of a CPU leaving") {
    const Case c = load_case("two_nodes_cpu2_offline");
    const std::vector<PlanAction> actions = diff_plans(*c.previous, c.expected);
    std::vector<std::string> lines;
    for (const auto& action : actions) {
        lines.push_back(to_text(action));
    }
    const std::vector<std::string> expected = {
        "web: stop thread 4 on cpu 2 (node 1)",
        "web: stop thread 5 on cpu 2 (node 1)",
        "web: shrink buffer on node 1 from 128MiB to 64MiB",
        "batch: shrink buffer on node 1 from 2GiB to 1GiB",
        "web: cpuset \"0-3\" -> \"0-1,3\"",
        "batch: cpuset \"2-3\" -> \"3\"",
        "batch: move thread 0 from cpu 2 (node 1) to cpu 3 (node 1)",
        "batch: move thread 2 from cpu 2 (node 1) to cpu 3 (node 1)",
    };
    CHECK(lines == expected);
    CHECK(to_json(actions[0]) ==
          nlohmann::json{{"action", "stop_thread"}, {"workload", "web"}, {"thread", {{"index", 4}, {"cpu", 2}, {"node", 1}}}});
    CHECK(to_json(actions[2])["action"] == "shrink_buffer");
    CHECK(to_json(actions[6]) == nlohmann::json{{"action", "move_thread"},
                                                {"workload", "batch"},
                                                {"index", 0},
                                                {"from", {{"index", 0}, {"cpu", 2}, {"node", 1}}},
                                                {"to", {{"index", 0}, {"cpu", 3}, {"node", 1}}}});
    // And back: the CPU's arrival only starts threads and grows buffers.
    const Case back = load_case("two_nodes_cpu2_back");
    for (const auto& action : diff_plans(*back.previous, back.expected)) {
        CAPTURE(to_text(action));
        const std::string kind = to_json(action)["action"];
        CHECK((kind == "start_thread" || kind == "grow_buffer" || kind == "set_cpuset"));
    }
}
