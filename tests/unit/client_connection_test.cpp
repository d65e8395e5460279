// hpplace::Client against a fake hpplaced: a unix socket server in the test that
// speaks the protocol of docs/contract.md. Callbacks run off the socket's read path, a
// Registration waits for its running callback, bad lines are skipped, an
// oversized line drops the connection, and the client reconnects, registers
// again and resyncs after the daemon restarts. A CPU going offline stops the
// process's WorkerPool workers on it from the read path's notice.

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "core/file_descriptor.hpp"
#include "core/system_error.hpp"
#include "hpplace/client.hpp"
#include "hpplace/worker_pool.hpp"
#include "fake_daemon.hpp"

using namespace hpplace;
using namespace std::chrono_literals;
using nlohmann::json;
using namespace hpplace::testing;

namespace {

ClientOptions options_for(const std::filesystem::path& path, std::vector<std::string>* log) {
    ClientOptions options;
    options.socket_path = path.string();
    WorkloadSpec workload;
    workload.name = "svc";
    workload.threads_per_cpu = 1;
    workload.buffer_per_cpu = 1048576;
    options.workload = workload;
    options.reconnect_min = 10ms;
    options.reconnect_max = 50ms;
    options.max_message_bytes = 4096;
    options.log = [log](std::string_view line) {
        if (log != nullptr) {
            log->emplace_back(line);
        }
    };
    return options;
}

}  // namespace

TEST_CASE("client: registers, subscribes, replays what exists, reports events") {
    const auto path = socket_path("basic");
    FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    Client client(options_for(path, nullptr));
    REQUIRE(client.wait_connected(5s));
    REQUIRE(client.wait_assignment(5s));
    CHECK(client.assignment()->threads.size() == 2);
    CHECK(client.active_processor_count() == 2);

    const auto requests = daemon.requests();
    REQUIRE(requests.size() == 4);
    CHECK(requests[0]["op"] == "register");
    CHECK(requests[0]["workload"]["name"] == "svc");
    CHECK(requests[0]["workload"]["threads_per_cpu"] == 1);
    CHECK(requests[1]["op"] == "subscribe");
    CHECK(requests[2]["op"] == "status");
    CHECK(requests[3]["op"] == "plan");

    Inbox<ProcessorChange> cpus;
    Inbox<MemoryChange> memory;
    auto cpu_registration =
        client.on_processor_change([&](const ProcessorChange& c) { cpus.push(c); }, Replay::existing);
    auto memory_registration = client.on_memory_change([&](const MemoryChange& m) { memory.push(m); },
                                                       Replay::existing);
    REQUIRE(cpus.wait_size(2));
    REQUIRE(memory.wait_size(1));
    CHECK(cpus.get()[0].state == ProcessorState::add_complete);
    CHECK(cpus.get()[0].synthesized);
    CHECK(cpus.get()[1].cpu == 1);
    CHECK(memory.get()[0].size == 1u << 30);

    daemon.send(event_line(101, "cpu_add_start", 2) + event_line(102, "cpu_online", 2));
    REQUIRE(cpus.wait_size(4));
    const auto got = cpus.get();
    CHECK(got[2].state == ProcessorState::add_start);
    CHECK(got[3].state == ProcessorState::add_complete);
    CHECK(got[3].cpu == 2);
    CHECK(got[3].node == 1u);
    CHECK(got[3].active_cpus == std::vector<unsigned>{0, 1, 2});
    CHECK(got[3].seq == 102);
    CHECK_FALSE(got[3].synthesized);
    CHECK(client.active_processor_count() == 3);
}

TEST_CASE("client: callbacks run on the library's thread, never on the read path") {
    const auto path = socket_path("offpath");
    FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    Client client(options_for(path, nullptr));
    REQUIRE(client.wait_connected(5s));

    std::mutex mutex;
    std::condition_variable released_cv;
    bool released = false;
    std::atomic<int> calls{0};
    std::thread::id callback_thread;
    auto registration = client.on_processor_change([&](const ProcessorChange&) {
        std::unique_lock lock(mutex);
        callback_thread = std::this_thread::get_id();
        ++calls;
        released_cv.wait(lock, [&] { return released; });
    });
    const auto events_before = client.stats().events;
    daemon.send(event_line(101, "cpu_online", 2));
    for (int i = 0; i < 500 && calls == 0; ++i) {
        std::this_thread::sleep_for(1ms);
    }
    REQUIRE(calls == 1);
    // The first callback is blocked; the connection still reads what follows.
    daemon.send(event_line(102, "cpu_going_offline", 2) + event_line(103, "cpu_offline", 2));
    for (int i = 0; i < 500 && client.stats().events < events_before + 3; ++i) {
        std::this_thread::sleep_for(1ms);
    }
    CHECK(client.stats().events == events_before + 3);
    CHECK(client.active_processor_count() == 2);
    CHECK(calls == 1);

    // Unregistering from another thread waits for the running call to return.
    std::atomic<bool> reset_returned{false};
    std::thread resetter([&] {
        registration.reset();
        reset_returned = true;
    });
    std::this_thread::sleep_for(100ms);
    CHECK_FALSE(reset_returned);
    {
        std::lock_guard lock(mutex);
        released = true;
        CHECK(callback_thread != std::this_thread::get_id());
    }
    released_cv.notify_all();
    resetter.join();
    CHECK(reset_returned);
    // The two queued calls were dropped by the unregistration.
    std::this_thread::sleep_for(50ms);
    CHECK(calls == 1);
}

TEST_CASE("client: bad lines are skipped, an oversized one drops the connection and it comes back") {
    const auto path = socket_path("bad");
    FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    std::vector<std::string> log;
    Client client(options_for(path, &log));
    REQUIRE(client.wait_connected(5s));
    Inbox<ProcessorChange> cpus;
    auto registration = client.on_processor_change([&](const ProcessorChange& c) { cpus.push(c); });

    daemon.send("not json\n{\"event\": {\"type\": \"cpu_exploded\"}}\n{\"who\": 1}\n" +
                event_line(101, "cpu_online", 2));
    REQUIRE(cpus.wait_size(1));
    CHECK(cpus.get()[0].cpu == 2);
    CHECK(client.stats().bad_messages == 3);
    CHECK(client.stats().connects == 1);

    daemon.send(std::string(5000, 'x') + "\n");  // over max_message_bytes (4096)
    for (int i = 0; i < 2000 && daemon.connections() < 2; ++i) {
        std::this_thread::sleep_for(1ms);
    }
    CHECK(daemon.connections() == 2);
    REQUIRE(daemon.wait_requests(8));
    CHECK(client.wait_connected(5s));
    CHECK(client.stats().dropped_connections == 1);
}

TEST_CASE("client: reconnects after the daemon restarts, registers again and resyncs") {
    const auto path = socket_path("restart");
    std::vector<std::string> log;
    Inbox<ProcessorChange> cpus;
    Inbox<MemoryChange> memory;
    Inbox<Assignment> assignments;
    Inbox<bool> connections;
    auto daemon = std::make_unique<FakeDaemon>(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    Client client(options_for(path, &log));
    auto r1 = client.on_processor_change([&](const ProcessorChange& c) { cpus.push(c); });
    auto r2 = client.on_memory_change([&](const MemoryChange& m) { memory.push(m); });
    auto r3 = client.on_assignment([&](const Assignment& a) { assignments.push(a); });
    auto r4 = client.on_connection([&](bool up) { connections.push(up); });
    REQUIRE(assignments.wait_size(1));
    REQUIRE(connections.wait_size(1));

    daemon.reset();  // hpplaced stops
    REQUIRE(connections.wait_size(2));
    CHECK_FALSE(connections.get()[1]);
    CHECK_FALSE(client.connected());
    std::this_thread::sleep_for(100ms);  // a few failed attempts with backoff

    // It comes back with CPU 1 gone, 128 MiB more memory and a new plan.
    daemon = std::make_unique<FakeDaemon>(path, status_with({0}, (1 << 30) + (128 << 20)), plan_with(2, {0}));
    REQUIRE(connections.wait_size(3));
    CHECK(connections.get()[2]);
    REQUIRE(daemon->wait_requests(4));
    CHECK(daemon->requests()[0]["op"] == "register");

    REQUIRE(cpus.wait_size(1));
    CHECK(cpus.get()[0].state == ProcessorState::offline);
    CHECK(cpus.get()[0].cpu == 1);
    CHECK(cpus.get()[0].synthesized);
    REQUIRE(memory.wait_size(1));
    CHECK(memory.get()[0].state == MemoryState::online);
    CHECK(memory.get()[0].size == 128u << 20);
    REQUIRE(assignments.wait_size(2));
    CHECK(assignments.get()[1].generation == 2);
    CHECK(assignments.get()[1].threads.size() == 1);
    CHECK(client.stats().connects == 2);
    CHECK(client.active_processors() == std::vector<unsigned>{0});
}

TEST_CASE("client: bad options are refused; no daemon is not an error") {
    ClientOptions no_path;
    no_path.socket_path.clear();
    CHECK_THROWS_AS(Client{no_path}, std::invalid_argument);
    ClientOptions unnamed;
    unnamed.workload = WorkloadSpec{};
    CHECK_THROWS_AS(Client{unnamed}, std::invalid_argument);
    std::vector<std::string> log;
    Client client(options_for(socket_path("nobody"), &log));
    CHECK_FALSE(client.wait_connected(50ms));
    CHECK(active_processor_count() >= 1);
}

TEST_CASE("client: cpu_going_offline stops the process's workers on that CPU before the plan arrives") {
    const auto path = socket_path("offline");
    FakeDaemon daemon(path, status_with({0, 1, 2}, 1 << 30), plan_with(1, {0, 1, 2}));
    Client client(options_for(path, nullptr));

    std::mutex mutex;
    std::condition_variable_any changed;
    std::map<unsigned, int> ended;  // worker index -> returns
    PoolChanges background;
    WorkerPoolOptions pool_options;
    pool_options.pin = [](std::thread::native_handle_type, unsigned) { return 0; };  // CPUs 0-2 need not exist
    pool_options.log = [](std::string_view) {};
    pool_options.on_background_change = [&](const PoolChanges& changes) {
        std::lock_guard lock(mutex);
        background.stopped.insert(background.stopped.end(), changes.stopped.begin(), changes.stopped.end());
        changed.notify_all();
    };
    WorkerPool pool(
        [&](std::stop_token stop, const Worker& me) {
            std::unique_lock lock(mutex);
            changed.wait(lock, stop, [] { return false; });
            ++ended[me.index()];
            changed.notify_all();
        },
        pool_options);
    Inbox<PoolChanges> applied;
    auto on_assignment = client.on_assignment([&](const Assignment& a) { applied.push(pool.apply(a)); },
                                              Replay::existing);
    REQUIRE(applied.wait_size(1));
    REQUIRE(pool.size() == 3);

    daemon.send(event_line(101, "cpu_going_offline", 2));
    {
        std::unique_lock lock(mutex);
        REQUIRE(changed.wait_for(lock, 10s, [&] { return ended[2] == 1 && !background.stopped.empty(); }));
        CHECK(background.stopped == std::vector<AssignedThread>{{2, 2, 0}});
        CHECK(ended[0] + ended[1] == 0);
    }
    CHECK(applied.get().size() == 1);  // no plan since the first
    CHECK(pool.threads() == std::vector<AssignedThread>{{0, 0, 0}, {1, 1, 0}});

    // The plan without CPU 2 arrives: nothing is stopped twice.
    daemon.send(event_line(102, "cpu_offline", 2) + control::render_plan_push(plan_with(2, {0, 1})));
    REQUIRE(applied.wait_size(2));
    CHECK(applied.get()[1].empty());
    // CPU 2 comes back: the next plan starts a new worker there.
    daemon.send(event_line(103, "cpu_online", 2) + control::render_plan_push(plan_with(3, {0, 1, 2})));
    REQUIRE(applied.wait_size(3));
    CHECK(applied.get()[2].started == std::vector<AssignedThread>{{2, 2, 0}});
    std::lock_guard lock(mutex);
    CHECK(ended == std::map<unsigned, int>{{0, 0}, {1, 0}, {2, 1}});  // the new worker 2 still runs
}
