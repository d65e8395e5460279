#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>

#include "core/log.hpp"
#include "core/version.hpp"
#include "service/metrics.hpp"

using namespace hpplace;
using namespace std::chrono_literals;

namespace {

// A minimal reader of the Prometheus text format: samples by "name{labels}",
// and the TYPE and HELP of each family. Fails the test on a malformed line.
struct Exposition {
    std::map<std::string, double> samples;
    std::map<std::string, std::string> types;
    std::set<std::string> helped;
    std::vector<std::string> order;  // sample keys as they appear
};

Exposition parse_exposition(const std::string& text) {
    Exposition out;
    REQUIRE(!text.empty());
    REQUIRE(text.back() == '\n');
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        REQUIRE_MESSAGE(!line.empty(), "empty line in exposition");
        if (line.starts_with("# HELP ")) {
            std::istringstream words(line.substr(7));
            std::string name;
            words >> name;
            out.helped.insert(name);
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            std::istringstream words(line.substr(7));
            std::string name;
            std::string type;
            words >> name >> type;
            REQUIRE_MESSAGE((type == "counter" || type == "gauge" || type == "histogram"), line);
            out.types[name] = type;
            continue;
        }
        REQUIRE_MESSAGE(line[0] != '#', line);
        const auto space = line.rfind(' ');
        REQUIRE_MESSAGE(space != std::string::npos, line);
        const std::string key = line.substr(0, space);
        const std::string value = line.substr(space + 1);
        char* end = nullptr;
        const double number = value == "+Inf" ? HUGE_VAL : std::strtod(value.c_str(), &end);
        REQUIRE_MESSAGE((value == "+Inf" || *end == '\0'), line);
        REQUIRE_MESSAGE(out.samples.count(key) == 0, "duplicate sample " << key);
        // Every sample belongs to a family announced before it.
        std::string family = key.substr(0, key.find('{'));
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
            if (family.ends_with(suffix) && out.types.count(family.substr(0, family.size() - std::strlen(suffix)))) {
                family = family.substr(0, family.size() - std::strlen(suffix));
            }
        }
        REQUIRE_MESSAGE(out.types.count(family) == 1, "no TYPE for " << key);
        REQUIRE_MESSAGE(out.helped.count(family) == 1, "no HELP for " << key);
        REQUIRE_MESSAGE(family.starts_with("hpplaced_"), key);
        out.samples[key] = number;
        out.order.push_back(key);
    }
    return out;
}

}  // namespace

TEST_CASE("Histogram: buckets are cumulative, +Inf is the count") {
    Histogram h({0.1, 1, 10});
    for (const double v : {0.05, 0.1, 0.5, 3.0, 100.0}) {
        h.observe(v);
    }
    CHECK(h.cumulative_counts() == std::vector<std::uint64_t>{2, 3, 4});
    CHECK(h.count() == 5);
    CHECK(h.sum() == doctest::Approx(103.65));
    CHECK_THROWS_AS(Histogram({1, 1}), std::invalid_argument);
    CHECK_THROWS_AS(Histogram({2, 1}), std::invalid_argument);
}

TEST_CASE("Metrics: a fresh registry renders every family at zero") {
    const Metrics metrics;
    const auto parsed = parse_exposition(metrics.render());
    CHECK(parsed.types.at("hpplaced_events_total") == "counter");
    CHECK(parsed.types.at("hpplaced_plan_generation") == "gauge");
    CHECK(parsed.types.at("hpplaced_recompute_duration_seconds") == "histogram");
    CHECK(parsed.types.at("hpplaced_apply_duration_seconds") == "histogram");
    for (unsigned t = 1; t <= event_type_count; ++t) {
        const std::string key =
            "hpplaced_events_total{type=\"" + std::string(to_string(static_cast<EventType>(t))) + "\"}";
        CHECK_MESSAGE(parsed.samples.at(key) == 0, key);
    }
    CHECK(parsed.samples.at("hpplaced_apply_errors_total{applier=\"cgroup\"}") == 0);
    CHECK(parsed.samples.at("hpplaced_apply_errors_total{applier=\"auto_online\"}") == 0);
    CHECK(parsed.samples.at("hpplaced_recompute_duration_seconds_bucket{le=\"+Inf\"}") == 0);
}

TEST_CASE("Metrics: counts render and parse back") {
    // Counted by their owners, read at each render.
    control::EventCounters owned{.received = 3, .last_seq = 0, .lost = 5, .resyncs = 1, .rejected = 2, .overruns = 4};
    Metrics metrics([&] { return control::Status{.events = owned}; });
    metrics.count_event(EventType::cpu_online);
    metrics.count_event(EventType::cpu_online);
    metrics.count_event(EventType::mem_block_added);
    metrics.observe_recompute(2ms);
    metrics.observe_recompute(300ms);
    metrics.observe_recompute(20s);
    metrics.set_plan_generation(42);
    metrics.count_apply_errors("cgroup", 2);
    metrics.count_apply_errors("auto_online");
    metrics.observe_apply(50us);

    CHECK(metrics.events_received() == 3);
    CHECK(metrics.apply_errors() == 3);
    const auto parsed = parse_exposition(metrics.render());
    CHECK(parsed.samples.at("hpplaced_events_total{type=\"cpu_online\"}") == 2);
    CHECK(parsed.samples.at("hpplaced_events_total{type=\"mem_block_added\"}") == 1);
    CHECK(parsed.samples.at("hpplaced_events_total{type=\"cpu_arrived\"}") == 0);
    CHECK(parsed.samples.at("hpplaced_events_lost_total") == 5);
    CHECK(parsed.samples.at("hpplaced_resyncs_total") == 1);
    CHECK(parsed.samples.at("hpplaced_events_rejected_total") == 2);
    CHECK(parsed.samples.at("hpplaced_event_overruns_total") == 4);
    CHECK(parsed.samples.at("hpplaced_recomputes_total") == 3);
    CHECK(parsed.samples.at("hpplaced_plan_generation") == 42);
    CHECK(parsed.samples.at("hpplaced_apply_errors_total{applier=\"cgroup\"}") == 2);
    CHECK(parsed.samples.at("hpplaced_apply_errors_total{applier=\"auto_online\"}") == 1);

    const std::string recompute = "hpplaced_recompute_duration_seconds";
    CHECK(parsed.samples.at(recompute + "_bucket{le=\"0.001\"}") == 0);
    CHECK(parsed.samples.at(recompute + "_bucket{le=\"0.0025\"}") == 1);
    CHECK(parsed.samples.at(recompute + "_bucket{le=\"0.5\"}") == 2);
    CHECK(parsed.samples.at(recompute + "_bucket{le=\"10\"}") == 2);
    CHECK(parsed.samples.at(recompute + "_bucket{le=\"+Inf\"}") == 3);
    CHECK(parsed.samples.at(recompute + "_count") == 3);
    CHECK(parsed.samples.at(recompute + "_sum") == doctest::Approx(20.302));
    CHECK(parsed.samples.at("hpplaced_apply_duration_seconds_bucket{le=\"0.0001\"}") == 1);

    // Buckets appear in increasing le order and never decrease.
    double previous_le = -1;
    double previous_count = 0;
    for (const auto& key : parsed.order) {
        if (!key.starts_with(recompute + "_bucket{le=\"")) {
            continue;
        }
        const std::string le = key.substr(recompute.size() + 12, key.size() - recompute.size() - 14);
        const double bound = le == "+Inf" ? HUGE_VAL : std::strtod(le.c_str(), nullptr);
        CHECK(bound > previous_le);
        CHECK(parsed.samples.at(key) >= previous_count);
        previous_le = bound;
        previous_count = parsed.samples.at(key);
    }
    CHECK(previous_le == HUGE_VAL);

    owned.lost = 9;
    owned.resyncs = 2;
    const auto later = parse_exposition(metrics.render());
    CHECK(later.samples.at("hpplaced_events_lost_total") == 9);
    CHECK(later.samples.at("hpplaced_resyncs_total") == 2);
}

TEST_CASE("Metrics: odd applier names are escaped") {
    Metrics metrics;
    metrics.count_apply_errors("we\"ird\\", 1);
    const auto parsed = parse_exposition(metrics.render());
    CHECK(parsed.samples.at("hpplaced_apply_errors_total{applier=\"we\\\"ird\\\\\"}") == 1);
}

TEST_CASE("Metrics: build info, event source, nodes, config loads") {
    control::Status status{.source = EventSource::udev,
                           .nodes = {{.id = 0, .cpus = CpuSet::parse_list("0-1"), .memory_bytes = 1 << 30},
                                     {.id = 3, .cpus = {}, .memory_bytes = 512 << 20}}};
    Metrics metrics([&] { return status; });
    auto parsed = parse_exposition(metrics.render());
    CHECK(parsed.types.at("hpplaced_build_info") == "gauge");
    const std::string build_info = "hpplaced_build_info{version=\"" + std::string(version()) + "\",revision=\"" +
                                   std::string(revision()) + "\"}";
    CHECK(parsed.samples.at(build_info) == 1);
    CHECK(parsed.samples.at("hpplaced_event_source{source=\"kernel\"}") == 0);
    CHECK(parsed.samples.at("hpplaced_event_source{source=\"udev\"}") == 1);
    CHECK(parsed.samples.at("hpplaced_event_source{source=\"sysfs\"}") == 0);
    CHECK(parsed.samples.at("hpplaced_node_online_cpus{node=\"0\"}") == 2);
    CHECK(parsed.samples.at("hpplaced_node_online_cpus{node=\"3\"}") == 0);
    CHECK(parsed.samples.at("hpplaced_node_online_memory_bytes{node=\"0\"}") == 1 << 30);
    CHECK(parsed.samples.at("hpplaced_node_online_memory_bytes{node=\"3\"}") == 512 << 20);
    // No config loaded yet: no reload series.
    CHECK(parsed.types.count("hpplaced_config_last_reload_successful") == 0);

    // Sampled at each render: a source switch and a node's CPUs show at once.
    status.source = EventSource::kernel;
    status.nodes[1].cpus = CpuSet::parse_list("4");
    const auto start = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    metrics.record_config_load(true, start);
    parsed = parse_exposition(metrics.render());
    CHECK(parsed.samples.at("hpplaced_event_source{source=\"kernel\"}") == 1);
    CHECK(parsed.samples.at("hpplaced_event_source{source=\"udev\"}") == 0);
    CHECK(parsed.samples.at("hpplaced_node_online_cpus{node=\"3\"}") == 1);
    CHECK(parsed.types.at("hpplaced_config_last_reload_successful") == "gauge");
    CHECK(parsed.samples.at("hpplaced_config_last_reload_successful") == 1);
    CHECK(parsed.samples.at("hpplaced_config_last_reload_success_timestamp_seconds") == 1'700'000'000);

    // A failed reload: unsuccessful, and the time of the last success stays.
    metrics.record_config_load(false, start + 60s);
    parsed = parse_exposition(metrics.render());
    CHECK(parsed.samples.at("hpplaced_config_last_reload_successful") == 0);
    CHECK(parsed.samples.at("hpplaced_config_last_reload_success_timestamp_seconds") == 1'700'000'000);
    metrics.record_config_load(true, start + 120s + 500ms);
    parsed = parse_exposition(metrics.render());
    CHECK(parsed.samples.at("hpplaced_config_last_reload_successful") == 1);
    CHECK(parsed.samples.at("hpplaced_config_last_reload_success_timestamp_seconds") == 1'700'000'120.5);
}

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs the loop until the metrics file's jobs have come back.
void settle(boost::asio::io_context& io) {
    io.run();
    io.restart();
}

}  // namespace

TEST_CASE("write_file_atomically and MetricsFile") {
    std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-metrics-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    const std::filesystem::path dir = pattern;
    const auto path = dir / "hpplaced.prom";

    // 0644 whatever the umask (a unit's UMask=0027).
    const mode_t umask_before = ::umask(027);
    write_file_atomically(path, "one\n");
    write_file_atomically(path, "two\n");
    CHECK(read_text(path) == "two\n");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    // No temp file is left behind.
    CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);

    boost::asio::io_context io;
    Metrics metrics;
    metrics.set_plan_generation(7);
    std::vector<std::string> log;
    MetricsFile file(io.get_executor(), path, [&](const std::string& line) { log.push_back(line); });
    file.write(metrics);
    settle(io);
    CHECK(file.written() == 1);
    CHECK(parse_exposition(read_text(path)).samples.at("hpplaced_plan_generation") == 7);
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    CHECK(log.empty());

    // A burst: the last text wins.
    for (std::uint64_t generation = 8; generation <= 20; ++generation) {
        metrics.set_plan_generation(generation);
        file.write(metrics);
    }
    settle(io);
    CHECK(file.written() >= 2);
    CHECK(parse_exposition(read_text(path)).samples.at("hpplaced_plan_generation") == 20);

    // A directory that does not exist: logged once at info, not thrown, written once it exists.
    MetricsFile absent(io.get_executor(), dir / "missing" / "x.prom",
                       [&](const std::string& line) { log.push_back(line); }, 0ms);
    absent.write(metrics);
    settle(io);
    absent.write(metrics);
    settle(io);
    CHECK(absent.failing());
    REQUIRE(log.size() == 1);
    CHECK(log::parse(log[0]).priority == log::Priority::info);
    CHECK(log[0].find("missing") != std::string::npos);
    std::filesystem::create_directory(dir / "missing");
    absent.write(metrics);
    settle(io);
    CHECK_FALSE(absent.failing());
    CHECK(absent.written() == 1);
    CHECK(log.size() == 2);

    // Until the retry interval has passed, a missing directory costs no attempt.
    MetricsFile waiting(io.get_executor(), dir / "later" / "x.prom", [&](const std::string& line) { log.push_back(line); },
                        1h);
    waiting.write(metrics);
    settle(io);
    REQUIRE(log.size() == 3);
    std::filesystem::create_directory(dir / "later");
    waiting.write(metrics);
    settle(io);
    CHECK(waiting.written() == 0);
    CHECK(waiting.failing());
    log.pop_back();
    std::filesystem::remove(dir / "later");

    // Any other failure (a directory where the file should be) is a warning.
    std::filesystem::create_directory(dir / "blocked.prom");
    MetricsFile blocked(io.get_executor(), dir / "blocked.prom", [&](const std::string& line) { log.push_back(line); });
    blocked.write(metrics);
    settle(io);
    REQUIRE(log.size() == 3);
    CHECK(log::parse(log[2]).priority == log::Priority::warning);
    CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 3);

    ::umask(umask_before);
    std::filesystem::remove_all(dir);
}
