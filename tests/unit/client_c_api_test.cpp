// libhpplace's C API (hpplace.h) against the fake hpplaced: HPP_ADD_EXISTING
// replays what exists before any change, changes carry the event's fields and
// the active set as words, hpp_unregister() waits for a running callback and
// does not deadlock inside one, bad arguments are -EINVAL, no daemon is not an
// error at open (the client connects once the daemon is there), and the pool and
// the buffers do what WorkerPool and NodeBuffers do.

#include <doctest/doctest.h>

#include <sched.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "fake_daemon.hpp"
#include "hpplace/client.hpp"
#include "hpplace/hpplace.h"

using namespace hpplace::testing;
using namespace std::chrono_literals;

namespace {

// A processor change as the test keeps it (the callback's struct is valid during the call only).
struct CpuSeen {
    hpp_processor_state state;
    unsigned cpu;
    int node;
    unsigned active_count;
    std::vector<std::uint64_t> mask;
    std::uint64_t seq;
    std::uint64_t time_ns;
    unsigned flags;
    std::size_t struct_size;
};

void on_cpu(const hpp_processor_change* c, void* context) {
    static_cast<Inbox<CpuSeen>*>(context)->push(
        {c->state, c->cpu, c->node, c->active_count,
         std::vector<std::uint64_t>(c->active_mask, c->active_mask + c->active_mask_words), c->seq, c->time_ns,
         c->flags, c->struct_size});
}

void on_memory(const hpp_memory_change* m, void* context) {
    static_cast<Inbox<hpp_memory_change>*>(context)->push(*m);
}

// Opens a client of the fake daemon at path, quick to reconnect, its log kept in *log.
hpp_client* open_client(const std::filesystem::path& path, const hpp_workload* workload = nullptr,
                        Inbox<std::string>* log = nullptr) {
    const std::string socket = path.string();
    hpp_options options{};
    options.struct_size = sizeof(options);
    options.socket_path = socket.c_str();
    options.workload = workload;
    options.reconnect_min_ms = 10;
    options.reconnect_max_ms = 50;
    options.log = [](const char* line, void* context) {
        if (context != nullptr) {
            static_cast<Inbox<std::string>*>(context)->push(line);
        }
    };
    options.log_context = log;
    int error = 1;
    hpp_client* client = hpp_open_with(&options, &error);
    REQUIRE(client != nullptr);
    CHECK(error == 0);
    return client;
}

std::string event_with_mask(std::uint64_t seq, std::string_view type, unsigned cpu, const std::vector<unsigned>& mask) {
    return json{{"event",
                 {{"seq", seq}, {"type", type}, {"source", "kernel"}, {"time_ns", 5000 + seq}, {"cpu", cpu},
                  {"node", 1}, {"online_cpus", mask.size()}, {"online_mask", mask}}}}
               .dump() +
           "\n";
}

}  // namespace

TEST_CASE("c api: HPP_ADD_EXISTING replays the active CPUs and memory first, then the changes") {
    const auto path = socket_path("c-replay");
    FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    hpp_client* client = open_client(path);
    Inbox<CpuSeen> cpus;
    Inbox<hpp_memory_change> memory;
    hpp_registration* cpu_registration = nullptr;
    hpp_registration* memory_registration = nullptr;
    // Registered before the first status: the replay waits for it.
    REQUIRE(hpp_register_processor_callback(client, on_cpu, &cpus, HPP_ADD_EXISTING, &cpu_registration) == 0);
    REQUIRE(hpp_register_memory_callback(client, on_memory, &memory, HPP_ADD_EXISTING, &memory_registration) == 0);
    REQUIRE(hpp_wait_connected(client, 5000) == 0);
    CHECK(hpp_connected(client) == 1);
    REQUIRE(cpus.wait_size(2));
    REQUIRE(memory.wait_size(1));
    for (unsigned cpu = 0; cpu < 2; ++cpu) {
        const CpuSeen seen = cpus.get()[cpu];
        CHECK(seen.struct_size == sizeof(hpp_processor_change));
        CHECK(seen.state == HPP_PROCESSOR_ADD_COMPLETE);
        CHECK(seen.cpu == cpu);
        CHECK(seen.node == 0);
        CHECK(seen.flags == HPP_CHANGE_SYNTHESIZED);
        CHECK(seen.seq == 0);
        CHECK(seen.active_count == 2);
        CHECK(seen.mask == std::vector<std::uint64_t>{0x3});
    }
    const hpp_memory_change existing = memory.get()[0];
    CHECK(existing.struct_size == sizeof(hpp_memory_change));
    CHECK(existing.state == HPP_MEMORY_ONLINE);
    CHECK(existing.node == 0);
    CHECK(existing.size == 1u << 30);
    CHECK(existing.flags == HPP_CHANGE_SYNTHESIZED);

    // A hot-add as the daemon pushes it: the events' fields, the active set from the event.
    daemon.send(event_with_mask(101, "cpu_add_start", 2, {0, 1}) + event_with_mask(102, "cpu_online", 2, {0, 1, 2}) +
                event_with_mask(103, "cpu_going_offline", 2, {0, 1, 2}) + event_with_mask(104, "cpu_offline", 2, {0, 1}) +
                event_with_mask(105, "cpu_removed", 2, {0, 1}) + event_with_mask(106, "cpu_online", 64, {0, 1, 64}) +
                json{{"event", {{"seq", 107}, {"type", "mem_online"}, {"source", "kernel"}, {"time_ns", 9},
                                {"start", 1ull << 32}, {"size", 128ull << 20}, {"node", 1}}}}
                    .dump() +
                "\n");
    REQUIRE(cpus.wait_size(8));
    REQUIRE(memory.wait_size(2));
    const auto got = cpus.get();
    const hpp_processor_state states[] = {HPP_PROCESSOR_ADD_START,  HPP_PROCESSOR_ADD_COMPLETE,
                                          HPP_PROCESSOR_GOING_OFFLINE, HPP_PROCESSOR_OFFLINE,
                                          HPP_PROCESSOR_REMOVED,    HPP_PROCESSOR_ADD_COMPLETE};
    for (std::size_t i = 0; i < 6; ++i) {
        CAPTURE(i);
        CHECK(got[2 + i].state == states[i]);
        CHECK(got[2 + i].seq == 101 + i);
        CHECK(got[2 + i].time_ns == 5101 + i);
        CHECK(got[2 + i].node == 1);
        CHECK(got[2 + i].flags == 0);
    }
    CHECK(got[3].cpu == 2);
    CHECK(got[3].active_count == 3);
    CHECK(got[3].mask == std::vector<std::uint64_t>{0x7});
    CHECK(got[5].mask == std::vector<std::uint64_t>{0x3});
    CHECK(got[7].cpu == 64);
    CHECK(got[7].mask == std::vector<std::uint64_t>{0x3, 0x1});
    const hpp_memory_change added = memory.get()[1];
    CHECK(added.state == HPP_MEMORY_ONLINE);
    CHECK(added.node == 1);
    CHECK(added.start == 1ull << 32);
    CHECK(added.size == 128ull << 20);
    CHECK(added.seq == 107);
    CHECK(added.time_ns == 9);
    CHECK(added.flags == 0);

    // Registered after the first status: the replay has the CPUs known now.
    Inbox<CpuSeen> late;
    hpp_registration* late_registration = nullptr;
    REQUIRE(hpp_register_processor_callback(client, on_cpu, &late, HPP_ADD_EXISTING, &late_registration) == 0);
    REQUIRE(late.wait_size(3));
    CHECK(late.get()[2].cpu == 64);
    CHECK(late.get()[2].flags == HPP_CHANGE_SYNTHESIZED);
    CHECK(hpp_unregister(cpu_registration) == 0);
    // memory_registration and late_registration are freed by hpp_close.
    hpp_close(client);
    CHECK(std::string(hpp_processor_state_name(HPP_PROCESSOR_REMOVED)) == "removed");
    CHECK(std::string(hpp_memory_state_name(HPP_MEMORY_OFFLINE_CANCELED)) == "offline_canceled");
    CHECK(std::string(hpp_processor_state_name(static_cast<hpp_processor_state>(42))) == "unknown");
}

namespace {

struct Slow {
    std::atomic<int> calls{0};
    std::atomic<bool> running{false};
    std::atomic<bool> entered{false};
};

void slow_callback(const hpp_processor_change*, void* context) {
    auto* slow = static_cast<Slow*>(context);
    slow->running = true;
    slow->entered = true;
    std::this_thread::sleep_for(200ms);
    ++slow->calls;
    slow->running = false;
}

struct SelfRemoving {
    hpp_registration* registration = nullptr;
    std::atomic<int> calls{0};
    std::atomic<int> result{1};
};

void self_removing_callback(const hpp_processor_change*, void* context) {
    auto* self = static_cast<SelfRemoving*>(context);
    if (++self->calls == 1) {
        self->result = hpp_unregister(self->registration);
    }
}

}  // namespace

TEST_CASE("c api: after hpp_unregister the callback is not running and never called again") {
    const auto path = socket_path("c-unregister");
    FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    hpp_client* client = open_client(path);
    REQUIRE(hpp_wait_connected(client, 5000) == 0);

    Slow slow;
    hpp_registration* slow_registration = nullptr;
    REQUIRE(hpp_register_processor_callback(client, slow_callback, &slow, HPP_ADD_EXISTING, &slow_registration) == 0);
    for (int i = 0; i < 50 && !slow.entered; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    REQUIRE(slow.entered);
    REQUIRE(hpp_unregister(slow_registration) == 0);
    CHECK_FALSE(slow.running);
    // The replay had two CPUs: the second call is dropped unless it had started (a descheduled test thread).
    const int calls = slow.calls;
    CHECK(calls >= 1);

    // From inside its own callback: returns at once, and the callback is not called again.
    SelfRemoving self;
    REQUIRE(hpp_register_processor_callback(client, self_removing_callback, &self, 0, &self.registration) == 0);
    Inbox<CpuSeen> witness;
    hpp_registration* witness_registration = nullptr;
    REQUIRE(hpp_register_processor_callback(client, on_cpu, &witness, 0, &witness_registration) == 0);
    daemon.send(event_line(101, "cpu_add_start", 2) + event_line(102, "cpu_online", 2));
    REQUIRE(witness.wait_size(2));
    CHECK(self.result == 0);
    CHECK(self.calls == 1);
    CHECK(slow.calls == calls);
    hpp_close(client);
}

TEST_CASE("c api: bad arguments are -EINVAL, nothing is an exception; no daemon is not an error at open") {
    hpp_registration* registration = nullptr;
    int error = 0;
    CHECK(hpp_open("", &error) == nullptr);
    CHECK(error == -EINVAL);
    hpp_options bad{};
    bad.struct_size = 1;  // does not even cover itself
    CHECK(hpp_open_with(&bad, &error) == nullptr);
    CHECK(error == -EINVAL);
    hpp_workload nameless{};
    nameless.struct_size = sizeof(nameless);
    hpp_options with_nameless{};
    with_nameless.struct_size = sizeof(with_nameless);
    with_nameless.workload = &nameless;
    CHECK(hpp_open_with(&with_nameless, &error) == nullptr);
    CHECK(error == -EINVAL);
    CHECK(hpp_register_processor_callback(nullptr, on_cpu, nullptr, 0, &registration) == -EINVAL);
    CHECK(hpp_unregister(nullptr) == -EINVAL);
    CHECK(hpp_connected(nullptr) == -EINVAL);
    CHECK(hpp_wait_connected(nullptr, 0) == -EINVAL);
    CHECK(hpp_pool_new(nullptr, nullptr, nullptr, &error) == nullptr);
    CHECK(error == -EINVAL);
    CHECK(hpp_pool_apply(nullptr, nullptr, nullptr) == -EINVAL);
    CHECK(hpp_buffers_resize(nullptr, 0, 0) == -EINVAL);
    CHECK(hpp_buffers_chunks(nullptr, 0, nullptr) == -EINVAL);
    hpp_close(nullptr);
    CHECK(std::string(hpp_strerror(-EINVAL)) == "Invalid argument");
    CHECK(std::string(hpp_strerror(ETIMEDOUT)) == std::strerror(ETIMEDOUT));
    CHECK(hpp_strerror(-99999) != nullptr);

    // The daemon comes after the client: open succeeds, the client connects by itself.
    const auto path = socket_path("c-late-daemon");
    std::filesystem::remove(path);
    Inbox<std::string> log;
    hpp_client* client = open_client(path, nullptr, &log);
    CHECK(hpp_register_processor_callback(client, nullptr, nullptr, 0, &registration) == -EINVAL);
    CHECK(hpp_register_processor_callback(client, on_cpu, nullptr, 0, nullptr) == -EINVAL);
    CHECK(hpp_register_processor_callback(client, on_cpu, nullptr, 0x80, &registration) == -EINVAL);
    CHECK(hpp_register_connection_callback(client, [](int, void*) {}, nullptr, HPP_ADD_EXISTING, &registration) ==
          -EINVAL);
    CHECK(hpp_wait_connected(client, 50) == -ETIMEDOUT);
    CHECK(hpp_connected(client) == 0);
    Inbox<int> connections;
    REQUIRE(hpp_register_connection_callback(
                client, [](int up, void* context) { static_cast<Inbox<int>*>(context)->push(up); }, &connections, 0,
                &registration) == 0);
    {
        FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
        CHECK(hpp_wait_connected(client, 5000) == 0);
        REQUIRE(connections.wait_size(1));
        CHECK(connections.get()[0] == 1);
    }
    REQUIRE(connections.wait_size(2));  // the daemon went away: not an error either
    CHECK(connections.get()[1] == 0);
    CHECK(log.wait_size(1));
    hpp_close(client);
}

namespace {

struct CloseFromCallback {
    hpp_client* client = nullptr;
    std::atomic<bool> returned{false};
};

void close_own_client(const hpp_processor_change*, void* context) {
    auto* test = static_cast<CloseFromCallback*>(context);
    hpp_close(test->client);
    test->returned = true;
}

}  // namespace

TEST_CASE("c api: hpp_close from a callback of its own client is refused, logged, and harmless") {
    const auto path = socket_path("c-close-inside");
    FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    Inbox<std::string> log;
    CloseFromCallback test;
    test.client = open_client(path, nullptr, &log);
    hpp_registration* registration = nullptr;
    REQUIRE(hpp_register_processor_callback(test.client, close_own_client, &test, HPP_ADD_EXISTING, &registration) ==
            0);
    REQUIRE(log.wait_size(1));
    for (int i = 0; i < 100 && !test.returned; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(test.returned);
    bool refused = false;
    for (const auto& line : log.get()) {
        refused = refused || line.find("hpp_close() called from a callback") != std::string::npos;
    }
    CHECK(refused);
    CHECK(hpp_connected(test.client) == 1);
    hpp_close(test.client);
}

TEST_CASE("c api: the assignment callback gets the workload's plan") {
    const auto path = socket_path("c-assignment");
    FakeDaemon daemon(path, status_with({0, 1}, 1 << 30), plan_with(1, {0, 1}));
    const unsigned nodes[] = {0};
    hpp_workload workload{};
    workload.struct_size = sizeof(workload);
    workload.name = "svc";
    workload.nodes = nodes;
    workload.node_count = 1;
    workload.buffer_per_cpu = 1 << 20;
    hpp_client* client = open_client(path, &workload);
    struct Seen {
        std::uint64_t generation;
        std::string workload;
        std::vector<hpp_thread> threads;
        std::string cpuset;
    };
    Inbox<Seen> assignments;
    hpp_registration* registration = nullptr;
    REQUIRE(hpp_register_assignment_callback(
                client,
                [](const hpp_assignment* a, void* context) {
                    static_cast<Inbox<Seen>*>(context)->push(
                        {a->generation, a->workload, std::vector<hpp_thread>(a->threads, a->threads + a->thread_count),
                         a->cpuset});
                },
                &assignments, HPP_ADD_EXISTING, &registration) == 0);
    REQUIRE(assignments.wait_size(1));
    const Seen seen = assignments.get()[0];
    CHECK(seen.generation == 1);
    CHECK(seen.workload == "svc");
    REQUIRE(seen.threads.size() == 2);
    CHECK(seen.threads[1].index == 1);
    CHECK(seen.threads[1].cpu == 1);
    CHECK(seen.cpuset == "0-1");
    REQUIRE(daemon.wait_requests(1));
    const json request = daemon.requests()[0];
    CHECK(request["op"] == "register");
    CHECK(request["workload"]["name"] == "svc");
    CHECK(request["workload"]["threads_per_cpu"] == 1);
    CHECK(request["workload"]["nodes"] == json::array({0}));
    CHECK(request["workload"]["buffer_per_cpu"] == 1 << 20);
    hpp_close(client);
}

TEST_CASE("c api: hpp_active_processor_count is KeQueryActiveProcessorCount with the affinity mask") {
    std::uint64_t mask[64];
    std::memset(mask, 0xff, sizeof(mask));
    const unsigned count = hpp_active_processor_count(mask, 64);
    CHECK(count == hpplace::active_processor_count());
    unsigned bits = 0;
    for (const std::uint64_t word : mask) {
        bits += static_cast<unsigned>(__builtin_popcountll(word));
    }
    CHECK(bits == count);
    CHECK(hpp_active_processor_count(nullptr, 0) == count);
    std::uint64_t first = ~std::uint64_t{0};
    CHECK(hpp_active_processor_count(&first, 1) == count);
    CHECK(first == mask[0]);
}

namespace {

struct WorkerLog {
    std::atomic<int> started{0};
    std::atomic<unsigned> cpu{~0u};
    std::atomic<int> stopped{0};
};

void worker(hpp_worker* me, void* context) {
    auto* log = static_cast<WorkerLog*>(context);
    log->cpu = hpp_worker_cpu(me);
    ++log->started;
    while (hpp_worker_wait(me, 1000) == 0) {
    }
    if (hpp_worker_stop_requested(me) == 1) {
        ++log->stopped;
    }
}

}  // namespace

TEST_CASE("c api: a pool starts a pinned worker per planned thread and stops it") {
    cpu_set_t allowed;
    REQUIRE(::sched_getaffinity(0, sizeof(allowed), &allowed) == 0);
    unsigned cpu = 0;
    while (!CPU_ISSET(cpu, &allowed)) {
        ++cpu;
    }
    WorkerLog log;
    int error = 1;
    hpp_pool_options options{};
    options.struct_size = sizeof(options);
    options.flags = 0x100;  // unknown
    CHECK(hpp_pool_new(worker, &log, &options, &error) == nullptr);
    CHECK(error == -EINVAL);
    options.flags = HPP_POOL_KEEP_ON_CPU_GOING_OFFLINE;
    hpp_pool* pool = hpp_pool_new(worker, &log, &options, &error);
    REQUIRE(pool != nullptr);
    CHECK(error == 0);

    const hpp_thread threads[] = {{7, cpu, 0, 0}};
    hpp_assignment assignment{};
    assignment.struct_size = sizeof(assignment);
    assignment.generation = 1;
    assignment.threads = threads;
    assignment.thread_count = 1;
    hpp_pool_changes changes{};
    REQUIRE(hpp_pool_apply(pool, &assignment, &changes) == 0);
    CHECK(changes.struct_size == sizeof(changes));
    CHECK(changes.started == 1);
    CHECK(changes.errors == 0);
    hpp_thread running[4]{};
    REQUIRE(hpp_pool_threads(pool, running, 4) == 1);
    CHECK(running[0].index == 7);
    CHECK(running[0].cpu == cpu);
    for (int i = 0; i < 500 && log.started == 0; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(log.cpu == cpu);

    assignment.thread_count = 2;  // a count without an array to match
    assignment.threads = nullptr;
    CHECK(hpp_pool_apply(pool, &assignment, nullptr) == -EINVAL);
    REQUIRE(hpp_pool_stop_all(pool, &changes) == 0);
    CHECK(changes.stopped == 1);
    CHECK(log.stopped == 1);
    CHECK(hpp_pool_threads(pool, nullptr, 0) == 0);
    hpp_pool_free(pool);
}

TEST_CASE("c api: node buffers grow pre-faulted, hand out chunks that outlive a shrink") {
    int error = 1;
    hpp_buffers_options options{};
    options.struct_size = sizeof(options);
    options.chunk_bytes = 64 * 1024;
    options.log = [](const char*, void*) {};
    hpp_buffers* buffers = hpp_buffers_new(&options, &error);
    REQUIRE(buffers != nullptr);
    CHECK(error == 0);
    REQUIRE(hpp_buffers_resize(buffers, 0, 256 * 1024) == 0);
    REQUIRE(hpp_buffers_wait_ready(buffers, 10000) == 0);
    CHECK(hpp_buffers_ready_bytes(buffers, 0) == 256 * 1024);
    hpp_chunks* chunks = nullptr;
    REQUIRE(hpp_buffers_chunks(buffers, 0, &chunks) == 0);
    REQUIRE(hpp_chunks_count(chunks) == 4);
    CHECK(hpp_chunks_at(chunks, 4) == nullptr);
    const hpp_chunk* chunk = hpp_chunks_at(chunks, 0);
    REQUIRE(chunk != nullptr);
    CHECK(chunk->size == 64 * 1024);
    CHECK(chunk->node == 0);

    // The assignment names node 0 with nothing: it shrinks at once; the held chunk stays usable.
    const hpp_buffer none[] = {{0, 0, 0}};
    hpp_assignment assignment{};
    assignment.struct_size = sizeof(assignment);
    assignment.buffers = none;
    assignment.buffer_count = 1;
    REQUIRE(hpp_buffers_apply(buffers, &assignment) == 0);
    CHECK(hpp_buffers_ready_bytes(buffers, 0) == 0);
    hpp_buffers_free(buffers);
    std::memset(chunk->data, 0x5a, chunk->size);
    CHECK(static_cast<unsigned char*>(chunk->data)[chunk->size - 1] == 0x5a);
    hpp_chunks_release(chunks);
}
