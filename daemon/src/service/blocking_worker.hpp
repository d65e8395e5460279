#pragma once

// A thread of its own for calls that can wait on a kernel lock, so that the
// event loop never does: a cpuset.cpus write waits for the CPU hotplug lock
// while a CPU comes or goes (17-25 ms on average, 500 ms in a storm), a read or
// write of cpuN/online for the CPU's device lock.
//
// Jobs run one at a time, in the order submitted. Each has a key (a cgroup, a
// CPU): a job submitted while one with the same key waits, not yet started,
// takes that one's place in the queue and the older one is dropped, so a burst
// of plans for a cgroup ends in one write of the newest. What a job's work
// returns is posted to the loop and run there: logs, metrics and state stay on
// the loop's thread. A job holds the loop's work count from submit() until its
// completion has run, so io_context::run() waits for it.
//
// submit(), in_flight() and the destructor are for the loop's thread. The
// destructor drops the jobs not started, waits for the running one (a kernel
// call returns once the lock is free) and joins; completions already posted
// then do nothing.

#include <cstddef>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include <boost/asio/any_io_executor.hpp>

namespace hpplace {

class BlockingWorker {
public:
    // Run on the loop with the result of the work.
    using Completion = std::function<void()>;
    // Run on the worker's thread; what it returns is run on the loop. An
    // exception it throws is rethrown on the loop, as if the call were made there.
    using Work = std::function<Completion()>;
    // Run on the loop, inside submit(), for a job that a newer one replaced.
    using Replaced = std::function<void()>;

    explicit BlockingWorker(boost::asio::any_io_executor loop);
    ~BlockingWorker();
    BlockingWorker(const BlockingWorker&) = delete;
    BlockingWorker& operator=(const BlockingWorker&) = delete;

    void submit(std::string key, Work work, Replaced replaced = {});

    // Jobs submitted whose completion has not run yet (replaced ones excluded).
    std::size_t in_flight() const noexcept { return in_flight_; }

private:
    struct Job {
        std::string key;
        Work work;
        Replaced replaced;
        boost::asio::any_io_executor tracked;  // the loop's executor, counting as work
    };

    void run(std::stop_token stop);

    boost::asio::any_io_executor loop_;
    std::size_t in_flight_ = 0;
    // Completions check it before touching *this.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::deque<Job> queue_;  // under mutex_
    std::jthread thread_;    // last: stops and joins before the rest goes
};

}  // namespace hpplace
