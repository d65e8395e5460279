#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "config/config.hpp"
#include "core/size.hpp"

using namespace hpplace;

TEST_CASE("config: a full file") {
    const Config config = parse_config(R"(
auto_online = "online_movable"
reserved_cpus = "0-1"
max_memory_share = 0.5

[[workload]]
name = "web"
threads_per_cpu = 2
nodes = "all"
buffer_per_cpu = "64MiB"
cgroup = "/sys/fs/cgroup/web"

[[workload]]
name = "batch"
threads = 12
nodes = [1, 0]
buffer_per_cpu = 4096
)",
                                       "c.toml");
    CHECK(config.auto_online == AutoOnline::online_movable);
    CHECK(config.reserved_cpus.to_list() == "0-1");
    CHECK(config.max_memory_share == doctest::Approx(0.5));
    REQUIRE(config.workloads.size() == 2);
    const Workload& web = config.workloads[0];
    CHECK(web.name == "web");
    CHECK(web.threads_per_cpu == 2);
    CHECK_FALSE(web.fixed_thread_count());
    CHECK_FALSE(web.nodes.has_value());
    CHECK(web.uses_node(7));
    CHECK(web.buffer_per_cpu == 64ULL << 20);
    CHECK(web.cgroup == "/sys/fs/cgroup/web");
    const Workload& batch = config.workloads[1];
    CHECK(batch.threads == 12u);
    CHECK(batch.nodes == std::vector<unsigned>{0, 1});
    CHECK(batch.uses_node(1));
    CHECK_FALSE(batch.uses_node(2));
    CHECK(batch.buffer_per_cpu == 4096);
    CHECK_FALSE(batch.cgroup.has_value());
}

TEST_CASE("config: defaults and an empty file") {
    const Config empty = parse_config("", "empty.toml");
    CHECK(empty.auto_online == AutoOnline::off);
    CHECK(empty.workloads.empty());
    CHECK(empty.reserved_cpus.empty());
    CHECK(empty.max_memory_share == 1.0);
    const Config one = parse_config("[[workload]]\nname = \"w\"\n", "one.toml");
    REQUIRE(one.workloads.size() == 1);
    CHECK(one.workloads[0].threads_per_cpu == 1);
    CHECK(one.workloads[0].buffer_per_cpu == 0);
    CHECK(parse_config("reserved_cpus = [3, 1]\n", "r.toml").reserved_cpus.to_list() == "1,3");
    CHECK(parse_config("max_memory_share = 1\n", "m.toml").max_memory_share == 1.0);
}

TEST_CASE("sizes") {
    CHECK(parse_size("0") == 0);
    CHECK(parse_size("4096") == 4096);
    CHECK(parse_size("512KiB") == 512ULL << 10);
    CHECK(parse_size("64MiB") == 64ULL << 20);
    CHECK(parse_size("64 MiB") == 64ULL << 20);
    CHECK(parse_size("1GiB") == 1ULL << 30);
    CHECK(parse_size("3TiB") == 3ULL << 40);
    CHECK(parse_size("7B") == 7);
    CHECK(format_size_readable(64ULL << 20) == "64MiB");
    CHECK(format_size_readable(1000) == "1000B");
    CHECK(format_size_readable(53687091) == "~51.2MiB");
    CHECK(format_size_readable(1536) == "~1.5KiB");

    CHECK_THROWS_WITH(parse_size("64MB"), doctest::Contains("\"64MB\""));
    CHECK_THROWS(parse_size("MiB"));
    CHECK_THROWS(parse_size("-1"));
    CHECK_THROWS(parse_size("1.5GiB"));
    CHECK_THROWS(parse_size("99999999999999999999"));
    CHECK_THROWS(parse_size("17179869184GiB"));
    CHECK(format_size(64ULL << 20) == "64MiB");
    CHECK(format_size(1000) == "1000B");
    CHECK(format_size(0) == "0B");
    CHECK(format_size(3ULL << 40) == "3TiB");
    for (const std::uint64_t bytes : {1ULL, 1023ULL, 1024ULL, 1536ULL << 20, 5ULL << 30}) {
        CHECK(parse_size(format_size(bytes)) == bytes);
    }
}

namespace {

// The message of the ConfigError that `text` raises.
std::string error_of(const std::string& text) {
    try {
        parse_config(text, "/etc/hpplaced/bad.toml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("config: every error names file, line and key") {
    struct Case {
        const char* text;
        const char* where;  // "FILE:LINE: key \"K\""
        const char* problem;
    };
    const Case cases[] = {
        {"auto_online = \"sometimes\"\n", ":1: key \"auto_online\"", "\"sometimes\""},
        {"auto_online = 1\n", ":1: key \"auto_online\"", "expected a string"},
        {"\n\nfrobnicate = 1\n", ":3: key \"frobnicate\"", "unknown key"},
        {"reserved_cpus = \"0-x\"\n", ":1: key \"reserved_cpus\"", "0-x"},
        {"reserved_cpus = [1, -2]\n", ":1: key \"reserved_cpus\"", "CPU number"},
        {"max_memory_share = 0\n", ":1: key \"max_memory_share\"", "(0, 1]"},
        {"max_memory_share = 1.5\n", ":1: key \"max_memory_share\"", "(0, 1]"},
        {"max_memory_share = \"half\"\n", ":1: key \"max_memory_share\"", "\"half\""},
        {"workload = 3\n", ":1: key \"workload\"", "array of tables"},
        {"[[workload]]\nthreads = 2\n", ":1: key \"workload[0].name\"", "missing"},
        {"[[workload]]\nname = \"\"\n", ":2: key \"workload[0].name\"", "empty"},
        {"[[workload]]\nname = \"a\"\n[[workload]]\nname = \"a\"\n", ":4: key \"workload[1].name\"", "twice"},
        {"[[workload]]\nname = \"a\"\nthreads_per_cpu = 0\n", ":3: key \"workload[0].threads_per_cpu\"", "1..1024"},
        {"[[workload]]\nname = \"a\"\nthreads_per_cpu = \"x\"\n", ":3: key \"workload[0].threads_per_cpu\"",
         "\"x\""},
        {"[[workload]]\nname = \"a\"\nthreads = -1\n", ":3: key \"workload[0].threads\"", "-1"},
        {"[[workload]]\nname = \"a\"\nthreads_per_cpu = 2\nthreads = 4\n", ":3: key \"workload[0].threads_per_cpu\"",
         "not both"},
        {"[[workload]]\nname = \"a\"\nnodes = \"some\"\n", ":3: key \"workload[0].nodes\"", "\"all\""},
        {"[[workload]]\nname = \"a\"\nnodes = []\n", ":3: key \"workload[0].nodes\"", "non-empty"},
        {"[[workload]]\nname = \"a\"\nnodes = [0,\n 1,\n 0]\n", ":5: key \"workload[0].nodes\"", "twice"},
        {"[[workload]]\nname = \"a\"\nnodes = [0, 1.5]\n", ":3: key \"workload[0].nodes\"", "node id"},
        {"[[workload]]\nname = \"a\"\nbuffer_per_cpu = \"64MB\"\n", ":3: key \"workload[0].buffer_per_cpu\"",
         "KiB"},
        {"[[workload]]\nname = \"a\"\nbuffer_per_cpu = -5\n", ":3: key \"workload[0].buffer_per_cpu\"", "-5"},
        {"[[workload]]\nname = \"a\"\nbuffer_per_cpu = \"2TiB\"\n", ":3: key \"workload[0].buffer_per_cpu\"",
         "1TiB"},
        {"[[workload]]\nname = \"a\"\ncgroup = \"web\"\n", ":3: key \"workload[0].cgroup\"", "absolute"},
        {"[[workload]]\nname = \"a\"\n\n\ncolour = \"red\"\n", ":5: key \"workload[0].colour\"", "unknown key"},
        {"socket_group = \"\"\n", ":1: key \"socket_group\"", "group name or id"},
        {"socket_group = \"a:b\"\n", ":1: key \"socket_group\"", "group name or id"},
        {"socket_group = -1\n", ":1: key \"socket_group\"", "group id"},
        {"socket_group = 1.5\n", ":1: key \"socket_group\"", "string"},
        {"socket_mode = 0o1777\n", ":1: key \"socket_mode\"", "permission bits"},
        {"socket_mode = \"0668\"\n", ":1: key \"socket_mode\"", "permission bits"},
        {"socket_mode = true\n", ":1: key \"socket_mode\"", "permission bits"},
        {"[[workload]]\nname = \"a\"\nunit = 7\n", ":3: key \"workload[0].unit\"", "expected a string"},
        {"[[workload]]\nname = \"a\"\nunit = \"a.service\"\n[[workload]]\nname = \"b\"\nunit = \"a.service\"\n",
         ":6: key \"workload[1].unit\"", "unit \"a.service\" is workload \"a\"'s too"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const std::string message = error_of(c.text);
        CHECK(message.starts_with(std::string("/etc/hpplaced/bad.toml") + c.where));
        CHECK(message.find(c.problem) != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
    }
}

TEST_CASE("config: TOML syntax errors name file and line") {
    const std::string message = error_of("[[workload]]\nname = \"a\"\nthreads = = 3\n");
    CHECK(message.starts_with("/etc/hpplaced/bad.toml:3:"));
    CHECK(error_of("a = \"unterminated\n").starts_with("/etc/hpplaced/bad.toml:1:"));
}

TEST_CASE("config: files") {
    const std::filesystem::path dir = HPPLACE_FIXTURES "/planner";
    const Config config = load_config(dir / "two_nodes" / "config.toml");
    CHECK_FALSE(config.workloads.empty());
    CHECK_THROWS_WITH_AS(load_config(dir / "no-such-file.toml"), doctest::Contains("no-such-file.toml: cannot open"),
                         ConfigError);
    CHECK_THROWS_WITH_AS(load_config(dir), doctest::Contains("is a directory"), ConfigError);
}

TEST_CASE("config: inputs that trip toml++'s assertions get a clean error naming the file") {
    // toml++ built header-only with assertions aborts on these; the library we
    // link (Debian's) reports a parse error. Also replayed by the config fuzz harness.
    const std::string nul_table("[\0]\n", 4);
    CHECK(error_of(nul_table).starts_with("/etc/hpplaced/bad.toml:1:"));
    for (const char* key : {"\xc2\xa1 = 1\n", "\xd2\x99 = 1\n", "a\xd0\x80 = 1\n"}) {  // U+00A1, U+0499, U+0400
        CAPTURE(key);
        CHECK(error_of(key).starts_with("/etc/hpplaced/bad.toml:1:"));
    }
}

TEST_CASE("config: socket_group and socket_mode, for the socket the daemon binds") {
    const Config none = parse_config("", "c.toml");
    CHECK_FALSE(none.socket_group.has_value());
    CHECK(none.socket_mode == 0660);
    const Config named = parse_config("socket_group = \"hpplace\"\nsocket_mode = 0o600\n", "c.toml");
    CHECK(named.socket_group == "hpplace");
    CHECK(named.socket_mode == 0600);
    const Config numbered = parse_config("socket_group = 61000\nsocket_mode = \"0660\"\n", "c.toml");
    CHECK(numbered.socket_group == "61000");
    CHECK(numbered.socket_mode == 0660);
}
