#include "service/blocking_worker.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <exception>
#include <utility>

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

namespace hpplace {

namespace {

// Blocks every signal in the calling thread for its lifetime, so that a thread
// started meanwhile inherits the mask: signals go to the loop's thread (where
// the daemon waits for them), never interrupt a job's kernel call.
class SignalsBlocked {
public:
    SignalsBlocked() noexcept {
        sigset_t all;
        ::sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &previous_);
    }
    ~SignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
    SignalsBlocked(const SignalsBlocked&) = delete;
    SignalsBlocked& operator=(const SignalsBlocked&) = delete;

private:
    sigset_t previous_{};
};

}  // namespace

BlockingWorker::BlockingWorker(boost::asio::any_io_executor loop) : loop_(std::move(loop)) {
    const SignalsBlocked blocked;
    thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

BlockingWorker::~BlockingWorker() {
    thread_.request_stop();
    thread_.join();
}

void BlockingWorker::submit(std::string key, Work work, Replaced replaced) {
    Replaced dropped;
    {
        const std::lock_guard lock(mutex_);
        const auto waiting = std::find_if(queue_.begin(), queue_.end(), [&](const Job& job) { return job.key == key; });
        if (waiting != queue_.end()) {
            // Keeps its place (and its work count): order between keys stays that of the first submit.
            waiting->work = std::move(work);
            dropped = std::exchange(waiting->replaced, std::move(replaced));
        } else {
            queue_.push_back(Job{
                .key = std::move(key),
                .work = std::move(work),
                .replaced = std::move(replaced),
                .tracked = boost::asio::prefer(loop_, boost::asio::execution::outstanding_work.tracked),
            });
            ++in_flight_;
        }
    }
    wake_.notify_one();
    if (dropped) {
        dropped();
    }
}

void BlockingWorker::run(std::stop_token stop) {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, stop, [this] { return !queue_.empty(); });
            if (stop.stop_requested()) {
                return;
            }
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        Completion completion;
        try {
            completion = job.work();
        } catch (...) {
            completion = [error = std::current_exception()] { std::rethrow_exception(error); };
        }
        // The job's work count goes with the handler and ends on the loop, as
        // the handler does: dropped on this thread, it could be the loop's
        // last work and stop it at a moment the loop does not choose.
        boost::asio::post(loop_, [this, alive = std::weak_ptr<bool>(alive_), completion = std::move(completion),
                                  tracked = std::move(job.tracked)]() mutable {
            const auto work_done = std::move(tracked);
            if (alive.expired()) {
                return;
            }
            --in_flight_;
            if (completion) {
                completion();
            }
        });
    }
}

}  // namespace hpplace
