// The control server and client over a real AF_UNIX socket in a temp dir.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "control/client.hpp"
#include "core/file_descriptor.hpp"
#include "service/control_server.hpp"

using namespace hpplace;
using namespace std::chrono_literals;

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-ctl-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

Workload named(const std::string& name) {
    Workload workload;
    workload.name = name;
    return workload;
}

struct FakeHandler final : ControlHandler {
    int status_calls = 0;
    std::uint64_t status_generation = 3;
    bool fail_plan = false;
    std::size_t plan_threads = 0;  // threads of the plan's one workload, for a long answer
    bool accepts_registers = false;
    std::set<std::string> registered;
    Plan current;
    control::Status status() override {
        ++status_calls;
        return {.plan_generation = status_generation};
    }
    const Plan& plan() override {
        if (fail_plan) {
            throw std::runtime_error("no plan yet");
        }
        current = Plan{.generation = 3, .workloads = {}};
        if (plan_threads != 0) {
            WorkloadPlan big;
            big.name = "big";
            for (unsigned i = 0; i < plan_threads; ++i) {
                big.threads.push_back({.index = i, .cpu = i % 64, .node = 0});
            }
            current.workloads.push_back(std::move(big));
        }
        return current;
    }
    std::string metrics_text() override { return "hpplaced_plan_generation 3\n"; }
    control::Registration register_workload(const Workload& workload) override {
        if (!accepts_registers) {
            return ControlHandler::register_workload(workload);
        }
        registered.insert(workload.name);
        return {.workload = workload.name, .configured = false};
    }
    void unregister_workload(const std::string& name) override {
        if (registered.erase(name) == 0) {
            throw control::ProtocolError("no registered workload");
        }
    }
};

// A server on a socket in a temp dir, its io_context run by a thread.
struct Running {
    TempDir dir;
    std::filesystem::path socket = dir.path / "hpplaced.sock";
    FakeHandler handler;
    boost::asio::io_context io;
    std::optional<ControlServer> server;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::thread thread;

    explicit Running(ControlServerLimits limits = {}) {
        server.emplace(io, socket, handler, limits, [](const std::string&) {});
        work.emplace(io.get_executor());
        thread = std::thread([this] { io.run(); });
    }
    // Runs f on the io thread and waits for it.
    template <typename F>
    auto on_io(F f) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        boost::asio::post(io, [&task] { task(); });
        return result.get();
    }
    ~Running() {
        on_io([this] { server->stop(); });
        work.reset();
        io.stop();
        thread.join();
    }
};

// A raw client that sends arbitrary bytes.
FileDescriptor raw_connect(const std::filesystem::path& path) {
    FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    return fd;
}

void raw_send(const FileDescriptor& fd, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            return;  // the server may drop us half-way; the test looks at what comes back
        }
        sent += static_cast<std::size_t>(n);
    }
}

// Reads until n lines came, EOF, or 5 s passed. Returns the lines and whether EOF was seen.
std::pair<std::vector<std::string>, bool> raw_read_lines(const FileDescriptor& fd, std::size_t n) {
    control::LineSplitter splitter(1 << 20);
    std::vector<std::string> lines;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (lines.size() < n && std::chrono::steady_clock::now() < deadline) {
        pollfd pfd{.fd = fd.get(), .events = POLLIN, .revents = 0};
        if (::poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        char buffer[4096];
        const ssize_t got = ::recv(fd.get(), buffer, sizeof(buffer), 0);
        if (got <= 0) {
            return {lines, true};
        }
        for (auto& line : splitter.feed(std::string_view(buffer, static_cast<std::size_t>(got)))) {
            lines.push_back(std::move(line));
        }
    }
    return {lines, false};
}

bool raw_sees_eof(const FileDescriptor& fd) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd pfd{.fd = fd.get(), .events = POLLIN, .revents = 0};
        if (::poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        char buffer[65536];
        const ssize_t got = ::recv(fd.get(), buffer, sizeof(buffer), 0);
        if (got <= 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("control server answers status, plan and metrics; socket is 0660") {
    Running running;
    struct stat st {};
    REQUIRE(::stat(running.socket.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);

    auto client = control::ControlClient::connect(running.socket, 2s);
    CHECK(client.request(control::Op::status).at("plan_generation") == 3);
    CHECK(client.request(control::Op::plan).at("generation") == 3);
    CHECK(client.request(control::Op::metrics).at("text") == "hpplaced_plan_generation 3\n");
    CHECK(client.request(control::Op::ping).at("version") == control::protocol_version);
    CHECK(control::query_daemon(running.socket, control::Op::status).at("source") == "kernel");
    CHECK(running.on_io([&] { return running.handler.status_calls; }) == 2);
}

TEST_CASE("control server: a status that changed is answered anew, one that did not the same, ids kept") {
    Running running;
    auto client = control::ControlClient::connect(running.socket, 2s);
    CHECK(client.request(control::Op::status).at("plan_generation") == 3);
    CHECK(client.request(control::Op::status).at("plan_generation") == 3);
    running.on_io([&] { return running.handler.status_generation = 4; });
    CHECK(client.request(control::Op::status).at("plan_generation") == 4);
    CHECK(running.on_io([&] { return running.handler.status_calls; }) == 3);

    // The line itself, with and without an id: as the whole document dumped at once.
    const control::Status expected{.plan_generation = 4};
    for (const nlohmann::json& id : {nlohmann::json(), nlohmann::json(7), nlohmann::json("a\"b")}) {
        const auto fd = raw_connect(running.socket);
        nlohmann::json request = {{"op", "status"}};
        if (!id.is_null()) {
            request["id"] = id;
        }
        raw_send(fd, request.dump() + "\n");
        nlohmann::json whole = {{"ok", true}, {"result", control::to_json(expected)}};
        if (!id.is_null()) {
            whole["id"] = id;
        }
        const auto [lines, eof] = raw_read_lines(fd, 1);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0] == whole.dump());
    }
}

TEST_CASE("control server: a handler error is an error answer, the connection stays") {
    Running running;
    running.handler.fail_plan = true;
    auto client = control::ControlClient::connect(running.socket, 2s);
    CHECK_THROWS_WITH_AS(client.request(control::Op::plan), "hpplaced: plan: no plan yet", control::ControlError);
    CHECK(client.request(control::Op::status).at("source") == "kernel");
    // register/unregister: defined on the wire, not served by a handler without them.
    CHECK_THROWS_WITH_AS(client.request({.op = control::Op::register_workload, .workload = named("db")}),
                         "hpplaced: register: not supported by this hpplaced yet", control::ControlError);
    const auto fd = raw_connect(running.socket);
    raw_send(fd, "{\"op\":\"register\",\"id\":2}\n");
    const auto [lines, eof] = raw_read_lines(fd, 1);
    REQUIRE(lines.size() == 1);
    CHECK(nlohmann::json::parse(lines[0]) ==
          nlohmann::json{{"ok", false}, {"id", 2}, {"error", "\"register\" needs a \"workload\" object"}});
}

TEST_CASE("control server: bad lines get error lines, the connection stays") {
    Running running;
    const auto fd = raw_connect(running.socket);
    raw_send(fd, "hello\n[1]\n{\"op\":\"reboot\",\"id\":5}\n{\"op\":\"status\",\"id\":6}\n");
    const auto [lines, eof] = raw_read_lines(fd, 4);
    REQUIRE(lines.size() == 4);
    CHECK_FALSE(eof);
    const auto first = nlohmann::json::parse(lines[0]);
    CHECK(first.at("ok") == false);
    CHECK(first.at("error") == "request is not JSON: \"hello\"");
    CHECK(nlohmann::json::parse(lines[1]).at("error") == "request must be a JSON object, got array");
    const auto third = nlohmann::json::parse(lines[2]);
    CHECK(third.at("id") == 5);
    CHECK(third.at("error").get<std::string>().starts_with("unknown op \"reboot\""));
    const auto fourth = nlohmann::json::parse(lines[3]);
    CHECK(fourth.at("ok") == true);
    CHECK(fourth.at("id") == 6);
}

TEST_CASE("control server: an oversized line gets one error, then the connection is dropped") {
    Running running(ControlServerLimits{.max_line = 1024});
    const auto fd = raw_connect(running.socket);
    raw_send(fd, std::string(4096, 'x'));
    const auto [lines, eof] = raw_read_lines(fd, 2);
    REQUIRE(lines.size() == 1);
    CHECK(eof);
    CHECK(nlohmann::json::parse(lines[0]).at("error") ==
          "line longer than 1024 bytes; closing the connection");
    // The server still serves others.
    CHECK(control::query_daemon(running.socket, control::Op::status).at("source") == "kernel");
}

TEST_CASE("control server: subscribers get events and plans, others do not") {
    Running running;
    auto subscriber = control::ControlClient::connect(running.socket, 2s);
    auto plans_only = control::ControlClient::connect(running.socket, 2s);
    auto plain = control::ControlClient::connect(running.socket, 2s);
    CHECK(subscriber.request(control::Op::subscribe).at("streams") == nlohmann::json{"events", "plans"});
    CHECK(plans_only.request({.op = control::Op::subscribe, .streams = {.plans = true}}).at("streams") ==
          nlohmann::json{"plans"});
    CHECK(plain.request(control::Op::ping).at("version") == 1);

    Event event;
    event.seq = 100;
    event.type = EventType::cpu_online;
    event.cpu = 3;
    running.on_io([&] {
        running.server->publish_event(event);
        running.server->publish_plan({{"generation", 4}});
        return 0;
    });
    const auto first = subscriber.next_message(2s);
    REQUIRE(first);
    CHECK(first->kind == control::Message::Kind::event);
    CHECK(first->payload.at("seq") == 100);
    CHECK(first->payload.at("cpu") == 3);
    const auto second = subscriber.next_message(2s);
    REQUIRE(second);
    CHECK(second->kind == control::Message::Kind::plan);
    CHECK(second->payload.at("generation") == 4);

    const auto only_plan = plans_only.next_message(2s);
    REQUIRE(only_plan);
    CHECK(only_plan->kind == control::Message::Kind::plan);
    CHECK_FALSE(plain.next_message(200ms).has_value());

    // request() skips pushes that arrive before the answer.
    running.on_io([&] {
        running.server->publish_plan({{"generation", 5}});
        return 0;
    });
    CHECK(subscriber.request(control::Op::status).at("source") == "kernel");
}

TEST_CASE("control server: pushes queued in one turn reach a subscriber in one write") {
    Running running;
    auto subscriber = control::ControlClient::connect(running.socket, 2s);
    REQUIRE(subscriber.request(control::Op::subscribe).at("streams") == nlohmann::json{"events", "plans"});
    const auto before = running.on_io([&] { return running.server->writes(); });
    running.on_io([&] {
        for (std::uint64_t seq = 1; seq <= 3; ++seq) {
            Event event;
            event.seq = seq;
            event.type = EventType::cpu_offline;
            event.cpu = 1;
            running.server->publish_event(event);
        }
        running.server->publish_plan({{"generation", 7}});
        return 0;
    });
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
        const auto message = subscriber.next_message(2s);
        REQUIRE(message);
        CHECK(message->payload.at("seq") == seq);
    }
    const auto plan = subscriber.next_message(2s);
    REQUIRE(plan);
    CHECK(plan->payload.at("generation") == 7);
    CHECK(running.on_io([&] { return running.server->writes(); }) - before == 1);
}

TEST_CASE("control server: a subscriber that does not read is dropped, the others go on") {
    Running running(ControlServerLimits{.max_queued_bytes = 64 * 1024});
    const auto slow = raw_connect(running.socket);
    raw_send(slow, "{\"op\":\"subscribe\"}\n");
    REQUIRE(raw_read_lines(slow, 1).first.size() == 1);  // subscribed; from now on it reads nothing
    auto fast = control::ControlClient::connect(running.socket, 2s);
    CHECK(fast.request(control::Op::ping).at("version") == 1);
    REQUIRE(running.on_io([&] { return running.server->client_count(); }) == 2);
    // Far more than socket buffers plus the queue bound.
    const nlohmann::json big_plan = {{"generation", 1}, {"padding", std::string(16 * 1024, 'p')}};
    for (int i = 0; i < 400; ++i) {
        running.on_io([&] {
            running.server->publish_plan(big_plan);
            return 0;
        });
    }
    CHECK(running.on_io([&] { return running.server->client_count(); }) == 1);
    CHECK(fast.request(control::Op::status).at("source") == "kernel");
    CHECK(raw_sees_eof(slow));
}

TEST_CASE("control server: clients beyond max_clients are refused with a reason") {
    Running running(ControlServerLimits{.max_clients = 1});
    auto first = control::ControlClient::connect(running.socket, 2s);
    CHECK(first.request(control::Op::ping).at("version") == 1);
    const auto second = raw_connect(running.socket);
    const auto [lines, eof] = raw_read_lines(second, 2);
    REQUIRE(lines.size() == 1);
    CHECK(nlohmann::json::parse(lines[0]).at("error") == "too many clients (1), try again later");
    CHECK(eof);
    CHECK(first.request(control::Op::status).at("source") == "kernel");
}

TEST_CASE("control server: stale socket removed, live one and non-sockets refused") {
    TempDir dir;
    const auto path = dir.path / "s.sock";
    {
        // A socket file nobody listens on, as a crashed daemon leaves it.
        FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, path.c_str());
        REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    }
    REQUIRE(std::filesystem::exists(path));
    FakeHandler handler;
    boost::asio::io_context io;
    {
        ControlServer server(io, path, handler, {}, [](const std::string&) {});
        CHECK(std::filesystem::is_socket(path));
        CHECK_THROWS_WITH_AS(ControlServer(io, path, handler, {}, [](const std::string&) {}),
                             ("another hpplaced is already running on " + path.string()).c_str(),
                             std::runtime_error);
        CHECK(std::filesystem::is_socket(path));
    }
    CHECK_FALSE(std::filesystem::exists(path));  // removed at stop

    const auto file = dir.path / "not-a-socket";
    std::ofstream(file) << "keep me";
    CHECK_THROWS_WITH_AS(ControlServer(io, file, handler, {}, [](const std::string&) {}),
                         (file.string() + " exists and is not a socket; not removing it").c_str(),
                         std::runtime_error);
    CHECK(std::filesystem::file_size(file) == 7);
}

TEST_CASE("control client: clear errors when the daemon is not there or silent") {
    TempDir dir;
    const auto missing = dir.path / "none.sock";
    CHECK_THROWS_WITH_AS(control::ControlClient::connect(missing),
                         ("hpplaced is not running (no socket at " + missing.string() + ")").c_str(),
                         control::ControlError);

    // A listener that never answers.
    const auto silent_path = dir.path / "silent.sock";
    FileDescriptor silent(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, silent_path.c_str());
    REQUIRE(::bind(silent.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(silent.get(), 4) == 0);
    auto client = control::ControlClient::connect(silent_path, 300ms);
    CHECK_THROWS_WITH_AS(client.request(control::Op::status),
                         ("no answer from hpplaced at " + silent_path.string() + " to \"status\" within 300 ms")
                             .c_str(),
                         control::ControlError);

    // A listener whose backlog is full: connect gives up at the timeout.
    std::vector<FileDescriptor> fillers;
    for (int i = 0; i < 64; ++i) {
        FileDescriptor filler(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
        if (::connect(filler.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
            REQUIRE(errno == EAGAIN);
            break;
        }
        fillers.push_back(std::move(filler));
    }
    REQUIRE(fillers.size() < 64);
    CHECK_THROWS_WITH_AS(control::ControlClient::connect(silent_path, 200ms),
                         ("hpplaced at " + silent_path.string() + " did not accept within 200 ms").c_str(),
                         control::ControlError);

    // A socket file nobody listens on.
    silent.reset();
    CHECK_THROWS_WITH_AS(control::ControlClient::connect(silent_path),
                         ("hpplaced is not running (nobody listens on " + silent_path.string() + ")").c_str(),
                         control::ControlError);
}

namespace {

std::string register_line(const std::string& name) {
    return nlohmann::json{{"op", "register"}, {"workload", {{"name", name}}}}.dump() + "\n";
}

// The "error" of the single line the server sends before closing, "" if none.
std::string refusal_of(const FileDescriptor& fd) {
    const auto [lines, eof] = raw_read_lines(fd, 2);
    if (lines.size() != 1 || !eof) {
        return "";
    }
    return nlohmann::json::parse(lines[0]).value("error", "");
}

}  // namespace

TEST_CASE("control server: a connection without a request, or with a line left unfinished, is closed with a reason") {
    Running running(ControlServerLimits{.idle_timeout = 400ms, .line_timeout = 200ms});
    running.on_io([&] {
        running.handler.accepts_registers = true;
        return 0;
    });
    const auto started = std::chrono::steady_clock::now();
    const auto idle = raw_connect(running.socket);
    const auto half = raw_connect(running.socket);
    raw_send(half, R"({"op":"ping"})");  // no newline
    const auto subscriber = raw_connect(running.socket);
    raw_send(subscriber, "{\"op\":\"subscribe\",\"streams\":[\"plans\"]}\n");
    const auto registered = raw_connect(running.socket);
    raw_send(registered, register_line("svc"));
    CHECK(refusal_of(half) == "request line not finished within 200 ms; closing the connection");
    CHECK(refusal_of(idle) == "no request within 400 ms; closing the connection");
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took >= 400ms);
    CHECK(took < 3s);
    // Subscribers and connections holding a workload wait for pushes: they stay.
    std::this_thread::sleep_for(400ms);
    raw_send(subscriber, "{\"op\":\"ping\"}\n");
    raw_send(registered, "{\"op\":\"ping\"}\n");
    CHECK(raw_read_lines(subscriber, 2).first.size() == 2);  // subscribe and ping answers
    CHECK(raw_read_lines(registered, 2).first.size() == 2);
    CHECK(running.on_io([&] { return running.server->client_count(); }) == 2);
}

TEST_CASE("control server: one process gets at most max_clients_per_peer connections, told why") {
    Running running(ControlServerLimits{.max_clients_per_peer = 2});
    auto first = control::ControlClient::connect(running.socket, 2s);
    auto second = control::ControlClient::connect(running.socket, 2s);
    CHECK(first.request(control::Op::ping).at("version") == 1);
    CHECK(second.request(control::Op::ping).at("version") == 1);
    const auto third = raw_connect(running.socket);
    CHECK(refusal_of(third) ==
          "too many connections from process " + std::to_string(::getpid()) + " (2), try again later");
    // hpctl's client reports that reason, not a broken pipe.
    auto fourth = control::ControlClient::connect(running.socket, 2s);
    CHECK_THROWS_WITH_AS(fourth.request(control::Op::status), doctest::Contains("too many connections from process"),
                         control::ControlError);
    { auto gone = std::move(first); }
    std::this_thread::sleep_for(100ms);
    auto again = control::ControlClient::connect(running.socket, 2s);
    CHECK(again.request(control::Op::ping).at("version") == 1);
}

TEST_CASE("control server: registered workloads are capped per connection and per process") {
    Running running(ControlServerLimits{.max_workloads_per_client = 2, .max_workloads_per_peer = 3});
    running.on_io([&] {
        running.handler.accepts_registers = true;
        return 0;
    });
    auto a = control::ControlClient::connect(running.socket, 2s);
    auto b = control::ControlClient::connect(running.socket, 2s);
    const auto do_register = [](control::ControlClient& client, const std::string& name) {
        return client.request({.op = control::Op::register_workload, .workload = named(name)});
    };
    do_register(a, "w1");
    do_register(a, "w2");
    CHECK_THROWS_WITH_AS(do_register(a, "w3"), doctest::Contains("limit per connection"), control::ControlError);
    do_register(a, "w1");  // replacing its own: no new one
    do_register(b, "w4");
    CHECK_THROWS_WITH_AS(do_register(b, "w5"), doctest::Contains("limit per process"), control::ControlError);
    // Unregistered by another connection: the slot is free again.
    CHECK(b.request({.op = control::Op::unregister_workload, .name = "w2"}).empty());
    do_register(a, "w3");
    CHECK(running.on_io([&] { return running.handler.registered; }) == std::set<std::string>{"w1", "w3", "w4"});
}

TEST_CASE("control client: reads answers up to max_answer_bytes; a longer answer is an error answer") {
    Running running;
    running.on_io([&] {
        running.handler.plan_threads = 30'000;  // about 1 MiB
        return 0;
    });
    auto client = control::ControlClient::connect(running.socket, 5s);
    CHECK(client.request(control::Op::plan).at("workloads").at(0).at("threads").size() == 30'000);
    running.on_io([&] {
        // Each thread takes at least 29 bytes of JSON.
        running.handler.plan_threads = control::max_answer_bytes / 29 + 1;
        return 0;
    });
    CHECK_THROWS_WITH_AS(client.request(control::Op::plan), doctest::Contains("longer than the limit"),
                         control::ControlError);
    CHECK(client.request(control::Op::ping).at("version") == 1);
}
