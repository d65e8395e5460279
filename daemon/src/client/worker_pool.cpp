#include "hpplace/worker_pool.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "client/cpu_signals.hpp"
#include "client/log.hpp"
#include "client/thread_diff.hpp"
#include "core/backoff.hpp"

namespace hpplace {

namespace {

using Clock = std::chrono::steady_clock;
using PinFunction = std::function<int(std::thread::native_handle_type, unsigned)>;

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
    // A thread still parked (its pin being retried) is let go without running the function.
    ~RunningWorker() override { abandon(); }
    RunningWorker(const RunningWorker&) = delete;
    RunningWorker& operator=(const RunningWorker&) = delete;

    unsigned index() const noexcept override { return index_; }
    unsigned cpu() const noexcept override { return cpu_.load(std::memory_order_acquire); }
    unsigned node() const noexcept override { return node_.load(std::memory_order_acquire); }

    AssignedThread place() const noexcept { return {index_, cpu(), node()}; }
    void set_place(const AssignedThread& place) noexcept {
        node_.store(place.node, std::memory_order_release);
        cpu_.store(place.cpu, std::memory_order_release);
    }

    // Starts the thread parked: it runs the function only after launch(), once pinned.
    void create(const WorkerPool::WorkerFunction& function, const client::LogFunction& log) {
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
        parked_ = true;
    }
    // 0 or the errno of the pinning.
    int pin(const PinFunction& pin, unsigned cpu) { return pin(thread_.native_handle(), cpu); }
    void launch() { release(true); }
    void abandon() {
        if (parked_) {
            release(false);
            thread_.join();
        }
    }

    int move_to(const PinFunction& pin, const AssignedThread& place) {
        const int error = pin(thread_.native_handle(), place.cpu);
        if (error == 0) {
            set_place(place);
        }
        return error;
    }

    // Lets the thread run anywhere but `cpu` (the kernel keeps it within the
    // process's cpuset): a worker asked to stop because its CPU is going
    // offline may still be asleep or finishing an iteration when the CPU goes,
    // and the kernel would then have to break its affinity ("no longer affine
    // to cpuN"). Best effort: nothing to do when no other CPU is left.
    void move_off(unsigned cpu) noexcept {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned other = 0; other < CPU_SETSIZE; ++other) {
            if (other != cpu) {
                CPU_SET(other, &set);
            }
        }
        ::pthread_setaffinity_np(thread_.native_handle(), sizeof(set), &set);
    }

    void request_stop() noexcept { thread_.request_stop(); }
    void join() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }

private:
    void release(bool run) {
        run_ = run;
        parked_ = false;
        go_.release();
    }

    const unsigned index_;
    std::atomic<unsigned> cpu_;
    std::atomic<unsigned> node_;
    std::binary_semaphore go_{0};
    bool run_ = false;     // written before go_ is released
    bool parked_ = false;  // created, neither launched nor abandoned
    std::jthread thread_;
};

// A pin refused while its CPU is online, tried again by the pool's thread.
struct Retry {
    enum class Kind : std::uint8_t { start, move };
    Kind kind = Kind::start;
    AssignedThread place;                   // where the thread is to go
    std::unique_ptr<RunningWorker> worker;  // start: the parked thread
    Backoff backoff;
    Clock::time_point due;
};

// Something that hears about CPUs leaving and coming back (a pool).
class CpuListener {
public:
    virtual void post(unsigned cpu, bool leaving) = 0;

protected:
    ~CpuListener() = default;
};

// The process's pools. Never destroyed: a static pool may outlive any static here.
struct Listeners {
    std::mutex mutex;
    std::set<CpuListener*> all;
};

Listeners& listeners() {
    static auto* const instance = new Listeners;
    return *instance;
}

void post_to_listeners(unsigned cpu, bool leaving) {
    auto& registry = listeners();
    std::lock_guard lock(registry.mutex);
    for (auto* listener : registry.all) {
        listener->post(cpu, leaving);
    }
}

bool sysfs_cpu_online(unsigned cpu) {
    const auto online = client::system_online_cpus();
    return !online || online->test(cpu);  // unknown: assume online (the retries are bounded anyway)
}

}  // namespace

namespace client {

void post_cpu_going_offline(unsigned cpu) { post_to_listeners(cpu, true); }
void post_cpu_online(unsigned cpu) { post_to_listeners(cpu, false); }

std::optional<CpuSet> system_online_cpus() {
    std::ifstream online("/sys/devices/system/cpu/online");
    std::string list;
    if (online && std::getline(online, list)) {
        try {
            return CpuSet::parse_list(list);
        } catch (const std::invalid_argument&) {
        }
    }
    return std::nullopt;
}

}  // namespace client

struct WorkerPool::Impl final : CpuListener {
    WorkerFunction function;
    WorkerPoolOptions options;
    client::LogFunction log;
    BackoffPolicy backoff;
    PinFunction pin;

    mutable std::mutex mutex;  // serialises apply() and the pool's thread; guards what follows
    std::map<unsigned, std::unique_ptr<RunningWorker>> workers;
    std::map<unsigned, Retry> retries;  // by index
    std::set<unsigned> leaving;         // CPUs going offline: nothing is started or moved there
    // The last assignment's threads: a CPU back online gets those planned on it
    // again, since the daemon pushes no new plan when the CPU went and came back
    // between two of its replans (the placement did not change).
    std::vector<AssignedThread> planned_threads;
    PoolChanges carried;                // background changes for the next apply() (no on_background_change)

    // What the pool's thread is to look at; its own lock, so that posting never waits for apply().
    std::mutex signal_mutex;
    std::condition_variable_any wake;
    std::vector<std::pair<unsigned, bool>> notices;  // CPU, leaving
    bool rescan = false;                             // retries changed

    std::jthread pool_thread;  // started last, stopped first

    Impl(WorkerFunction worker_function, WorkerPoolOptions pool_options)
        : function(std::move(worker_function)),
          options(std::move(pool_options)),
          log(client::log_or_stderr(options.log)),
          backoff{options.pin_retry_first, options.pin_retry_max, options.pin_retry_budget},
          pin(options.pin ? options.pin : PinFunction(pin_thread)) {
        if (!options.cpu_online) {
            options.cpu_online = sysfs_cpu_online;
        }
    }

    void post(unsigned cpu, bool cpu_leaving) override {
        {
            std::lock_guard lock(signal_mutex);
            notices.emplace_back(cpu, cpu_leaving);
        }
        wake.notify_all();
    }

    void wake_for_retries() {
        {
            std::lock_guard lock(signal_mutex);
            rescan = true;
        }
        wake.notify_all();
    }

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
            retries.erase(place.index);  // a pending move of it
        }
        for (const auto& place : which) {
            auto it = workers.find(place.index);
            it->second->join();
            changes.stopped.push_back(it->second->place());
            workers.erase(it);
        }
    }

    // A refused pin worth retrying: the CPU is online, only not yet usable.
    bool retryable(int error, unsigned cpu) const { return error == EINVAL && options.cpu_online(cpu); }

    void add_retry(Retry::Kind kind, const AssignedThread& place, std::unique_ptr<RunningWorker> worker,
                   int error, PoolChanges& changes) {
        const auto now = Clock::now();
        Backoff schedule(backoff, now);
        const auto due = schedule.next(now);
        if (!due) {  // no budget: retries are off
            changes.errors.push_back(pin_error(place, error));
            return;
        }
        log(pin_error(place, error) + "; retrying in the background");
        retries.insert_or_assign(place.index, Retry{kind, place, std::move(worker), schedule, *due});
        changes.retrying.push_back(place);
    }

    // Keeps the retries that the assignment still wants where they were to go; cancels the others.
    void keep_wanted_retries(const std::vector<AssignedThread>& planned) {
        std::map<unsigned, AssignedThread> by_index;
        for (const auto& thread : planned) {
            by_index.emplace(thread.index, thread);
        }
        for (auto it = retries.begin(); it != retries.end();) {
            const auto wanted = by_index.find(it->first);
            if (wanted != by_index.end() && wanted->second.cpu == it->second.place.cpu) {
                it->second.place.node = wanted->second.node;
                ++it;
                continue;
            }
            log("thread " + std::to_string(it->first) + ": no more retries to pin to CPU " +
                std::to_string(it->second.place.cpu) + ": the assignment changed");
            it = retries.erase(it);  // a parked thread is let go by its destructor
        }
    }

    void start(const AssignedThread& place, PoolChanges& changes) {
        auto worker = std::make_unique<RunningWorker>(place);
        worker->create(function, log);
        const int error = worker->pin(pin, place.cpu);
        if (error == 0) {
            worker->launch();
            changes.started.push_back(place);
            workers.emplace(place.index, std::move(worker));
        } else if (retryable(error, place.cpu)) {
            add_retry(Retry::Kind::start, place, std::move(worker), error, changes);
        } else {
            changes.errors.push_back(pin_error(place, error));
        }
    }

    void move(const AssignedThread& place, PoolChanges& changes) {
        const int error = workers.at(place.index)->move_to(pin, place);
        if (error == 0) {
            changes.moved.push_back(place);
        } else if (retryable(error, place.cpu)) {
            add_retry(Retry::Kind::move, place, nullptr, error, changes);
        } else {
            changes.errors.push_back(pin_error(place, error));
        }
    }

    bool skip_leaving(const AssignedThread& place) const {
        if (!leaving.contains(place.cpu)) {
            return false;
        }
        log("thread " + std::to_string(place.index) + ": not placed on CPU " + std::to_string(place.cpu) +
            ", which is going offline");
        return true;
    }

    PoolChanges apply(const Assignment& assignment) {
        // Throws on a bad assignment before anything changes.
        auto actions = client::diff_threads(places(), assignment.threads);
        PoolChanges changes = std::exchange(carried, {});
        // A CPU notice the client posted before this assignment is handled before it,
        // whether or not the pool's thread got to it yet.
        if (handle_notices(changes)) {
            actions = client::diff_threads(places(), assignment.threads);
        }
        planned_threads = assignment.threads;
        // A CPU no thread is planned on any more: the daemon has seen it leave.
        std::erase_if(leaving, [&](unsigned cpu) {
            return std::none_of(assignment.threads.begin(), assignment.threads.end(),
                                [cpu](const AssignedThread& thread) { return thread.cpu == cpu; });
        });
        keep_wanted_retries(assignment.threads);
        stop(actions.stop, changes);
        for (const auto& place : actions.move) {
            if (!retries.contains(place.index) && !skip_leaving(place)) {
                move(place, changes);
            }
        }
        for (const auto& place : actions.start) {
            if (!retries.contains(place.index) && !skip_leaving(place)) {
                start(place, changes);
            }
        }
        if (!changes.retrying.empty()) {
            wake_for_retries();
        }
        return changes;
    }

    PoolChanges stop_all() {
        PoolChanges changes = std::exchange(carried, {});
        retries.clear();
        planned_threads.clear();
        stop(places(), changes);
        return changes;
    }

    // The pool's thread: CPU notices and due retries.
    void run(std::stop_token stop_token) {
        client::name_this_thread("hpplace-pool");
        for (;;) {
            std::optional<Clock::time_point> due;
            {
                std::lock_guard lock(mutex);
                for (const auto& [index, retry] : retries) {
                    due = due ? std::min(*due, retry.due) : retry.due;
                }
            }
            {
                std::unique_lock lock(signal_mutex);
                const auto ready = [&] { return !notices.empty() || rescan; };
                if (due) {
                    wake.wait_until(lock, stop_token, *due, ready);
                } else {
                    wake.wait(lock, stop_token, ready);
                }
                if (stop_token.stop_requested()) {
                    return;
                }
                rescan = false;
            }
            PoolChanges changes;
            {
                std::lock_guard lock(mutex);
                handle_notices(changes);
                run_due_retries(changes);
                if (!options.on_background_change) {
                    append(carried, changes);
                    continue;
                }
            }
            if (!changes.empty() || !changes.errors.empty()) {
                try {
                    options.on_background_change(changes);
                } catch (const std::exception& e) {
                    log(std::string("on_background_change threw: ") + e.what());
                } catch (...) {
                    log("on_background_change threw an unknown exception");
                }
            }
        }
    }

    // Called with mutex held. Returns whether there was any.
    bool handle_notices(PoolChanges& changes) {
        std::vector<std::pair<unsigned, bool>> taken;
        {
            std::lock_guard lock(signal_mutex);
            taken.swap(notices);
        }
        for (const auto& [cpu, cpu_leaving] : taken) {
            if (cpu_leaving) {
                stop_for_offline(cpu, changes);
            } else if (leaving.erase(cpu) != 0) {
                place_again(cpu, changes);
            }
        }
        return !taken.empty();
    }

    // Starts or moves back the wanted threads of a CPU that left and is online again.
    void place_again(unsigned cpu, PoolChanges& changes) {
        for (const auto& place : planned_threads) {
            if (place.cpu != cpu || retries.contains(place.index)) {
                continue;
            }
            const auto it = workers.find(place.index);
            if (it == workers.end()) {
                start(place, changes);
            } else if (it->second->cpu() != cpu) {
                move(place, changes);
            }
        }
        if (!changes.retrying.empty()) {
            wake_for_retries();
        }
    }

    void stop_for_offline(unsigned cpu, PoolChanges& changes) {
        leaving.insert(cpu);
        std::erase_if(retries, [&](const auto& entry) {
            if (entry.second.place.cpu != cpu) {
                return false;
            }
            log("thread " + std::to_string(entry.first) + ": no more retries to pin to CPU " + std::to_string(cpu) +
                ", which is going offline");
            return true;
        });
        std::vector<AssignedThread> which;
        for (const auto& [index, worker] : workers) {
            if (worker->cpu() == cpu) {
                worker->move_off(cpu);  // before the stop, which waits for the function to return
                which.push_back(worker->place());
            }
        }
        const std::size_t before = changes.stopped.size();
        stop(which, changes);
        for (std::size_t i = before; i < changes.stopped.size(); ++i) {
            log("worker " + std::to_string(changes.stopped[i].index) + " stopped: CPU " + std::to_string(cpu) +
                " is going offline");
        }
    }

    void run_due_retries(PoolChanges& changes) {
        for (auto it = retries.begin(); it != retries.end();) {
            Retry& retry = it->second;
            const auto now = Clock::now();
            if (retry.due > now) {
                ++it;
                continue;
            }
            const int error = retry.kind == Retry::Kind::start ? retry.worker->pin(pin, retry.place.cpu)
                                                               : workers.at(it->first)->move_to(pin, retry.place);
            if (error == 0) {
                log("thread " + std::to_string(it->first) + ": pinned to CPU " + std::to_string(retry.place.cpu) +
                    " after " + std::to_string(retry.backoff.retries()) + " retries (" +
                    std::to_string(retry.backoff.elapsed().count()) + " ms)");
                if (retry.kind == Retry::Kind::start) {
                    retry.worker->launch();
                    workers.emplace(it->first, std::move(retry.worker));
                    changes.started.push_back(retry.place);
                } else {
                    changes.moved.push_back(retry.place);
                }
                it = retries.erase(it);
                continue;
            }
            const bool online = error == EINVAL && options.cpu_online(retry.place.cpu);
            if (const auto next = online ? retry.backoff.next(now) : std::nullopt) {
                retry.due = *next;
                ++it;
                continue;
            }
            const std::string line =
                pin_error(retry.place, error) +
                (online ? " (gave up after " + std::to_string(retry.backoff.retries()) + " retries, " +
                              std::to_string(retry.backoff.elapsed().count()) + " ms)"
                        : " (no more retries: the CPU is offline)");
            log(line);
            changes.errors.push_back(line);
            it = retries.erase(it);
        }
    }

    static void append(PoolChanges& to, const PoolChanges& from) {
        to.started.insert(to.started.end(), from.started.begin(), from.started.end());
        to.moved.insert(to.moved.end(), from.moved.begin(), from.moved.end());
        to.stopped.insert(to.stopped.end(), from.stopped.begin(), from.stopped.end());
        to.errors.insert(to.errors.end(), from.errors.begin(), from.errors.end());
    }
};

WorkerPool::WorkerPool(WorkerFunction function) : WorkerPool(std::move(function), WorkerPoolOptions{}) {}

WorkerPool::WorkerPool(WorkerFunction function, WorkerPoolOptions options) {
    if (!function) {
        throw std::invalid_argument("WorkerPool needs a worker function");
    }
    const bool follow_clients = options.stop_on_cpu_going_offline;
    impl_ = std::make_unique<Impl>(std::move(function), std::move(options));
    impl_->pool_thread = std::jthread([impl = impl_.get()](std::stop_token stop) { impl->run(stop); });
    if (follow_clients) {
        auto& registry = listeners();
        std::lock_guard lock(registry.mutex);
        registry.all.insert(impl_.get());
    }
}

WorkerPool::~WorkerPool() {
    {
        auto& registry = listeners();
        std::lock_guard lock(registry.mutex);
        registry.all.erase(impl_.get());
    }
    impl_->pool_thread.request_stop();
    impl_->pool_thread.join();
    stop_all();
}

PoolChanges WorkerPool::apply(const Assignment& assignment) {
    std::lock_guard lock(impl_->mutex);
    return impl_->apply(assignment);
}

PoolChanges WorkerPool::stop_all() {
    std::lock_guard lock(impl_->mutex);
    return impl_->stop_all();
}

void WorkerPool::cpu_going_offline(unsigned cpu) { impl_->post(cpu, true); }

void WorkerPool::cpu_online(unsigned cpu) { impl_->post(cpu, false); }

std::vector<AssignedThread> WorkerPool::threads() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->places();
}

std::size_t WorkerPool::size() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->workers.size();
}

}  // namespace hpplace
