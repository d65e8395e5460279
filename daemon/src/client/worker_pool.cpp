#include "hpplace/worker_pool.hpp"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <semaphore>
#include <string>
#include <system_error>
#include <thread>

#include "client/log.hpp"
#include "client/thread_diff.hpp"

namespace hpplace {

namespace {

// 0 or an errno value.
int pin_thread(pthread_t thread, unsigned cpu) {
    if (cpu >= CPU_SETSIZE) {
        return EINVAL;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::pthread_setaffinity_np(thread, sizeof(set), &set);
}

std::string pin_error(const AssignedThread& thread, int error) {
    return "thread " + std::to_string(thread.index) + ": cannot pin to CPU " + std::to_string(thread.cpu) + ": " +
           std::generic_category().message(error);
}

class RunningWorker final : public Worker {
public:
    explicit RunningWorker(const AssignedThread& place) noexcept
        : index_(place.index), cpu_(place.cpu), node_(place.node) {}

    unsigned index() const noexcept override { return index_; }
    unsigned cpu() const noexcept override { return cpu_.load(std::memory_order_acquire); }
    unsigned node() const noexcept override { return node_.load(std::memory_order_acquire); }

    AssignedThread place() const noexcept { return {index_, cpu(), node()}; }
    void set_place(const AssignedThread& place) noexcept {
        node_.store(place.node, std::memory_order_release);
        cpu_.store(place.cpu, std::memory_order_release);
    }

    // Starts the thread, pins it, and only then lets it run the function.
    // Returns 0 or the errno of the pinning (the thread then ends at once).
    int start(const WorkerPool::WorkerFunction& function, const client::LogFunction& log) {
        thread_ = std::jthread([this, &function, log](std::stop_token stop) {
            go_.acquire();
            if (!run_) {
                return;
            }
            try {
                function(stop, *this);
            } catch (const std::exception& e) {
                log("worker " + std::to_string(index_) + " ended with an exception: " + e.what());
            } catch (...) {
                log("worker " + std::to_string(index_) + " ended with an unknown exception");
            }
        });
        const int error = pin_thread(thread_.native_handle(), cpu());
        run_ = error == 0;
        go_.release();
        if (error != 0) {
            thread_.join();
        }
        return error;
    }

    int move_to(const AssignedThread& place) {
        const int error = pin_thread(thread_.native_handle(), place.cpu);
        if (error == 0) {
            set_place(place);
        }
        return error;
    }

    void request_stop() noexcept { thread_.request_stop(); }
    void join() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }

private:
    const unsigned index_;
    std::atomic<unsigned> cpu_;
    std::atomic<unsigned> node_;
    std::binary_semaphore go_{0};
    bool run_ = false;  // written before go_ is released
    std::jthread thread_;
};

}  // namespace

struct WorkerPool::Impl {
    WorkerFunction function;
    client::LogFunction log = client::log_or_stderr({});
    mutable std::mutex mutex;  // serialises apply() and guards workers
    std::map<unsigned, std::unique_ptr<RunningWorker>> workers;

    std::vector<AssignedThread> places() const {
        std::vector<AssignedThread> out;
        out.reserve(workers.size());
        for (const auto& [index, worker] : workers) {
            out.push_back(worker->place());
        }
        return out;
    }

    // Stops the named workers: every stop is requested before the first join.
    void stop(const std::vector<AssignedThread>& which, PoolChanges& changes) {
        for (const auto& place : which) {
            workers.at(place.index)->request_stop();
        }
        for (const auto& place : which) {
            auto it = workers.find(place.index);
            it->second->join();
            changes.stopped.push_back(it->second->place());
            workers.erase(it);
        }
    }
};

WorkerPool::WorkerPool(WorkerFunction function) : impl_(std::make_unique<Impl>()) {
    if (!function) {
        throw std::invalid_argument("WorkerPool needs a worker function");
    }
    impl_->function = std::move(function);
}

WorkerPool::~WorkerPool() { stop_all(); }

PoolChanges WorkerPool::apply(const Assignment& assignment) {
    std::lock_guard lock(impl_->mutex);
    PoolChanges changes;
    const auto actions = client::diff_threads(impl_->places(), assignment.threads);
    impl_->stop(actions.stop, changes);
    for (const auto& place : actions.move) {
        const int error = impl_->workers.at(place.index)->move_to(place);
        if (error != 0) {
            changes.errors.push_back(pin_error(place, error));
        } else {
            changes.moved.push_back(place);
        }
    }
    for (const auto& place : actions.start) {
        auto worker = std::make_unique<RunningWorker>(place);
        const int error = worker->start(impl_->function, impl_->log);
        if (error != 0) {
            changes.errors.push_back(pin_error(place, error));
            continue;
        }
        changes.started.push_back(place);
        impl_->workers.emplace(place.index, std::move(worker));
    }
    return changes;
}

PoolChanges WorkerPool::stop_all() {
    std::lock_guard lock(impl_->mutex);
    PoolChanges changes;
    impl_->stop(impl_->places(), changes);
    return changes;
}

std::vector<AssignedThread> WorkerPool::threads() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->places();
}

std::size_t WorkerPool::size() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->workers.size();
}

}  // namespace hpplace
