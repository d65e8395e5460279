// WorkerPool applying plan changes: exactly the named threads start, move or
// stop, each pinned where the plan says (checked with sched_getaffinity from
// inside the thread). Uses CPUs 0 and 1; skipped where they are not both usable.

#include <doctest/doctest.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
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

// Retried pins and CPUs going offline, with the probes replaced: pin() refuses
// chosen CPUs with EINVAL (as the kernel does for a CPU online but not yet in the
// cpuset hierarchy) and otherwise pins nothing, so any CPU number works here.
namespace {

struct FakeCpus {
    std::mutex mutex;
    std::map<unsigned, int> refusals;  // CPU -> pins still to refuse (-1: all)
    std::map<unsigned, int> pins;      // CPU -> pin calls
    std::set<unsigned> offline;

    void refuse(unsigned cpu, int count) {
        std::lock_guard lock(mutex);
        refusals[cpu] = count;
    }
    int pins_of(unsigned cpu) {
        std::lock_guard lock(mutex);
        return pins[cpu];
    }
    void set_offline(unsigned cpu) {
        std::lock_guard lock(mutex);
        offline.insert(cpu);
    }
};

// What the pool reports from its own thread, and its log.
struct Background {
    std::mutex mutex;
    std::condition_variable changed;
    PoolChanges all;
    std::vector<std::string> log;

    template <typename Predicate>
    bool wait(Predicate predicate) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 10s, [&] { return predicate(all, log); });
    }
    PoolChanges get() {
        std::lock_guard lock(mutex);
        return all;
    }
};

WorkerPoolOptions fake_options(FakeCpus& cpus, Background& background, bool report_in_background = true) {
    WorkerPoolOptions options;
    options.pin_retry_first = 1ms;
    options.pin_retry_max = 8ms;
    options.pin_retry_budget = 5s;
    options.stop_on_cpu_going_offline = false;  // only this test's calls, not other clients of the process
    options.log = [&background](std::string_view line) {
        std::lock_guard lock(background.mutex);
        background.log.emplace_back(line);
        background.changed.notify_all();
    };
    if (report_in_background) {
        options.on_background_change = [&background](const PoolChanges& changes) {
            std::lock_guard lock(background.mutex);
            auto& all = background.all;
            all.started.insert(all.started.end(), changes.started.begin(), changes.started.end());
            all.moved.insert(all.moved.end(), changes.moved.begin(), changes.moved.end());
            all.stopped.insert(all.stopped.end(), changes.stopped.begin(), changes.stopped.end());
            all.errors.insert(all.errors.end(), changes.errors.begin(), changes.errors.end());
            background.changed.notify_all();
        };
    }
    options.cpu_online = [&cpus](unsigned cpu) {
        std::lock_guard lock(cpus.mutex);
        return !cpus.offline.contains(cpu);
    };
    options.pin = [&cpus](std::thread::native_handle_type, unsigned cpu) {
        std::lock_guard lock(cpus.mutex);
        ++cpus.pins[cpu];
        auto it = cpus.refusals.find(cpu);
        if (it != cpus.refusals.end() && it->second != 0) {
            if (it->second > 0) {
                --it->second;
            }
            return EINVAL;
        }
        return 0;
    };
    return options;
}

// The fakes and what the workers saw, for one test.
struct PoolRig {
    FakeCpus cpus;
    Background background;
    Observed observed;
    WorkerPoolOptions options(bool report_in_background = true) {
        return fake_options(cpus, background, report_in_background);
    }
};

template <typename Predicate>
bool eventually(Observed& observed, Predicate predicate) {
    for (int i = 0; i < 10000; ++i) {
        {
            std::lock_guard lock(observed.mutex);
            if (predicate()) {
                return true;
            }
        }
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

}  // namespace

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: a pin refused while the CPU is online is retried in the background until it takes") {
    cpus.refuse(5, 3);
    WorkerPool pool(observing(observed), options());
    const auto changes = pool.apply(assignment_of({{0, 5, 0}}));
    CHECK(changes.started.empty());
    CHECK(changes.errors.empty());
    CHECK(changes.retrying == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(pool.size() == 0);  // not started while retrying

    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.started.empty(); }));
    CHECK(background.get().started == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(background.get().errors.empty());
    CHECK(pool.threads() == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(cpus.pins_of(5) == 4);
    CHECK(eventually(observed, [&] { return observed.starts[0] == 1; }));
    // The same assignment again changes nothing.
    CHECK(pool.apply(assignment_of({{0, 5, 0}})).empty());
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: a pin that keeps being refused gives up once, as one error") {
    cpus.refuse(5, -1);
    SUBCASE("through on_background_change") {
        {
            auto pool_options = options();
            pool_options.pin_retry_budget = 50ms;
            WorkerPool pool(observing(observed), pool_options);
            CHECK(pool.apply(assignment_of({{0, 5, 0}})).retrying.size() == 1);
            REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.errors.empty(); }));
            CHECK(pool.size() == 0);
        }  // destroyed: the pool's thread is joined, nothing more can come
        const auto all = background.get();
        REQUIRE(all.errors.size() == 1);
        CHECK(all.errors[0].starts_with("thread 0: cannot pin to CPU 5: Invalid argument (gave up after "));
        CHECK(all.started.empty());
        CHECK(cpus.pins_of(5) >= 3);
        std::lock_guard lock(background.mutex);
        CHECK(std::count(background.log.begin(), background.log.end(), all.errors[0]) == 1);
    }
    SUBCASE("in the next apply() without a callback") {
        auto pool_options = options(/*report_in_background=*/false);
        pool_options.pin_retry_budget = 50ms;
        WorkerPool pool(observing(observed), pool_options);
        pool.apply(assignment_of({{0, 5, 0}}));
        REQUIRE(background.wait([](auto&, const std::vector<std::string>& log) {
            return !log.empty() && log.back().find("gave up") != std::string::npos;
        }));
        const auto next = pool.apply(assignment_of({}));
        REQUIRE(next.errors.size() == 1);
        CHECK(next.errors[0].find("gave up after") != std::string::npos);
        CHECK(pool.apply(assignment_of({})).errors.empty());
    }
    SUBCASE("at once when the CPU went offline meanwhile") {
        WorkerPool pool(observing(observed), options());
        pool.apply(assignment_of({{0, 5, 0}}));
        cpus.set_offline(5);
        REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.errors.empty(); }));
        CHECK(background.get().errors[0].ends_with("(no more retries: the CPU is offline)"));
    }
    std::lock_guard lock(observed.mutex);
    CHECK(observed.starts[0] == 0);
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: a newer assignment cancels a retry it no longer wants, keeps one it still wants") {
    cpus.refuse(5, -1);
    int pins_at_cancel = 0;
    {
        WorkerPool pool(observing(observed), options());
        CHECK(pool.apply(assignment_of({{0, 5, 0}})).retrying.size() == 1);
        // Still wanted where it was going: the retry goes on, not reported again.
        const auto same = pool.apply(assignment_of({{0, 5, 0}}));
        CHECK(same.empty());
        CHECK(same.retrying.empty());
        // Wanted elsewhere: the retry ends, the thread starts on the new CPU.
        const auto moved = pool.apply(assignment_of({{0, 6, 0}}));
        pins_at_cancel = cpus.pins_of(5);
        CHECK(moved.started == std::vector<AssignedThread>{{0, 6, 0}});
        CHECK(moved.errors.empty());
        CHECK(eventually(observed, [&] { return observed.cpu_seen.contains(0); }));
        // And one that is not wanted at all ends too.
        cpus.refuse(7, -1);
        CHECK(pool.apply(assignment_of({{0, 6, 0}, {1, 7, 0}})).retrying.size() == 1);
        CHECK(pool.apply(assignment_of({{0, 6, 0}})).empty());
    }
    CHECK(cpus.pins_of(5) == pins_at_cancel);  // no retry after the cancel
    const auto all = background.get();
    CHECK(all.started.empty());
    CHECK(all.errors.empty());
    std::lock_guard lock(observed.mutex);
    CHECK(observed.starts == std::map<unsigned, int>{{0, 1}});
    CHECK(observed.cpu_seen[0] == 6);
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: a refused move is retried; the worker keeps running where it was meanwhile") {
    WorkerPool pool(observing(observed), options());
    REQUIRE(pool.apply(assignment_of({{0, 6, 0}})).started.size() == 1);
    cpus.refuse(5, 2);
    const auto changes = pool.apply(assignment_of({{0, 5, 0}}));
    CHECK(changes.moved.empty());
    CHECK(changes.retrying == std::vector<AssignedThread>{{0, 5, 0}});
    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.moved.empty(); }));
    CHECK(background.get().moved == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(pool.threads() == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(eventually(observed, [&] { return observed.cpu_seen[0] == 5; }));
    std::lock_guard lock(observed.mutex);
    CHECK(observed.starts[0] == 1);
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: a CPU going offline stops its workers at once; the later plan stops nothing") {
    WorkerPool pool(observing(observed), options());
    REQUIRE(pool.apply(assignment_of({{0, 5, 0}, {1, 6, 0}})).started.size() == 2);
    REQUIRE(eventually(observed, [&] { return observed.cpu_seen.size() == 2; }));

    pool.cpu_going_offline(5);
    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.stopped.empty(); }));
    CHECK(background.get().stopped == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(pool.threads() == std::vector<AssignedThread>{{1, 6, 0}});
    {
        std::lock_guard lock(observed.mutex);
        CHECK(observed.stops[0] == 1);  // returned before any new plan
        CHECK(observed.stops[1] == 0);
    }
    // A plan from before the daemon saw it does not bring the worker back.
    CHECK(pool.apply(assignment_of({{0, 5, 0}, {1, 6, 0}})).empty());
    // The plan without CPU 5: nothing left to stop.
    const auto later = pool.apply(assignment_of({{1, 6, 0}}));
    CHECK(later.empty());
    CHECK(later.errors.empty());
    // CPU 5 back: the next plan starts a new worker there.
    CHECK(pool.apply(assignment_of({{0, 5, 0}, {1, 6, 0}})).started == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(eventually(observed, [&] { return observed.starts[0] == 2; }));
    std::lock_guard lock(observed.mutex);
    CHECK(observed.stops[0] == 1);
    CHECK(background.get().stopped.size() == 1);
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: a worker of a CPU going offline may run elsewhere before it is asked to stop") {
    cpu_set_t process;
    REQUIRE(::sched_getaffinity(0, sizeof(process), &process) == 0);
    if (!CPU_ISSET(0, &process) || CPU_COUNT(&process) < 2) {
        MESSAGE("needs CPU 0 and another CPU in this process's affinity; skipped");
        return;
    }
    std::atomic<int> cpu0_allowed_at_stop{-1};
    // The fake pin leaves the thread's affinity alone: it starts with the process's CPUs, 0 among them.
    WorkerPool pool(
        [&](std::stop_token stop, const Worker&) {
            while (!stop.stop_requested()) {
                std::this_thread::sleep_for(1ms);
            }
            cpu_set_t mine;
            ::sched_getaffinity(0, sizeof(mine), &mine);
            cpu0_allowed_at_stop = CPU_ISSET(0, &mine) ? 1 : 0;
        },
        options());
    REQUIRE(pool.apply(assignment_of({{0, 0, 0}})).started.size() == 1);
    pool.cpu_going_offline(0);
    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.stopped.empty(); }));
    CHECK(cpu0_allowed_at_stop == 0);
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: cpu_online brings back the workers the assignment still places on the CPU") {
    // The daemon pushes no new plan when the CPU went and came back between two of its replans.
    WorkerPool pool(observing(observed), options());
    REQUIRE(pool.apply(assignment_of({{0, 5, 0}, {1, 6, 0}})).started.size() == 2);
    pool.cpu_going_offline(5);
    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.stopped.empty(); }));
    pool.cpu_online(5);
    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.started.empty(); }));
    CHECK(background.get().started == std::vector<AssignedThread>{{0, 5, 0}});
    CHECK(pool.threads() == std::vector<AssignedThread>{{0, 5, 0}, {1, 6, 0}});
    CHECK(eventually(observed, [&] { return observed.starts[0] == 2; }));
    // A plan that still names it finds it running.
    CHECK(pool.apply(assignment_of({{0, 5, 0}, {1, 6, 0}})).empty());
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: a thread skipped for a CPU going offline starts once the CPU is back") {
    // The client read the notice of a later cpu_going_offline before this plan was applied.
    WorkerPool pool(observing(observed), options());
    pool.cpu_going_offline(5);
    const auto skipped = pool.apply(assignment_of({{0, 5, 0}}));
    CHECK(skipped.started.empty());
    CHECK(pool.size() == 0);
    pool.cpu_online(5);
    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.started.empty(); }));
    CHECK(pool.threads() == std::vector<AssignedThread>{{0, 5, 0}});
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: cpu_online starts nothing the assignment no longer places there") {
    WorkerPool pool(observing(observed), options());
    REQUIRE(pool.apply(assignment_of({{0, 5, 0}})).started.size() == 1);
    pool.cpu_going_offline(5);
    REQUIRE(background.wait([](const PoolChanges& all, auto&) { return !all.stopped.empty(); }));
    CHECK(pool.apply(assignment_of({{0, 6, 0}})).started == std::vector<AssignedThread>{{0, 6, 0}});
    pool.cpu_online(5);
    std::this_thread::sleep_for(50ms);
    CHECK(background.get().started.empty());
    CHECK(pool.threads() == std::vector<AssignedThread>{{0, 6, 0}});
}

TEST_CASE_FIXTURE(PoolRig, "WorkerPool: an assignment applied right after the notice sees the CPU leaving") {
    WorkerPool pool(observing(observed), options());
    REQUIRE(pool.apply(assignment_of({{0, 5, 0}})).started.size() == 1);
    pool.cpu_going_offline(5);
    // Whether or not the pool's thread has handled the notice yet: stopped once, not restarted.
    const auto stale = pool.apply(assignment_of({{0, 5, 0}}));
    CHECK(stale.started.empty());
    CHECK(pool.size() == 0);
    CHECK(stale.stopped.size() + background.get().stopped.size() == 1);
    CHECK(eventually(observed, [&] { return observed.stops[0] == 1 && observed.starts[0] == 1; }));
}
