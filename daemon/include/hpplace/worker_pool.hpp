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

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
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

// What one apply() did.
struct PoolChanges {
    std::vector<AssignedThread> started;
    std::vector<AssignedThread> moved;    // with their new CPU and node
    std::vector<AssignedThread> stopped;  // with their last CPU and node
    std::vector<std::string> errors;      // one line each (e.g. a CPU that cannot be pinned to)
    bool empty() const noexcept { return started.empty() && moved.empty() && stopped.empty(); }
};

class HPPLACE_API WorkerPool {
public:
    using WorkerFunction = std::function<void(std::stop_token, const Worker&)>;

    explicit WorkerPool(WorkerFunction function);
    // Requests stop of every worker and joins them.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Brings the pool to the assignment's threads. A thread is started pinned to
    // its CPU before the function runs; a stop waits for the worker to return.
    // A worker whose CPU cannot be pinned to (offline CPU, outside the process's
    // cpuset) is reported in errors and not started (or left where it was).
    PoolChanges apply(const Assignment& assignment);
    // Stops and joins every worker.
    PoolChanges stop_all();

    // The running workers (index, CPU, node), by index.
    std::vector<AssignedThread> threads() const;
    std::size_t size() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hpplace
