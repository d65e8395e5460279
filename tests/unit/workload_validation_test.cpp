// One set of limits for workloads: a [[workload]] of the config file and the
// same workload registered over the control socket (workload_from_json) are
// refused for the same key, and what is accepted is the same Workload.
#include <doctest/doctest.h>

#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "control/documents.hpp"
#include "core/quoted.hpp"
#include "config/config.hpp"
#include "planner/planner.hpp"
#include "topology/topology.hpp"

using namespace hpplace;
using nlohmann::json;

namespace {

std::string config_error(const std::string& toml) {
    try {
        parse_config("[[workload]]\n" + toml, "/etc/hpplaced/w.toml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

std::string register_error(const json& workload) {
    try {
        control::workload_from_json(workload);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("workload limits: the config file and a register refuse the same workloads for the same key") {
    struct Case {
        std::string toml;  // after [[workload]]
        json registered;
        std::string key;
        std::string problem;
    };
    const std::string long_name(60000, 'n');
    const Case cases[] = {
        {"name = \"a\"\nthreads_per_cpu = 1025\n", {{"name", "a"}, {"threads_per_cpu", 1025}}, "threads_per_cpu",
         "1..1024"},
        {"name = \"a\"\nthreads_per_cpu = 1048576\n", {{"name", "a"}, {"threads_per_cpu", 1U << 20}},
         "threads_per_cpu", "1..1024"},
        {"name = \"a\"\nthreads_per_cpu = 0\n", {{"name", "a"}, {"threads_per_cpu", 0}}, "threads_per_cpu", "1..1024"},
        {"name = \"a\"\nthreads = 1048577\n", {{"name", "a"}, {"threads", (1U << 20) + 1}}, "threads",
         "0..1048576"},
        {"name = \"a\"\nnodes = []\n", {{"name", "a"}, {"nodes", json::array()}}, "nodes", "non-empty"},
        {"name = \"a\"\nnodes = [1, 0, 1]\n", {{"name", "a"}, {"nodes", {1, 0, 1}}}, "nodes", "node 1 listed twice"},
        {"name = \"a\"\nnodes = [65536]\n", {{"name", "a"}, {"nodes", {65536}}}, "nodes", "0..65535"},
        {"name = \"a\"\nbuffer_per_cpu = 1099511627777\n", {{"name", "a"}, {"buffer_per_cpu", (1ULL << 40) + 1}},
         "buffer_per_cpu", "1TiB"},
        {"name = \"a\"\nbuffer_per_cpu = 9223372036854775807\n",
         {{"name", "a"}, {"buffer_per_cpu", std::numeric_limits<std::int64_t>::max()}}, "buffer_per_cpu", "1TiB"},
        {"name = \"a\"\ncgroup = \"/sys/fs/cgroup/../../etc\"\n", {{"name", "a"}, {"cgroup", "/sys/fs/cgroup/../../etc"}},
         "cgroup", "\"..\""},
        {"name = \"a\"\ncgroup = \"/sys/fs/cgroup/./web\"\n", {{"name", "a"}, {"cgroup", "/sys/fs/cgroup/./web"}},
         "cgroup", "\".\""},
        {"name = \"a\"\ncgroup = \"web\"\n", {{"name", "a"}, {"cgroup", "web"}}, "cgroup", "absolute"},
        {"name = \"a\"\ncgroup = \"/sys/fs/cgroup/a\\nb\"\n", {{"name", "a"}, {"cgroup", "/sys/fs/cgroup/a\nb"}},
         "cgroup", "control characters"},
        {"name = \"a\"\nunit = \"nginx\"\n", {{"name", "a"}, {"unit", "nginx"}}, "unit", ".service, .slice or .scope"},
        {"name = \"a\"\nunit = \"nginx.socket\"\n", {{"name", "a"}, {"unit", "nginx.socket"}}, "unit", ".scope"},
        {"name = \"a\"\nunit = \".service\"\n", {{"name", "a"}, {"unit", ".service"}}, "unit", "unit name like"},
        {"name = \"a\"\nunit = \"a b.service\"\n", {{"name", "a"}, {"unit", "a b.service"}}, "unit", "only letters"},
        {"name = \"a\"\nunit = \"x/y.service\"\n", {{"name", "a"}, {"unit", "x/y.service"}}, "unit", "only letters"},
        {"name = \"a\"\nunit = \"../x.service\"\n", {{"name", "a"}, {"unit", "../x.service"}}, "unit", "unit name like"},
        {"name = \"a\"\nunit = \"getty@.service\"\n", {{"name", "a"}, {"unit", "getty@.service"}}, "unit", "template"},
        {"name = \"a\"\nunit = \"" + std::string(250, 'u') + ".service\"\n",
         {{"name", "a"}, {"unit", std::string(250, 'u') + ".service"}}, "unit", "at most 255 bytes"},
        {"name = \"a\"\nunit = \"a.service\"\ncgroup = \"/sys/fs/cgroup/a\"\n",
         {{"name", "a"}, {"unit", "a.service"}, {"cgroup", "/sys/fs/cgroup/a"}}, "unit", "not both"},
        {"name = \"\"\n", {{"name", ""}}, "name", "empty"},
        {"name = \"web\\nhpplaced: forged\"\n", {{"name", "web\nhpplaced: forged"}}, "name", "control characters"},
        {"name = \"a\\u0000b\"\n", {{"name", std::string("a\0b", 3)}}, "name", "control characters"},
        {"name = \"" + long_name + "\"\n", {{"name", long_name}}, "name", "at most 128 bytes"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.registered.dump().substr(0, 200));
        const std::string from_file = config_error(c.toml);
        CHECK(from_file.find("key \"workload[0]." + c.key + "\"") != std::string::npos);
        CHECK(from_file.find(c.problem) != std::string::npos);
        const std::string from_register = register_error(c.registered);
        CHECK(from_register.starts_with("workload." + c.key));
        CHECK(from_register.find(c.problem) != std::string::npos);
        // Outside text never reaches a message raw: no newline, no NUL, no 60,000 bytes.
        for (const auto& message : {from_file, from_register}) {
            CHECK(message.find('\n') == std::string::npos);
            CHECK(message.find('\0') == std::string::npos);
            CHECK(message.size() < 400);
        }
    }
}

TEST_CASE("workload limits: what both accept is the same workload, nodes sorted") {
    const Config config = parse_config(
        "[[workload]]\nname = \"db\"\nthreads_per_cpu = 1024\nnodes = [1, 0]\nbuffer_per_cpu = \"1TiB\"\n"
        "cgroup = \"/sys/fs/cgroup/db.slice\"\n",
        "c.toml");
    const Workload registered = control::workload_from_json({{"name", "db"},
                                                            {"threads_per_cpu", 1024},
                                                            {"nodes", {1, 0}},
                                                            {"buffer_per_cpu", "1TiB"},
                                                            {"cgroup", "/sys/fs/cgroup/db.slice"}});
    REQUIRE(config.workloads.size() == 1);
    CHECK(config.workloads[0] == registered);
    CHECK(registered.nodes == std::vector<unsigned>{0, 1});
    CHECK_FALSE(workload_problem(registered));
}

TEST_CASE("workload limits: unit names both accept") {
    for (const std::string unit : {"nginx.service", "system-web.slice", "run-u7.scope", "getty@tty1.service",
                                   "a:b_c-d\\x2d.service"}) {
        CAPTURE(unit);
        const Config config = parse_config("[[workload]]\nname = \"w\"\nunit = '" + unit + "'\n", "c.toml");
        REQUIRE(config.workloads.size() == 1);
        CHECK(config.workloads[0].unit == unit);
        CHECK(control::workload_from_json({{"name", "w"}, {"unit", unit}}) == config.workloads[0]);
        CHECK(control::to_json(config.workloads[0]).at("unit") == unit);
    }
}

TEST_CASE("workload limits: integers past 2^64 and fractions are refused by a register") {
    for (const char* text : {R"({"name":"a","threads_per_cpu":18446744073709551617})",
                             R"({"name":"a","buffer_per_cpu":1e30})", R"({"name":"a","threads":4294967296})",
                             R"({"name":"a","nodes":[4294967296]})", R"({"name":"a","threads_per_cpu":1.5})"}) {
        CAPTURE(text);
        CHECK_THROWS_AS(control::workload_from_json(json::parse(text)), std::invalid_argument);
    }
}

TEST_CASE("quoted_text: escapes control characters, marks bytes that are not UTF-8, cuts long text") {
    CHECK(quoted_text("web") == "\"web\"");
    CHECK(quoted_text("a\nb\"c\\") == "\"a\\nb\\\"c\\\\\"");
    CHECK(quoted_text(std::string("a\0b", 3)) == "\"a\\u0000b\"");
    CHECK(quoted_text("\xff\xc3\xa9") == "\"\\xff\xc3\xa9\"");
    CHECK(quoted_text(std::string(60000, 'x'), 4) == "\"xxxx...\" (60000 bytes)");
    // A cut never splits a character.
    CHECK(quoted_text("ab\xc3\xa9", 3) == "\"ab...\" (4 bytes)");
    CHECK(is_valid_utf8("caf\xc3\xa9"));
    CHECK_FALSE(is_valid_utf8("\xc0\x80"));      // overlong NUL
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));  // a surrogate
}

TEST_CASE("planner: buffer sizes saturate instead of wrapping") {
    // Only make_plan's own arithmetic: the config would refuse 2^63 per CPU.
    Topology topology;
    NumaNode node;
    node.id = 0;
    node.cpus = CpuSet::parse_list("0-1");
    node.memory_bytes = std::uint64_t{1} << 30;
    node.distances = {10};
    topology.nodes.push_back(node);
    Config config;
    Workload huge;
    huge.name = "huge";
    huge.buffer_per_cpu = std::uint64_t{1} << 63;
    config.workloads.push_back(huge);
    const Plan plan = make_plan(topology, config);
    const auto* planned = plan.find_workload("huge");
    REQUIRE(planned != nullptr);
    REQUIRE(planned->buffers.size() == 1);
    CHECK(planned->buffers[0].requested_bytes == std::numeric_limits<std::uint64_t>::max());
    CHECK(planned->buffers[0].clipped);
    CHECK(planned->buffers[0].bytes == node.memory_bytes);
}
