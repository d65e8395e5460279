// BlockingWorker: jobs on its thread in order, coalesced by key, completions on
// the loop; what destruction does with the jobs left.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "service/blocking_worker.hpp"

using namespace hpplace;

namespace {

// The first job waits here until the test opens it.
struct Gate {
    std::mutex mutex;
    std::condition_variable changed;
    bool entered = false;
    bool open = false;

    void pass() {
        std::unique_lock lock(mutex);
        entered = true;
        changed.notify_all();
        changed.wait(lock, [this] { return open; });
    }
    bool wait_entered() {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, std::chrono::seconds(5), [this] { return entered; });
    }
    void release() {
        const std::lock_guard lock(mutex);
        open = true;
        changed.notify_all();
    }
};

}  // namespace

TEST_CASE("blocking worker: jobs run off the loop in order; a newer job for a key replaces one not started") {
    boost::asio::io_context io;
    Gate gate;
    std::vector<std::string> ran;        // on the worker, in order
    std::vector<std::string> completed;  // on the loop
    std::vector<std::string> replaced;
    std::vector<std::thread::id> worker_threads;
    const auto loop_thread = std::this_thread::get_id();
    {
        BlockingWorker worker(io.get_executor());
        const auto job = [&](const std::string& name, bool wait = false) {
            return [&, name, wait]() -> BlockingWorker::Completion {
                if (wait) {
                    gate.pass();
                }
                ran.push_back(name);
                worker_threads.push_back(std::this_thread::get_id());
                return [&, name] {
                    CHECK(std::this_thread::get_id() == loop_thread);
                    completed.push_back(name);
                };
            };
        };
        worker.submit("a", job("a1", true));
        REQUIRE(gate.wait_entered());
        worker.submit("a", job("a2"), [&] { replaced.push_back("a2"); });  // a1 has started: a2 waits behind it
        worker.submit("b", job("b1"), [&] { replaced.push_back("b1"); });
        worker.submit("a", job("a3"));                                      // replaces a2, keeps its place
        worker.submit("b", job("b2"));
        CHECK(replaced == std::vector<std::string>{"a2", "b1"});
        CHECK(worker.in_flight() == 3);
        gate.release();
        io.run();  // returns once every completion has run
        CHECK(worker.in_flight() == 0);
    }
    CHECK(ran == std::vector<std::string>{"a1", "a3", "b2"});
    CHECK(completed == ran);
    for (const auto& id : worker_threads) {
        CHECK(id != loop_thread);
    }
}

TEST_CASE("blocking worker: an exception of a job's work comes out of the loop") {
    boost::asio::io_context io;
    BlockingWorker worker(io.get_executor());
    worker.submit("k", []() -> BlockingWorker::Completion { throw std::runtime_error("cannot"); });
    CHECK_THROWS_WITH(io.run(), "cannot");
    CHECK(worker.in_flight() == 0);
}

TEST_CASE("blocking worker: destruction waits for the running job, drops the others, and no completion runs") {
    boost::asio::io_context io;
    Gate gate;
    std::vector<std::string> ran;
    unsigned completions = 0;
    std::jthread opener;
    {
        BlockingWorker worker(io.get_executor());
        worker.submit("a", [&]() -> BlockingWorker::Completion {
            gate.pass();
            ran.push_back("a");
            return [&] { ++completions; };
        });
        worker.submit("b", [&]() -> BlockingWorker::Completion {
            ran.push_back("b");
            return [&] { ++completions; };
        });
        REQUIRE(gate.wait_entered());
        opener = std::jthread([&gate] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            gate.release();
        });
    }
    CHECK(ran == std::vector<std::string>{"a"});
    io.run();  // a's completion was posted: it finds no worker
    CHECK(completions == 0);
}
