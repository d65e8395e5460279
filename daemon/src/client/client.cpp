// libhpplace's connection to hpplaced (docs/contract.md, "Control socket"): one Asio thread
// reads and writes the socket and reconnects; ClientState turns messages into
// notifications; the CallbackRegistry's thread runs the callbacks.

#include <utility>  // before Asio: awaitable.hpp of Boost 1.74 uses std::exchange

#include "hpplace/client.hpp"

#include <unistd.h>

#include <array>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "client/callback_registry.hpp"
#include "client/client_state.hpp"
#include "client/cpu_signals.hpp"
#include "client/log.hpp"
#include "client/messages.hpp"
#include "control/documents.hpp"
#include "control/protocol.hpp"

namespace hpplace {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// Request ids of the requests sent after each connect.
constexpr std::string_view register_id = "register";
constexpr std::string_view subscribe_id = "subscribe";
constexpr std::string_view status_id = "status";
constexpr std::string_view plan_id = "plan";

// How many malformed lines are logged per connection (all are counted).
constexpr std::uint64_t logged_bad_lines = 5;

}  // namespace

std::string_view to_string(ProcessorState state) noexcept {
    switch (state) {
        case ProcessorState::add_start:
            return "add_start";
        case ProcessorState::add_complete:
            return "add_complete";
        case ProcessorState::add_failed:
            return "add_failed";
        case ProcessorState::going_offline:
            return "going_offline";
        case ProcessorState::offline:
            return "offline";
        case ProcessorState::removed:
            return "removed";
    }
    return "unknown";
}

std::string_view to_string(MemoryState state) noexcept {
    switch (state) {
        case MemoryState::going_online:
            return "going_online";
        case MemoryState::online:
            return "online";
        case MemoryState::online_canceled:
            return "online_canceled";
        case MemoryState::going_offline:
            return "going_offline";
        case MemoryState::offline:
            return "offline";
        case MemoryState::offline_canceled:
            return "offline_canceled";
    }
    return "unknown";
}

unsigned active_processor_count() {
    if (const auto online = client::system_online_cpus()) {
        return static_cast<unsigned>(online->count());
    }
    const long count = ::sysconf(_SC_NPROCESSORS_ONLN);
    return count > 0 ? static_cast<unsigned>(count) : 1;
}

struct Client::Impl {
    ClientOptions options;
    client::LogFunction log;
    std::shared_ptr<detail::CallbackRegistry> registry;

    mutable std::mutex mutex;  // guards what follows; held while posting so that replays keep their order
    mutable std::condition_variable changed;
    client::ClientState state{""};
    bool connected = false;
    ClientStats stats;
    std::set<std::uint64_t> replay_processors;  // Replay::existing registrations waiting for a first snapshot
    std::set<std::uint64_t> replay_memory;

    asio::io_context io;
    std::thread io_thread;

    explicit Impl(ClientOptions client_options)
        : options(std::move(client_options)),
          log(client::log_or_stderr(options.log)),
          registry(std::make_shared<detail::CallbackRegistry>(log)),
          state(options.workload ? options.workload->name : std::string{}) {}

    void post_locked(const std::vector<client::Notification>& notifications) {
        for (const auto& notification : notifications) {
            if (const auto* change = std::get_if<ProcessorChange>(&notification)) {
                tell_worker_pools(*change);
            }
            std::visit([&](const auto& value) { registry->post(value); }, notification);
        }
    }

    // Before the callbacks: the process's WorkerPools stop their workers of a
    // leaving CPU at once, not when the plan without it arrives.
    static void tell_worker_pools(const ProcessorChange& change) {
        if (change.state == ProcessorState::going_offline || change.state == ProcessorState::offline) {
            client::post_cpu_going_offline(change.cpu);
        } else if (change.state == ProcessorState::add_complete) {
            client::post_cpu_online(change.cpu);
        }
    }

    void replay_locked(const std::set<std::uint64_t>& processors, const std::set<std::uint64_t>& memory) {
        for (const auto id : processors) {
            for (const auto& change : state.existing_processors()) {
                registry->post_to(id, change);
            }
        }
        for (const auto id : memory) {
            for (const auto& change : state.existing_memory()) {
                registry->post_to(id, change);
            }
        }
    }

    std::string first_requests() const {
        using control::Op;
        std::string out;
        if (options.workload) {
            out += control::render_request(
                {.op = Op::register_workload, .id = register_id, .workload = client::workload_of(*options.workload)});
        }
        out += control::render_request({.op = Op::subscribe, .id = subscribe_id});
        out += control::render_request({.op = Op::status, .id = status_id});
        if (options.workload) {
            out += control::render_request({.op = Op::plan, .id = plan_id});
        }
        return out;
    }

    // One line from the daemon. Bad lines are counted, logged (a few) and skipped.
    void handle_line(std::string_view line, std::uint64_t& bad_lines) {
        std::lock_guard lock(mutex);
        try {
            const control::Message message = control::parse_message(line);
            switch (message.kind) {
                case control::Message::Kind::event:
                    ++stats.events;
                    post_locked(state.on_event(control::event_from_json(message.payload)));
                    break;
                case control::Message::Kind::plan:
                    post_locked(state.on_plan(message.payload));
                    break;
                case control::Message::Kind::result:
                    handle_result(message);
                    break;
                case control::Message::Kind::error:
                    log(describe_request(message.id) + " refused by hpplaced: " + message.error);
                    break;
            }
        } catch (const std::exception& e) {
            ++stats.bad_messages;
            if (++bad_lines <= logged_bad_lines) {
                log(std::string("ignoring a message from hpplaced: ") + e.what());
            }
        }
        changed.notify_all();
    }

    static std::string describe_request(const nlohmann::json& id) {
        return id.is_string() ? "request \"" + id.get<std::string>() + "\"" : std::string("a request");
    }

    void handle_result(const control::Message& message) {
        if (message.id == status_id) {
            const bool first = !state.has_snapshot();
            post_locked(state.on_snapshot(control::snapshot_from_status(message.payload)));
            if (first) {
                replay_locked(replay_processors, replay_memory);
                replay_processors.clear();
                replay_memory.clear();
            }
            if (!connected) {
                connected = true;
                registry->post(detail::ConnectionChange{true});
            }
            changed.notify_all();
        } else if (message.id == plan_id) {
            post_locked(state.on_plan(message.payload));
            changed.notify_all();
        }
    }

    void set_disconnected() {
        std::lock_guard lock(mutex);
        if (connected) {
            connected = false;
            ++stats.dropped_connections;
            registry->post(detail::ConnectionChange{false});
        }
        changed.notify_all();
    }

// GCC 12 with -fsanitize=address reports Asio's coroutine frame, allocated and
// freed by awaitable_frame_base's own operator new and delete, as a mismatched
// new/delete (a false positive, only on this coroutine).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
    asio::awaitable<void> session(stream_protocol::socket& socket) {
        const std::string requests = first_requests();
        co_await asio::async_write(socket, asio::buffer(requests), asio::use_awaitable);
        control::LineSplitter splitter(options.max_message_bytes);
        std::array<char, 64 * 1024> buffer;
        std::uint64_t bad_lines = 0;
        for (;;) {
            const std::size_t n = co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
            // Throws ProtocolError on an oversized line: the connection is dropped and made anew.
            for (const auto& line : splitter.feed(std::string_view(buffer.data(), n))) {
                handle_line(line, bad_lines);
            }
        }
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    asio::awaitable<void> run() {
        auto backoff = options.reconnect_min;
        bool logged_absent = false;
        asio::steady_timer timer(io);
        for (;;) {
            stream_protocol::socket socket(io);
            boost::system::error_code error;
            co_await socket.async_connect(stream_protocol::endpoint(options.socket_path),
                                          asio::redirect_error(asio::use_awaitable, error));
            if (error) {
                if (!logged_absent) {
                    log("cannot connect to hpplaced at " + options.socket_path + ": " + error.message() +
                        "; retrying in the background");
                    logged_absent = true;
                }
                timer.expires_after(backoff);
                co_await timer.async_wait(asio::use_awaitable);
                backoff = std::min(backoff * 2, options.reconnect_max);
                continue;
            }
            {
                std::lock_guard lock(mutex);
                ++stats.connects;
            }
            logged_absent = false;
            backoff = options.reconnect_min;
            try {
                co_await session(socket);
            } catch (const boost::system::system_error& e) {
                log("connection to hpplaced lost (" + e.code().message() + "); reconnecting");
            } catch (const std::exception& e) {
                log(std::string("dropping the connection to hpplaced: ") + e.what());
            }
            set_disconnected();
            timer.expires_after(options.reconnect_min);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }
};

Client::Client(ClientOptions options) {
    if (options.socket_path.empty()) {
        throw std::invalid_argument("hpplace::Client: empty socket path");
    }
    if (options.workload && options.workload->name.empty()) {
        throw std::invalid_argument("hpplace::Client: the workload needs a name");
    }
    if (options.workload && options.workload->threads && options.workload->threads_per_cpu) {
        throw std::invalid_argument("hpplace::Client: the workload sets both threads and threads_per_cpu");
    }
    if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min) {
        throw std::invalid_argument("hpplace::Client: reconnect_min must be positive and at most reconnect_max");
    }
    impl_ = std::make_unique<Impl>(std::move(options));
    asio::co_spawn(impl_->io, impl_->run(), asio::detached);
    impl_->io_thread = std::thread([impl = impl_.get()] {
        client::name_this_thread("hpplace-io");
        impl->io.run();
    });
}

Client::~Client() {
    impl_->io.stop();
    impl_->io_thread.join();
    impl_->registry->shutdown();
}

Registration Client::on_processor_change(ProcessorCallback callback, Replay replay) {
    if (!callback) {
        throw std::invalid_argument("hpplace::Client: empty callback");
    }
    std::lock_guard lock(impl_->mutex);
    const auto id = impl_->registry->add(detail::CallbackKind::processor,
                                         [callback = std::move(callback)](const detail::Delivery& delivery) {
                                             callback(std::get<ProcessorChange>(delivery));
                                         });
    if (replay == Replay::existing) {
        if (impl_->state.has_snapshot()) {
            impl_->replay_locked({id}, {});
        } else {
            impl_->replay_processors.insert(id);
        }
    }
    return Registration(impl_->registry, id);
}

Registration Client::on_memory_change(MemoryCallback callback, Replay replay) {
    if (!callback) {
        throw std::invalid_argument("hpplace::Client: empty callback");
    }
    std::lock_guard lock(impl_->mutex);
    const auto id = impl_->registry->add(detail::CallbackKind::memory,
                                         [callback = std::move(callback)](const detail::Delivery& delivery) {
                                             callback(std::get<MemoryChange>(delivery));
                                         });
    if (replay == Replay::existing) {
        if (impl_->state.has_snapshot()) {
            impl_->replay_locked({}, {id});
        } else {
            impl_->replay_memory.insert(id);
        }
    }
    return Registration(impl_->registry, id);
}

Registration Client::on_assignment(AssignmentCallback callback, Replay replay) {
    if (!callback) {
        throw std::invalid_argument("hpplace::Client: empty callback");
    }
    std::lock_guard lock(impl_->mutex);
    const auto id = impl_->registry->add(detail::CallbackKind::assignment,
                                         [callback = std::move(callback)](const detail::Delivery& delivery) {
                                             callback(std::get<Assignment>(delivery));
                                         });
    if (replay == Replay::existing && impl_->state.assignment()) {
        impl_->registry->post_to(id, *impl_->state.assignment());
    }
    return Registration(impl_->registry, id);
}

Registration Client::on_connection(ConnectionCallback callback) {
    if (!callback) {
        throw std::invalid_argument("hpplace::Client: empty callback");
    }
    std::lock_guard lock(impl_->mutex);
    const auto id = impl_->registry->add(detail::CallbackKind::connection,
                                         [callback = std::move(callback)](const detail::Delivery& delivery) {
                                             callback(std::get<detail::ConnectionChange>(delivery).connected);
                                         });
    return Registration(impl_->registry, id);
}

bool Client::connected() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->connected;
}

std::optional<Assignment> Client::assignment() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->state.assignment();
}

std::vector<unsigned> Client::active_processors() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->state.active().to_vector();
}

unsigned Client::active_processor_count() const {
    std::lock_guard lock(impl_->mutex);
    return static_cast<unsigned>(impl_->state.active().count());
}

ClientStats Client::stats() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->stats;
}

bool Client::wait_connected(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->connected; });
}

bool Client::wait_assignment(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->state.assignment().has_value(); });
}

}  // namespace hpplace
