// The Daemon assembled with fake event sources, a temp config, a temp cgroup
// tree and a temp control socket; the real planner and cgroup applier.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "planner/config.hpp"
#include "service/daemon.hpp"

using namespace hpplace;

namespace {

class FakeSource final : public HotplugSource {
public:
    FakeSource(EventSource kind, SourceListener** out) : kind_(kind), out_(out) {}
    ~FakeSource() override { stop(); }
    EventSource kind() const noexcept override { return kind_; }
    void start(SourceListener& listener) override { *out_ = &listener; }
    void stop() noexcept override { *out_ = nullptr; }

private:
    EventSource kind_;
    SourceListener** out_;
};

std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

Topology machine() {
    Topology topology;
    NumaNode node0;
    node0.id = 0;
    node0.cpus = CpuSet::range(0, 1);
    node0.memory_bytes = 512ull << 20;
    node0.distances = {10, 20};
    NumaNode node1;
    node1.id = 1;
    node1.cpus = CpuSet::range(2, 2);
    node1.offline_cpus = CpuSet::range(3, 3);
    node1.memory_bytes = 512ull << 20;
    node1.distances = {20, 10};
    topology.nodes = {node0, node1};
    return topology;
}

struct DaemonRig {
    std::filesystem::path dir;
    boost::asio::io_context io;
    SourceListener* kernel = nullptr;
    SourceListener* udev = nullptr;
    Topology sysfs = machine();
    std::vector<std::string> notifications;
    std::vector<std::string> log;
    DaemonOptions options;

    DaemonRig() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplaced-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        dir = pattern;
        std::filesystem::create_directories(dir / "cgroup/web");
        write(dir / "cgroup/cgroup.subtree_control", "cpuset memory\n");
        write(dir / "cgroup/web/cpuset.cpus", "\n");
        write(dir / "cgroup/web/cpuset.mems", "\n");
        write(dir / "hpplaced.conf",
              "[[workload]]\nname = \"web\"\nthreads_per_cpu = 1\nnodes = \"all\"\nbuffer_per_cpu = \"1MiB\"\n"
              "cgroup = \"" + (dir / "cgroup/web").string() + "\"\n");
        options.config_path = dir / "hpplaced.conf";
        options.config_explicit = true;
        options.socket_path = dir / "hpplaced.sock";
        options.sysfs_root = dir / "sys";
        options.cgroup_root = dir / "cgroup";
    }
    ~DaemonRig() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }

    std::unique_ptr<Daemon> make() {
        TrackerEnvironment environment{
            .read_topology = [this] { return sysfs; },
            .open_kernel_source = [this]() -> std::unique_ptr<HotplugSource> {
                return std::make_unique<FakeSource>(EventSource::kernel, &kernel);
            },
            .open_udev_source = [this]() -> std::unique_ptr<HotplugSource> {
                return std::make_unique<FakeSource>(EventSource::udev, &udev);
            },
            .open_family_watcher = {},
        };
        return std::make_unique<Daemon>(
            io, options, [this](const std::string& state) { notifications.push_back(state); },
            [this](const std::string& line) { log.push_back(line); }, environment);
    }

    // Runs every handler that is ready (the control socket's accept stays pending).
    void settle() {
        while (io.poll() > 0) {
        }
        io.restart();
    }
};

Event cpu_online(unsigned cpu, unsigned node, std::uint64_t seq) {
    Event event;
    event.type = EventType::cpu_online;
    event.source = EventSource::kernel;
    event.seq = seq;
    event.cpu = cpu;
    event.node = node;
    return event;
}

}  // namespace

TEST_CASE("daemon: a missing explicit config is an error, a missing default one is not") {
    DaemonRig rig;
    rig.options.config_path = rig.dir / "absent.conf";
    CHECK_THROWS_AS(rig.make(), ConfigError);
    rig.options.config_explicit = false;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    CHECK(daemon->ready());
    CHECK(daemon->current_plan().workloads.empty());
}

TEST_CASE("daemon: READY after the first plan, cgroup follows the plan as CPUs come and go") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    CHECK_FALSE(daemon->ready());
    rig.settle();
    REQUIRE(daemon->ready());
    REQUIRE(rig.notifications.size() == 1);
    CHECK(rig.notifications[0].starts_with("READY=1"));
    CHECK(read(rig.dir / "cgroup/web/cpuset.cpus") == "0-2\n");
    CHECK(read(rig.dir / "cgroup/web/cpuset.mems") == "0-1\n");
    CHECK(daemon->current_plan().generation == 1);

    REQUIRE(rig.kernel != nullptr);
    rig.kernel->on_event(cpu_online(3, 1, 1));
    rig.settle();
    CHECK(read(rig.dir / "cgroup/web/cpuset.cpus") == "0-3\n");
    CHECK(daemon->current_plan().generation == 2);
    CHECK(rig.notifications.size() == 1);  // READY once

    const auto status = daemon->status_json();
    CHECK(status["source"] == "kernel");
    CHECK(status["events"]["received"] == 1);
    CHECK(status["events"]["last_seq"] == 1);
    CHECK(status["plan_generation"] == 2);
    CHECK(daemon->plan_json()["generation"] == 2);
    CHECK(daemon->metrics().events(EventType::cpu_online) == 1);
}

TEST_CASE("daemon: a restart with the same machine and config gives the same plan") {
    DaemonRig rig;
    nlohmann::json first;
    {
        auto daemon = rig.make();
        daemon->start();
        rig.settle();
        first = daemon->plan_json();
        daemon->stop();
        rig.settle();
    }
    auto again = rig.make();
    again->start();
    rig.settle();
    CHECK(again->plan_json() == first);
}

TEST_CASE("daemon: SIGHUP reload takes a new config, a bad one keeps the old") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    write(rig.dir / "hpplaced.conf", "[[workload]]\nname = \"web\"\nthreads_per_cpu = 1\nnodes = [1]\nbuffer_per_cpu = 0\n"
                                     "cgroup = \"" + (rig.dir / "cgroup/web").string() + "\"\n");
    daemon->reload();
    rig.settle();
    REQUIRE(rig.notifications.size() == 3);
    CHECK(rig.notifications[1] == "RELOADING=1");
    CHECK(rig.notifications[2].starts_with("READY=1"));
    CHECK(read(rig.dir / "cgroup/web/cpuset.cpus") == "2\n");
    CHECK(read(rig.dir / "cgroup/web/cpuset.mems") == "1\n");

    write(rig.dir / "hpplaced.conf", "[[workload]]\nname = 7\n");
    daemon->reload();
    rig.settle();
    CHECK(read(rig.dir / "cgroup/web/cpuset.cpus") == "2\n");
    bool logged = false;
    for (const auto& line : rig.log) {
        logged = logged || line.find("config reload failed") != std::string::npos;
    }
    CHECK(logged);
    CHECK(rig.notifications.back().starts_with("READY=1"));
}

TEST_CASE("daemon: a cgroup changed behind its back is healed at the next resync") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    write(rig.dir / "cgroup/web/cpuset.cpus", "0\n");
    rig.kernel->on_loss("receive buffer overrun (ENOBUFS)");
    rig.settle();
    CHECK(read(rig.dir / "cgroup/web/cpuset.cpus") == "0-2\n");
    CHECK(daemon->status_json()["events"]["resyncs"] == 1);
}
