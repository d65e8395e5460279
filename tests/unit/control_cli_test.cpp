// hpctl status / metrics / plan (daemon branch) against a control server in a temp dir.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "cli/commands.hpp"
#include "control/status.hpp"
#include "service/status.hpp"
#include "core/file_descriptor.hpp"
#include "plan/plan.hpp"
#include "service/control_server.hpp"

using namespace hpplace;

namespace {

struct StatusHandler final : ControlHandler {
    Plan current = plan_from_json(nlohmann::json::parse(R"({"generation": 2, "workloads": [{"name": "web",
        "threads": [{"index": 0, "cpu": 0, "node": 0}, {"index": 1, "cpu": 1, "node": 0}],
        "buffers": [{"node": 0, "bytes": 4194304}], "cpuset": "0-1", "mems": "0"}]})"));
    control::Status status() override {
        Topology topology;
        NumaNode node;
        node.id = 0;
        node.cpus = CpuSet::parse_list("0-1");
        node.offline_cpus = CpuSet::parse_list("2");
        node.memory_bytes = 1ULL << 30;
        topology.nodes = {node};
        return make_status(EventSource::kernel, topology, {.received = 4, .last_seq = 9}, 2);
    }
    const Plan& plan() override { return current; }
    std::string metrics_text() override { return "# TYPE hpplaced_plan_generation gauge\nhpplaced_plan_generation 2\n"; }
};

// A daemon that answers the first request line on one connection with a fixed
// line (hpplaced itself only sends what its types render).
struct CannedDaemon {
    std::filesystem::path dir;
    std::filesystem::path socket;
    FileDescriptor listener;
    std::thread thread;

    explicit CannedDaemon(std::string answer) {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-cli-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        dir = pattern;
        socket = dir / "hpplaced.sock";
        listener = FileDescriptor(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, socket.c_str());
        REQUIRE(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
        REQUIRE(::listen(listener.get(), 4) == 0);
        thread = std::thread([this, answer = std::move(answer)] {
            const FileDescriptor peer(::accept(listener.get(), nullptr, nullptr));
            char c = 0;
            while (::recv(peer.get(), &c, 1, 0) == 1 && c != '\n') {
            }
            (void)::send(peer.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
            while (::recv(peer.get(), &c, 1, 0) > 0) {
            }
        });
    }
    ~CannedDaemon() {
        thread.join();
        std::filesystem::remove_all(dir);
    }
};

struct Daemon {
    std::filesystem::path dir;
    std::filesystem::path socket;
    StatusHandler handler;
    boost::asio::io_context io;
    std::optional<ControlServer> server;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::thread thread;

    Daemon() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-cli-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        dir = pattern;
        socket = dir / "hpplaced.sock";
        server.emplace(io, socket, handler, ControlServerLimits{}, [](const std::string&) {});
        work.emplace(io.get_executor());
        thread = std::thread([this] { io.run(); });
    }
    ~Daemon() {
        work.reset();
        io.stop();
        thread.join();
        server.reset();
        std::filesystem::remove_all(dir);
    }
};

// Runs a command with stdout captured. Returns {exit status or -1 if it threw, stdout}.
std::pair<int, std::string> run(int (*command)(cli::Args), std::vector<std::string_view> args,
                                std::string* error = nullptr) {
    std::fflush(stdout);
    char path[] = "/tmp/hpplace-cli-out-XXXXXX";
    const int file = ::mkstemp(path);
    REQUIRE(file >= 0);
    const int saved = ::dup(STDOUT_FILENO);
    ::dup2(file, STDOUT_FILENO);
    int status = -1;
    try {
        status = command(args);
    } catch (const std::exception& e) {
        if (error != nullptr) {
            *error = e.what();
        }
    }
    std::fflush(stdout);
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    ::close(file);
    std::ifstream in(path);
    std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ::unlink(path);
    return {status, out};
}

}  // namespace

TEST_CASE("hpctl status --json prints the daemon's status document, one line") {
    Daemon daemon;
    const std::string socket = daemon.socket.string();
    const auto [status, out] = run(cli::run_status, {"--json", "--socket", socket});
    CHECK(status == 0);
    REQUIRE(!out.empty());
    CHECK(out.find('\n') == out.size() - 1);
    CHECK(nlohmann::json::parse(out) == control::to_json(daemon.handler.status()));
}

TEST_CASE("hpctl status prints readable lines") {
    Daemon daemon;
    const std::string option = "--socket=" + daemon.socket.string();
    const auto [status, out] = run(cli::run_status, {option});
    CHECK(status == 0);
    CHECK(out.find("source:          kernel\n") != std::string::npos);
    CHECK(out.find("cpus present:    0-2 (3)\n") != std::string::npos);
    CHECK(out.find("node 0:          cpus 0-1, memory 1024 MiB\n") != std::string::npos);
}

TEST_CASE("hpctl metrics prints the exposition as is") {
    Daemon daemon;
    const std::string socket = daemon.socket.string();
    const auto [status, out] = run(cli::run_metrics, {"--socket", socket});
    CHECK(status == 0);
    CHECK(out == daemon.handler.metrics_text());
}

TEST_CASE("hpctl plan asks the daemon without --topology") {
    Daemon daemon;
    const std::string socket = daemon.socket.string();
    const auto [json_status, json_out] = run(cli::run_plan, {"--json", "--socket", socket});
    CHECK(json_status == 0);
    CHECK(nlohmann::json::parse(json_out) == to_json(daemon.handler.plan()));
    const auto [text_status, text_out] = run(cli::run_plan, {"--socket", socket});
    CHECK(text_status == 0);
    // The planner's text form: the same as `hpctl plan --topology ...` prints.
    CHECK(text_out == to_text(daemon.handler.plan()));
    CHECK(text_out.starts_with("plan generation 2, 1 workload(s)\n\nworkload web: 2 thread(s), cpuset 0-1, mems 0\n"));
}

TEST_CASE("hpctl plan: a malformed plan from the daemon is a one-line error naming the field") {
    CannedDaemon daemon(R"({"ok": true, "result": {"generation": 2, "workloads": [{"name": "web", )"
                        R"("threads": [{"index": 0, "cpu": "0", "node": 0}], "buffers": [], "cpuset": "0", "mems": "0"}]}})"
                        "\n");
    std::string error;
    const auto [status, out] = run(cli::run_plan, {"--socket", daemon.socket.string()}, &error);
    CHECK(status != 0);
    CHECK(out.empty());
    CHECK(error == "malformed plan from hpplaced: workloads[0].threads[0].cpu: expected an integer in 0..1048575, "
                   "got a string (use --json to see it)");
}

TEST_CASE("hpctl status/metrics: errors are one line and print nothing") {
    std::string error;
    const auto [status, out] = run(cli::run_status, {"--socket", "/nonexistent/hpplaced.sock"}, &error);
    CHECK(status == -1);
    CHECK(out.empty());
    CHECK(error == "hpplaced is not running (no socket at /nonexistent/hpplaced.sock)");
    run(cli::run_status, {"--yaml"}, &error);
    CHECK(error == "unknown option \"--yaml\" (options: --json, --socket PATH)");
    run(cli::run_metrics, {"--json"}, &error);
    CHECK(error == "unknown option \"--json\" (options: --socket PATH)");
    run(cli::run_status, {"--socket"}, &error);
    CHECK(error == "--socket needs a path");
}
