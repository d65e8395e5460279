#pragma once

// The callbacks of a Client and the thread that runs them. The connection's
// thread posts deliveries; this thread calls the callbacks one at a time, so a
// slow callback never stalls the socket. remove() waits for a running call of
// the callback it removes (unless called from a callback: it cannot wait for itself).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include "client/client_state.hpp"
#include "client/log.hpp"

namespace hpplace::detail {

struct ConnectionChange {
    bool connected = false;
};

using Delivery = std::variant<ProcessorChange, MemoryChange, Assignment, ConnectionChange>;
// Which deliveries a callback takes: the index of its type in Delivery.
enum class CallbackKind : std::uint8_t { processor = 0, memory = 1, assignment = 2, connection = 3 };

CallbackKind kind_of(const Delivery& delivery) noexcept;

class CallbackRegistry {
public:
    using Callback = std::function<void(const Delivery&)>;

    explicit CallbackRegistry(client::LogFunction log);
    ~CallbackRegistry();
    CallbackRegistry(const CallbackRegistry&) = delete;
    CallbackRegistry& operator=(const CallbackRegistry&) = delete;

    std::uint64_t add(CallbackKind kind, Callback callback);
    void remove(std::uint64_t id) noexcept;
    // To every callback of the delivery's kind registered now.
    void post(const Delivery& delivery);
    // To one callback (a replay).
    void post_to(std::uint64_t id, const Delivery& delivery);
    // Waits until every posted delivery has run (tests, orderly shutdown).
    void drain();
    // Stops the thread (pending deliveries are dropped); later calls do nothing.
    void shutdown() noexcept;

private:
    struct Entry {
        CallbackKind kind;
        std::shared_ptr<Callback> callback;
    };
    struct Item {
        std::uint64_t id;
        Delivery delivery;
    };
    void run(std::stop_token stop);

    client::LogFunction log_;
    std::mutex mutex_;
    std::condition_variable_any changed_;
    std::map<std::uint64_t, Entry> callbacks_;
    std::deque<Item> queue_;
    std::uint64_t next_id_ = 1;
    std::uint64_t running_ = 0;  // id of the callback being called, 0 if none
    bool stopped_ = false;
    std::thread::id thread_id_;
    std::jthread thread_;  // last: started after the rest is built
};

}  // namespace hpplace::detail
