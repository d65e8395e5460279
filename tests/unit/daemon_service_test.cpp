// The Daemon assembled with fake event sources, a temp config, a temp cgroup
// tree and a temp control socket; the real planner and cgroup applier.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "core/file_descriptor.hpp"
#include "fake_sources.hpp"
#include "config/config.hpp"
#include "fifo_file.hpp"
#include "service/daemon.hpp"

using namespace hpplace;
using hpplace::testing::cpu_event;
using hpplace::testing::FakeSource;
using hpplace::testing::FifoFile;
using hpplace::testing::two_node_machine;

namespace {

std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

struct DaemonRig {
    std::filesystem::path dir;
    boost::asio::io_context io;
    SourceListener* kernel = nullptr;
    SourceListener* udev = nullptr;
    StreamCounters kernel_stream;  // what the kernel source counted
    Topology sysfs = two_node_machine();
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

    std::shared_ptr<Daemon> make() {
        TrackerEnvironment environment{
            .read_topology = [this] { return sysfs; },
            .open_kernel_source = [this]() -> std::unique_ptr<HotplugSource> {
                return std::make_unique<FakeSource>(EventSource::kernel, &kernel, &kernel_stream);
            },
            .open_udev_source = [this]() -> std::unique_ptr<HotplugSource> {
                return std::make_unique<FakeSource>(EventSource::udev, &udev);
            },
            .open_family_watcher = {},
        };
        auto daemon = std::make_shared<Daemon>(
            io, options, [this](const std::string& state) { notifications.push_back(state); },
            [this](const std::string& line) { log.push_back(line); }, environment);
        made = daemon;
        return daemon;
    }

    // Runs every handler that is ready (the control socket's accept stays
    // pending), the coalesced replan the daemon has scheduled and, with
    // wait_for_appliers, the results of the daemon's cgroup and auto-online
    // jobs as they come back from their threads.
    void settle() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (;;) {
            while (io.poll() > 0) {
            }
            const auto daemon = made.lock();
            const bool replan = daemon && daemon->tracker().replan_pending();
            if (!replan && (!wait_for_appliers || !daemon || !daemon->applying())) {
                break;
            }
            if (std::chrono::steady_clock::now() > deadline) {
                FAIL("a replan or an applier's job did not come in 10 s");
            }
            io.restart();
            io.run_one_for(std::chrono::milliseconds(10));
        }
        io.restart();
    }

    bool wait_for_appliers = true;
    std::weak_ptr<Daemon> made;
};

// A control connection to the rig's daemon from the test thread: every wait
// for an answer runs the daemon's io_context meanwhile.
class Connection {
public:
    explicit Connection(DaemonRig& rig) : rig_(rig), fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(fd_);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, rig.options.socket_path.c_str());
        REQUIRE(::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
        rig_.settle();
    }

    // Sends one request line, returns the answer line as JSON.
    nlohmann::json ask(const std::string& request) {
        const std::string line = request + "\n";
        REQUIRE(::send(fd_.get(), line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size()));
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (received_.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            rig_.settle();
            pollfd pfd{.fd = fd_.get(), .events = POLLIN, .revents = 0};
            if (::poll(&pfd, 1, 10) > 0) {
                char buffer[4096];
                const ssize_t got = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
                REQUIRE(got > 0);
                received_.append(buffer, static_cast<std::size_t>(got));
            }
        }
        const auto end = received_.find('\n');
        REQUIRE(end != std::string::npos);
        const std::string answer = received_.substr(0, end);
        received_.erase(0, end + 1);
        rig_.settle();  // the replan a register or unregister posted
        return nlohmann::json::parse(answer);
    }

    // Closes the connection and lets the daemon notice.
    void close() {
        fd_ = FileDescriptor();
        rig_.settle();
    }

private:
    DaemonRig& rig_;
    FileDescriptor fd_;
    std::string received_;
};

std::vector<std::string> planned_names(const Daemon& daemon) {
    std::vector<std::string> names;
    for (const auto& workload : daemon.current_plan().workloads) {
        names.push_back(workload.name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

using Names = std::vector<std::string>;

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
    rig.kernel_stream = {.received = 1, .last_seq = 1, .lost = 0, .overruns = 0};
    rig.kernel->on_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    rig.settle();
    CHECK(read(rig.dir / "cgroup/web/cpuset.cpus") == "0-3\n");
    CHECK(daemon->current_plan().generation == 2);
    CHECK(rig.notifications.size() == 1);  // READY once

    const auto status = daemon->status_json();
    CHECK(status["source"] == "kernel");
    CHECK(status["events"]["received"] == 1);
    CHECK(status["events"]["last_seq"] == 1);
    CHECK(status["plan_generation"] == 2);
    CHECK(to_json(daemon->current_plan())["generation"] == 2);
    CHECK(daemon->metrics().events(EventType::cpu_online) == 1);
    // Both plans were computed and applied: each is in both latency histograms.
    CHECK(daemon->metrics().recomputes() == 2);
    CHECK(daemon->metrics().applies() == 2);
}

TEST_CASE("daemon: a restart with the same machine and config gives the same plan") {
    DaemonRig rig;
    nlohmann::json first;
    {
        auto daemon = rig.make();
        daemon->start();
        rig.settle();
        first = to_json(daemon->current_plan());
        daemon->stop();
        rig.settle();
    }
    auto again = rig.make();
    again->start();
    rig.settle();
    CHECK(to_json(again->current_plan()) == first);
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
        logged = logged || line.starts_with("<3>config reload failed");
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
    rig.kernel_stream = {.received = 0, .last_seq = 0, .lost = 1, .overruns = 1};
    rig.kernel->on_loss("receive buffer overrun (ENOBUFS)");
    rig.settle();
    CHECK(read(rig.dir / "cgroup/web/cpuset.cpus") == "0-2\n");
    CHECK(daemon->status_json()["events"]["resyncs"] == 1);
    CHECK(daemon->status_json()["events"]["lost"] == 1);
    // The metrics read the same counters when they render.
    const std::string metrics = daemon->metrics().render();
    CHECK(metrics.find("\nhpplaced_events_lost_total 1\n") != std::string::npos);
    CHECK(metrics.find("\nhpplaced_event_overruns_total 1\n") != std::string::npos);
    CHECK(metrics.find("\nhpplaced_resyncs_total 1\n") != std::string::npos);
}

TEST_CASE("daemon: a registered workload is planned until its connection closes") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    REQUIRE(planned_names(*daemon) == Names{"web"});

    Connection client(rig);
    const auto registered = client.ask(R"({"op":"register","id":1,"workload":{"name":"db","threads":2,"nodes":[1]}})");
    REQUIRE(registered["ok"] == true);
    CHECK(registered["result"] == nlohmann::json{{"workload", "db"}, {"configured", false}});
    CHECK(planned_names(*daemon) == Names{"db", "web"});
    const auto generation = daemon->current_plan().generation;

    // Bad requests: an error answer each, nothing planned lost, the connection stays.
    const std::vector<std::pair<std::string, std::string>> bad_requests{
        {R"({"op":"register","id":2})", R"("register" needs a "workload" object)"},
        {R"({"op":"register","id":3,"workload":{"name":""}})", R"("workload" needs a non-empty string "name")"},
        {R"({"op":"register","id":4,"workload":{"name":"x","threads_per_cpu":0}})",
         "register: workload.threads_per_cpu: expected an integer in 1..1024, got 0"},
        {R"({"op":"register","id":5,"workload":[1]})", R"("register" needs a "workload" object)"},
        {R"({"op":"unregister","id":6,"name":"nobody"})", R"(unregister: no registered workload "nobody")"},
    };
    for (const auto& [request, error] : bad_requests) {
        CAPTURE(request);
        const auto answer = client.ask(request);
        CHECK(answer["ok"] == false);
        CHECK(answer["error"] == error);
        CHECK(answer["id"] == nlohmann::json::parse(request)["id"]);
    }
    CHECK(planned_names(*daemon) == Names{"db", "web"});
    CHECK(daemon->current_plan().generation == generation);
    // A name the config file has stays the file's, also when the client goes.
    CHECK(client.ask(R"({"op":"register","id":7,"workload":{"name":"web","threads":1}})")["result"]["configured"] ==
          true);
    CHECK(client.ask(R"({"op":"status","id":8})")["ok"] == true);

    client.close();
    CHECK(planned_names(*daemon) == Names{"web"});
    CHECK(daemon->current_plan().generation == generation + 1);
    CHECK(std::count(rig.log.begin(), rig.log.end(), "<6>workload \"db\" unregistered") == 1);
}

TEST_CASE("daemon: a name registered by two connections stays until the last one closes") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    Connection first(rig);
    Connection second(rig);
    Connection third(rig);
    REQUIRE(first.ask(R"({"op":"register","workload":{"name":"db","threads":1}})")["ok"] == true);
    REQUIRE(second.ask(R"({"op":"register","workload":{"name":"db","threads":2}})")["ok"] == true);
    REQUIRE(third.ask(R"({"op":"register","workload":{"name":"batch","threads":1}})")["ok"] == true);
    CHECK(planned_names(*daemon) == Names{"batch", "db", "web"});

    second.close();
    CHECK(planned_names(*daemon) == Names{"batch", "db", "web"});
    // An explicit unregister is not undone or repeated by the close.
    CHECK(third.ask(R"({"op":"unregister","name":"batch"})")["ok"] == true);
    CHECK(planned_names(*daemon) == Names{"db", "web"});
    third.close();
    first.close();
    CHECK(planned_names(*daemon) == Names{"web"});
    // A reload keeps the config's workloads and brings back no released one.
    daemon->reload();
    rig.settle();
    CHECK(planned_names(*daemon) == Names{"web"});
}

TEST_CASE("daemon: a registered name the config file gains on reload stays the file's, also after the disconnect") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    Connection client(rig);
    REQUIRE(client.ask(R"({"op":"register","workload":{"name":"db","threads":3}})")["ok"] == true);
    const auto threads_of = [&](const std::string& name) {
        const auto* workload = daemon->current_plan().find_workload(name);
        REQUIRE(workload != nullptr);
        return workload->threads.size();
    };
    CHECK(threads_of("db") == 3);

    write(rig.dir / "hpplaced.conf",
          read(rig.dir / "hpplaced.conf") + "[[workload]]\nname = \"db\"\nthreads = 1\nnodes = \"all\"\n");
    daemon->reload();
    rig.settle();
    CHECK(planned_names(*daemon) == Names{"db", "web"});
    CHECK(threads_of("db") == 1);
    // Registering it again does not replace the file's definition.
    CHECK(client.ask(R"({"op":"register","workload":{"name":"db","threads":2}})")["result"]["configured"] == true);
    CHECK(threads_of("db") == 1);

    client.close();
    CHECK(planned_names(*daemon) == Names{"db", "web"});
    CHECK(threads_of("db") == 1);
}

TEST_CASE("daemon: a registered cgroup must lie below the cgroup root, as the config file's must") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    Connection client(rig);
    const std::string outside = (rig.dir / "elsewhere").string();
    std::filesystem::create_directories(outside);
    const auto answer = client.ask(
        nlohmann::json{{"op", "register"}, {"workload", {{"name", "db"}, {"cgroup", outside}}}}.dump());
    CHECK(answer["ok"] == false);
    CHECK(answer["error"].get<std::string>().find("is not below the cgroup root") != std::string::npos);
    const auto dotted = client.ask(R"({"op":"register","workload":{"name":"db","cgroup":")" +
                                   (rig.dir / "cgroup/../elsewhere").string() + R"("}})");
    CHECK(dotted["error"].get<std::string>().find("\"..\"") != std::string::npos);
    CHECK(planned_names(*daemon) == Names{"web"});
    CHECK_FALSE(std::filesystem::exists(outside + "/cpuset.cpus"));
    const auto inside = client.ask(nlohmann::json{{"op", "register"},
                                                  {"workload", {{"name", "db"}, {"cgroup", (rig.dir / "cgroup/db").string()}}}}
                                       .dump());
    CHECK(inside["ok"] == true);

    write(rig.dir / "hpplaced.conf", "[[workload]]\nname = \"web\"\ncgroup = \"" + outside + "\"\n");
    CHECK_THROWS_WITH_AS(load_daemon_config(rig.options), doctest::Contains("is not below the cgroup root"),
                         ConfigError);
}

TEST_CASE("daemon: a cgroup that leads out of the cgroup root through a symlink is refused, config and register") {
    DaemonRig rig;
    const auto outside = rig.dir / "elsewhere";
    std::filesystem::create_directories(outside / "deep");
    std::filesystem::create_directory_symlink(outside, rig.dir / "cgroup/link");
    std::filesystem::create_directory_symlink("../../elsewhere", rig.dir / "cgroup/web/up");
    std::filesystem::create_directory_symlink("web", rig.dir / "cgroup/inside");
    // RESOLVE_BENEATH refuses an absolute symlink even when it points back inside.
    std::filesystem::create_directory_symlink(rig.dir / "cgroup/web", rig.dir / "cgroup/absolute");
    for (const auto& cgroup : {rig.dir / "cgroup/link", rig.dir / "cgroup/link/deep", rig.dir / "cgroup/web/up",
                               rig.dir / "cgroup/link/not-yet", rig.dir / "cgroup/absolute"}) {
        CAPTURE(cgroup);
        write(rig.dir / "hpplaced.conf", "[[workload]]\nname = \"web\"\ncgroup = \"" + cgroup.string() + "\"\n");
        CHECK_THROWS_WITH_AS(load_daemon_config(rig.options), doctest::Contains("resolves outside the cgroup root"),
                             ConfigError);
    }
    // A relative symlink that stays below the root, and a cgroup not made yet, are fine.
    for (const auto& cgroup : {rig.dir / "cgroup/inside", rig.dir / "cgroup/not-yet/x"}) {
        CAPTURE(cgroup);
        write(rig.dir / "hpplaced.conf", "[[workload]]\nname = \"web\"\ncgroup = \"" + cgroup.string() + "\"\n");
        CHECK(load_daemon_config(rig.options).workloads.at(0).cgroup == cgroup.string());
    }
    write(rig.dir / "hpplaced.conf", "[[workload]]\nname = \"web\"\n");
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    Connection client(rig);
    const auto answer = client.ask(
        nlohmann::json{{"op", "register"}, {"workload", {{"name", "db"}, {"cgroup", (rig.dir / "cgroup/link").string()}}}}
            .dump());
    CHECK(answer["ok"] == false);
    CHECK(answer["error"].get<std::string>().find("resolves outside the cgroup root") != std::string::npos);
    CHECK(planned_names(*daemon) == Names{"web"});
}

TEST_CASE("daemon: a register storm on one connection costs the connection's share, closing it releases that") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    Connection client(rig);
    const auto started = std::chrono::steady_clock::now();
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (int i = 0; i < 2000; ++i) {
        const auto answer = client.ask(R"({"op":"register","workload":{"name":"w)" + std::to_string(i) + R"("}})");
        if (answer["ok"] == true) {
            ++accepted;
        } else {
            CHECK(answer["error"].get<std::string>().find("limit per connection") != std::string::npos);
            ++refused;
        }
    }
    const ControlServerLimits defaults;
    CHECK(accepted == defaults.max_workloads_per_client);
    CHECK(refused == 2000 - defaults.max_workloads_per_client);
    CHECK(planned_names(*daemon).size() == 1 + defaults.max_workloads_per_client);
    client.close();
    CHECK(planned_names(*daemon) == Names{"web"});
    // Generous for a loaded machine: the quadratic version took 12 s for 2000.
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
}

TEST_CASE("daemon: a plan too large for an answer is refused without building it; the connection stays") {
    DaemonRig rig;
    auto daemon = rig.make();
    daemon->start();
    rig.settle();
    Connection client(rig);
    // Within the limits (threads up to 2^20), but its plan document would be ~35 MB.
    REQUIRE(client.ask(R"({"op":"register","workload":{"name":"huge","threads":1048576}})")["ok"] == true);
    const auto started = std::chrono::steady_clock::now();
    const auto answer = client.ask(R"({"op":"plan"})");
    CHECK(answer["ok"] == false);
    CHECK(answer["error"].get<std::string>().find("more threads than an answer") != std::string::npos);
    // Building and refusing the document took seconds; counting the threads does not.
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
    CHECK(client.ask(R"({"op":"ping"})")["ok"] == true);
    client.close();
    CHECK(planned_names(*daemon) == Names{"web"});
}

TEST_CASE("daemon: while its cgroup write waits in the kernel, control requests are answered and events taken") {
    DaemonRig rig;
    rig.wait_for_appliers = false;  // settle() runs what is ready, never waits for the blocked job
    FifoFile cpus(rig.dir / "cgroup/web/cpuset.cpus");
    auto daemon = rig.make();
    // Whatever happens below, the blocked job is let through before the daemon joins its thread.
    struct Release {
        FifoFile& fifo;
        ~Release() { fifo.release(); }
    } const release{cpus};
    daemon->start();
    rig.settle();
    REQUIRE(daemon->ready());  // the first plan is made; its cgroup job waits in open(cpuset.cpus)
    CHECK(daemon->applying());
    REQUIRE(FifoFile::wait_for_opener());  // started, so the plans below do not replace it

    Connection client(rig);
    const auto status = client.ask(R"({"op":"status","id":1})");
    CHECK(status["ok"] == true);
    CHECK(status["result"]["plan_generation"] == 1);
    // Events are taken and planned meanwhile; each plan's job for the cgroup
    // replaces the one before it, not yet started.
    rig.kernel->on_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    rig.settle();
    rig.kernel->on_event(cpu_event(EventType::cpu_offline, 1, 0, 2));
    rig.settle();
    CHECK(daemon->current_plan().generation == 3);
    const auto later = client.ask(R"({"op":"status","id":2})");
    CHECK(later["result"]["events"]["received"] == 2);
    CHECK(later["result"]["plan_generation"] == 3);
    CHECK(daemon->applying());
    CHECK(daemon->metrics().applies() == 0);

    // The first plan's job reads "0", writes its cpuset; then the newest plan's
    // job, the only other one, reads and writes; generation 2 is never written.
    REQUIRE(cpus.serve_read("0\n"));
    CHECK(cpus.serve_write() == "0-2\n");
    REQUIRE(cpus.serve_read("0-2\n"));
    CHECK(cpus.serve_write() == "0,2-3\n");
    rig.wait_for_appliers = true;
    rig.settle();
    CHECK_FALSE(daemon->applying());
    CHECK(daemon->metrics().applies() == 2);  // generations 1 and 3
    CHECK(daemon->metrics().apply_errors() == 0);
}

