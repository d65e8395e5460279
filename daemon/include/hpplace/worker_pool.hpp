#pragma once

// hpplace::WorkerPool: one pinned thread per planned thread of a workload. Give it
// the workload's Assignment each time the plan changes; it starts, re-pins or stops
// only the threads the change names (planner diff: start thread on CPU, move thread,
// stop thread) and leaves the others running undisturbed.
//
//   hpplace::WorkerPool pool([](std::stop_token stop, const hpplace::Worker& me) {
//       while (!stop.stop_requested()) { serve(me.cpu(), me.node()); }
//   });
//   pool.apply(assignment);
//
// A CPU that has just come online may refuse the pin for a few milliseconds
// (EINVAL: the kernel adds it to the cpuset hierarchy a little after onlining
// it). Such a pin is retried by the pool's own thread with a bounded backoff
// (WorkerPoolOptions) instead of being dropped; apply() never waits for it. An
// online CPU the process may never use (outside its cpuset for good) is thus
// reported only when the retries give up.
//
// A worker pinned to a CPU that is going offline is stopped (stop requested and
// joined off the socket's read path, by the pool's thread or by an apply() that
// comes first) as soon as a Client of this process receives the cpu_going_offline event, before the plan without it arrives; that later plan
// finds it gone and stops nothing, and no worker is started on the CPU until it
// is back online or a plan no longer places a thread on it. Back online, the
// CPU gets the workers the last plan places on it again (the daemon pushes no
// new plan when the CPU left and came back between two of its replans).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hpplace/assignment.hpp"
#include "hpplace/export.hpp"

namespace hpplace {

// A running worker as its function sees it. cpu() and node() change when the pool
// moves the thread (it is then already re-pinned).
class HPPLACE_API Worker {
public:
    virtual ~Worker() = default;
    virtual unsigned index() const noexcept = 0;
    virtual unsigned cpu() const noexcept = 0;
    virtual unsigned node() const noexcept = 0;
};

// What one apply() did. Without WorkerPoolOptions::on_background_change, what the
// pool did in the background since the previous call (retried pins, workers
// stopped for a CPU going offline) is added to it.
struct PoolChanges {
    std::vector<AssignedThread> started;
    std::vector<AssignedThread> moved;    // with their new CPU and node
    std::vector<AssignedThread> stopped;  // with their last CPU and node
    std::vector<std::string> errors;      // one line each (e.g. a CPU that cannot be pinned to)
    // Not pinned yet (start or move): retried in the background, later reported
    // as started/moved or, when the retries give up, as one error line.
    std::vector<AssignedThread> retrying;
    bool empty() const noexcept { return started.empty() && moved.empty() && stopped.empty(); }
};

struct WorkerPoolOptions {
    // One line per call, no newline. Default: "libhpplace: ..." on stderr.
    std::function<void(std::string_view)> log;
    // A pin refused with EINVAL while the CPU is online is retried: first after
    // pin_retry_first, the delay doubling up to pin_retry_max, the last attempt
    // pin_retry_budget after the first failure. The kernel usually catches up
    // within about 100 ms.
    std::chrono::milliseconds pin_retry_first{5};
    std::chrono::milliseconds pin_retry_max{500};
    std::chrono::milliseconds pin_retry_budget{3000};
    // Stop the workers of a CPU when a Client of this process reports it going offline.
    bool stop_on_cpu_going_offline = true;
    // Called on the pool's thread with what it did in the background: a retried
    // pin that succeeded (started/moved), one that gave up (errors, once per
    // thread), workers stopped for a CPU going offline (stopped; in apply()'s own
    // result instead when an apply() got to the notice first). It may call
    // apply(), not destroy the pool. Without it, those changes go into the result
    // of the next apply() or stop_all().
    std::function<void(const PoolChanges&)> on_background_change;
    // Probes, replaceable for tests. cpu_online: whether the CPU is online (a
    // refused pin of an offline CPU is final); default /sys/devices/system/cpu/online.
    // pin: pins the thread to that one CPU, returns 0 or an errno value;
    // default pthread_setaffinity_np.
    std::function<bool(unsigned cpu)> cpu_online;
    std::function<int(std::thread::native_handle_type thread, unsigned cpu)> pin;
};

class HPPLACE_API WorkerPool {
public:
    using WorkerFunction = std::function<void(std::stop_token, const Worker&)>;

    explicit WorkerPool(WorkerFunction function);
    WorkerPool(WorkerFunction function, WorkerPoolOptions options);
    // Requests stop of every worker and joins them; pending retries are dropped.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Brings the pool to the assignment's threads. A thread is started pinned to
    // its CPU before the function runs; a stop waits for the worker to return.
    // A worker whose CPU cannot be pinned to (offline CPU, outside the process's
    // cpuset) is reported in errors and not started (or left where it was),
    // unless the pin is retried (see `retrying`). An assignment that no longer
    // places a retrying thread where it was to go cancels its retry.
    PoolChanges apply(const Assignment& assignment);
    // Stops and joins every worker, drops pending retries.
    PoolChanges stop_all();

    // What a Client does by itself for every pool of the process (unless
    // stop_on_cpu_going_offline is false); for programs that learn of CPU changes
    // otherwise. Both return at once: the pool's thread requests the stop and joins.
    void cpu_going_offline(unsigned cpu);
    // The CPU is back: the workers the last plan places on it start again (on
    // the pool's thread), and later plans may start more there.
    void cpu_online(unsigned cpu);

    // The running workers (index, CPU, node), by index; retrying ones are not yet among them.
    std::vector<AssignedThread> threads() const;
    std::size_t size() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hpplace
