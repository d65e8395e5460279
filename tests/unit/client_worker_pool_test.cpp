// WorkerPool applying plan changes: exactly the named threads start, move or
// stop, each pinned where the plan says (checked with sched_getaffinity from
// inside the thread). Uses CPUs 0 and 1; skipped where they are not both usable.

#include <doctest/doctest.h>

#include <sched.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "client/thread_diff.hpp"
#include "hpplace/worker_pool.hpp"

using namespace hpplace;
using namespace std::chrono_literals;

namespace {

bool cpus_0_and_1_usable() {
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

// What each worker sees from inside, per index.
struct Observed {
    std::mutex mutex;
    std::map<unsigned, int> starts;
    std::map<unsigned, int> stops;
    std::map<unsigned, std::vector<unsigned>> affinity;  // latest sched_getaffinity
    std::map<unsigned, unsigned> cpu_seen;                // latest Worker::cpu()
};

std::vector<unsigned> own_affinity() {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(::sched_getaffinity(0, sizeof(set), &set) == 0);
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) {
            cpus.push_back(c);
        }
    }
    return cpus;
}

WorkerPool::WorkerFunction observing(Observed& observed) {
    return [&observed](std::stop_token stop, const Worker& me) {
        {
            std::lock_guard lock(observed.mutex);
            ++observed.starts[me.index()];
        }
        while (!stop.stop_requested()) {
            const auto cpus = own_affinity();
            {
                std::lock_guard lock(observed.mutex);
                observed.affinity[me.index()] = cpus;
                observed.cpu_seen[me.index()] = me.cpu();
            }
            std::this_thread::sleep_for(1ms);
        }
        std::lock_guard lock(observed.mutex);
        ++observed.stops[me.index()];
    };
}

// Waits until worker `index` reports being pinned to exactly `cpu`.
bool seen_on(Observed& observed, unsigned index, unsigned cpu) {
    for (int i = 0; i < 2000; ++i) {
        {
            std::lock_guard lock(observed.mutex);
            if (observed.affinity[index] == std::vector<unsigned>{cpu} && observed.cpu_seen[index] == cpu) {
                return true;
            }
        }
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

Assignment assignment_of(std::vector<AssignedThread> threads) {
    Assignment a;
    a.threads = std::move(threads);
    return a;
}

}  // namespace

TEST_CASE("client thread diff: the planner's diff restricted to threads") {
    const std::vector<AssignedThread> running{{0, 0, 0}, {1, 1, 0}, {2, 1, 0}};
    const auto actions = client::diff_threads(running, {{0, 0, 0}, {2, 0, 0}, {3, 1, 0}});
    CHECK(actions.start == std::vector<AssignedThread>{{3, 1, 0}});
    CHECK(actions.move == std::vector<AssignedThread>{{2, 0, 0}});
    CHECK(actions.stop == std::vector<AssignedThread>{{1, 1, 0}});
    CHECK(client::diff_threads(running, running) == client::ThreadActions{});
    CHECK_THROWS_AS(client::diff_threads({}, {{0, 0, 0}, {0, 1, 0}}), std::invalid_argument);
}

TEST_CASE("WorkerPool: starts, moves and stops exactly the threads the plan change names") {
    if (!cpus_0_and_1_usable()) {
        MESSAGE("skipped: CPUs 0 and 1 are not both in this process's affinity");
        return;
    }
    Observed observed;
    {
        WorkerPool pool(observing(observed));
        auto changes = pool.apply(assignment_of({{0, 0, 0}, {1, 1, 0}}));
        CHECK(changes.started == std::vector<AssignedThread>{{0, 0, 0}, {1, 1, 0}});
        CHECK(changes.moved.empty());
        CHECK(changes.stopped.empty());
        CHECK(changes.errors.empty());
        CHECK(seen_on(observed, 0, 0));
        CHECK(seen_on(observed, 1, 1));

        // Same plan again: nothing happens.
        CHECK(pool.apply(assignment_of({{0, 0, 0}, {1, 1, 0}})).empty());

        // Thread 1 moves to CPU 0, thread 2 starts on CPU 1; thread 0 is untouched.
        changes = pool.apply(assignment_of({{0, 0, 0}, {1, 0, 0}, {2, 1, 0}}));
        CHECK(changes.started == std::vector<AssignedThread>{{2, 1, 0}});
        CHECK(changes.moved == std::vector<AssignedThread>{{1, 0, 0}});
        CHECK(changes.stopped.empty());
        CHECK(seen_on(observed, 1, 0));
        CHECK(seen_on(observed, 2, 1));

        // Thread 0 stops; the others keep running.
        changes = pool.apply(assignment_of({{1, 0, 0}, {2, 1, 0}}));
        CHECK(changes.stopped == std::vector<AssignedThread>{{0, 0, 0}});
        CHECK(pool.threads() == std::vector<AssignedThread>{{1, 0, 0}, {2, 1, 0}});
        std::lock_guard lock(observed.mutex);
        CHECK(observed.stops[0] == 1);
        CHECK(observed.stops[1] == 0);
        CHECK(observed.starts == std::map<unsigned, int>{{0, 1}, {1, 1}, {2, 1}});
    }
    // Destruction joined the rest, each once.
    std::lock_guard lock(observed.mutex);
    CHECK(observed.stops == std::map<unsigned, int>{{0, 1}, {1, 1}, {2, 1}});
}

TEST_CASE("WorkerPool: a CPU that cannot be pinned to is an error line, and the pool goes on") {
    Observed observed;
    WorkerPool pool(observing(observed));
    const unsigned impossible = CPU_SETSIZE - 1;  // not online here
    auto changes = pool.apply(assignment_of({{0, impossible, 0}}));
    CHECK(changes.started.empty());
    REQUIRE(changes.errors.size() == 1);
    CHECK(changes.errors[0].find("cannot pin to CPU") != std::string::npos);
    CHECK(pool.size() == 0);
    changes = pool.apply(assignment_of({{0, 0, 0}}));
    CHECK(changes.started.size() == 1);
    CHECK(seen_on(observed, 0, 0));
    // A failed move leaves the thread where it was.
    changes = pool.apply(assignment_of({{0, impossible, 0}}));
    CHECK(changes.moved.empty());
    CHECK(changes.errors.size() == 1);
    CHECK(pool.threads() == std::vector<AssignedThread>{{0, 0, 0}});
    CHECK_THROWS_AS(pool.apply(assignment_of({{0, 0, 0}, {0, 0, 0}})), std::invalid_argument);
    CHECK(pool.size() == 1);
}

TEST_CASE("WorkerPool: a throwing worker ends alone and the pool still joins") {
    std::vector<std::string> lines;
    WorkerPool pool([](std::stop_token, const Worker&) { throw std::runtime_error("boom"); });
    CHECK(pool.apply(assignment_of({{0, 0, 0}})).started.size() == 1);
    CHECK(pool.stop_all().stopped.size() == 1);
    CHECK(pool.size() == 0);
}
