#include <utility>  // before Asio: awaitable.hpp of Boost 1.74 uses std::exchange

#include "service/control_server.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "core/log.hpp"
#include "core/quoted.hpp"

namespace hpplace {

namespace asio = boost::asio;
using asio::local::stream_protocol;

control::Registration ControlHandler::register_workload(const Workload&) {
    throw control::ProtocolError("not supported by this hpplaced yet");
}

void ControlHandler::unregister_workload(const std::string&) {
    throw control::ProtocolError("not supported by this hpplaced yet");
}

namespace {

class Session;

using Clock = std::chrono::steady_clock;

std::string duration_text(std::chrono::milliseconds duration) {
    const auto ms = duration.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// A request the peer's role does not allow: logged, and answered
// "<op>: permission denied: ...".
class AccessDenied : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct PeerUsage {
    std::size_t connections = 0;
    std::size_t workloads = 0;
};

}  // namespace

struct ControlServer::State {
    State(boost::asio::io_context& io, const ListeningSocket& socket, ControlHandler& control_handler,
          ControlServerLimits server_limits, LogLine log_line, PeerAccessOptions access_options)
        : acceptor(io),
          accept_retry(io),
          path(socket.path),
          group(socket.group),
          activated(socket.activated),
          access(std::move(access_options)),
          handler(control_handler),
          limits(server_limits),
          log(std::move(log_line)) {}

    stream_protocol::acceptor acceptor;
    asio::steady_timer accept_retry;  // after a failed accept (EMFILE)
    std::filesystem::path path;
    gid_t group;     // of the socket file: its members are the members
    bool activated;  // systemd's socket: not ours to remove
    uid_t self = ::geteuid();
    PeerAccessOptions access;
    ControlHandler& handler;
    ControlServerLimits limits;
    LogLine log;
    // By connection number; refused connections too, until their reason is sent.
    std::map<std::uint64_t, std::shared_ptr<Session>> sessions;
    std::size_t accepted = 0;  // sessions that were not refused
    std::map<pid_t, PeerUsage> peers;
    // Workload name -> the live connections (by number) that registered it.
    // The last of them to close unregisters it.
    std::map<std::string, std::set<std::uint64_t>> registrants;
    std::uint64_t next_client = 1;
    std::uint64_t writes = 0;  // socket writes started, each with every line queued then
    bool stopped = false;
    // The last status answered, and its document: status is asked for far more
    // often than it changes (monitors, a storm of hpctl calls), and building and
    // dumping the document is most of what answering costs the event loop.
    std::optional<control::Status> last_status;
    std::string last_status_json;

    const std::string& status_json(control::Status status) {
        if (last_status != status) {
            last_status_json.clear();
            control::append_json(last_status_json, status);
            last_status = std::move(status);
        }
        return last_status_json;
    }

    void release_peer(pid_t pid, std::size_t connections, std::size_t workloads) {
        const auto it = peers.find(pid);
        if (it == peers.end()) {
            return;
        }
        it->second.connections -= std::min(it->second.connections, connections);
        it->second.workloads -= std::min(it->second.workloads, workloads);
        if (it->second.connections == 0 && it->second.workloads == 0) {
            peers.erase(it);
        }
    }
};

namespace {

// A directory path as one spelling: normal, no trailing separator.
std::string directory_key(const std::filesystem::path& path) {
    std::string text = path.lexically_normal().string();
    while (text.size() > 1 && text.back() == '/') {
        text.pop_back();
    }
    return text;
}

// GCC 12 with -fsanitize=address reports Asio's coroutine frames, allocated and
// freed by awaitable_frame_base's own operator new and delete, as mismatched
// new/delete (a false positive), on every coroutine from here to accept_clients().
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Waits until signal is cancelled (a steady_timer that never expires by itself
// serves as the coroutines' event: one waiter each, who checks its condition
// before waiting; everything runs on one thread, so no wake-up is lost).
asio::awaitable<void> wait_for(asio::steady_timer& signal) {
    boost::system::error_code ignored;
    signal.expires_at(asio::steady_timer::time_point::max());
    co_await signal.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

// One writev() of a connection takes at most this many lines (asio sends 64 buffers per call).
constexpr std::size_t max_lines_per_write = 64;

// One connection: three coroutines on the server's executor. read_requests()
// reads, splits and answers lines in order; write_lines() sends the queued
// answers and pushes one after the other; watch_deadlines() enforces the
// timeouts. Each holds the session alive; close() ends all three.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<ControlServer::State> state, stream_protocol::socket socket, std::uint64_t number,
            PeerCredentials peer, PeerRole role)
        : state_(std::move(state)),
          socket_(std::move(socket)),
          output_ready_(socket_.get_executor()),
          input_allowed_(socket_.get_executor()),
          watchdog_(socket_.get_executor()),
          splitter_(state_->limits.max_line),
          number_(number),
          peer_(std::move(peer)),
          role_(role),
          last_line_(Clock::now()) {}

    // Counted against the limits from here on (refused ones never are).
    void start() {
        if (role_ == PeerRole::member) {
            // Now, while the PID is most likely still the connecting process's.
            try {
                own_cgroup_ = directory_key(peer_cgroup(peer_.pid, peer_.uid, state_->access));
            } catch (const std::exception& e) {
                own_cgroup_problem_ = e.what();
            }
        }
        accepted_ = true;
        ++state_->accepted;
        ++state_->peers[peer_.pid].connections;
        spawn(&Session::read_requests);
        spawn(&Session::write_lines);
        spawn(&Session::watch_deadlines);
    }

    // Refuses the connection with one error line.
    void refuse(const std::string& why) {
        state_->log(log::warning(who() + " refused: " + why));
        enqueue(control::render_error(why));
        close_after_flush();
        spawn(&Session::write_lines);
        spawn(&Session::watch_deadlines);
    }

    void push(const std::string& line) {
        if (!closing_) {
            enqueue(line);
        }
    }

    const control::Streams& streams() const noexcept { return streams_; }
    pid_t pid() const noexcept { return peer_.pid; }

    // Another connection unregistered a workload this one had registered.
    void forget(const std::string& name) {
        if (registered_.erase(name) != 0) {
            state_->release_peer(peer_.pid, 0, 1);
            deadline_changed();  // no longer long-lived, perhaps
        }
    }

    void close() {
        if (closed_) {
            return;
        }
        closed_ = true;
        closing_ = true;
        boost::system::error_code ignored;
        socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
        socket_.close(ignored);
        output_ready_.cancel();
        input_allowed_.cancel();
        watchdog_.cancel();
        queue_.clear();
        queued_bytes_ = 0;
        release_workloads();
        if (accepted_) {
            --state_->accepted;
            state_->release_peer(peer_.pid, 1, 0);
        }
        state_->sessions.erase(number_);
    }

private:
    using Task = asio::awaitable<void> (Session::*)(std::shared_ptr<Session>);

    void spawn(Task task) {
        asio::co_spawn(socket_.get_executor(), (this->*task)(shared_from_this()),
                       [self = shared_from_this()](const std::exception_ptr& error) {
                           if (!error) {
                               return;
                           }
                           try {
                               std::rethrow_exception(error);
                           } catch (const std::exception& e) {
                               self->state_->log(log::notice(self->who() + ": " + e.what() + ", connection closed"));
                           }
                           self->close();
                       });
    }

    std::string who() const {
        std::string text = "control client " + std::to_string(number_);
        if (peer_.pid >= 0) {
            text += " (pid " + std::to_string(peer_.pid) + ", uid " + std::to_string(peer_.uid) + ")";
        }
        return text;
    }

    // Subscribers and clients that registered a workload wait for pushes.
    bool long_lived() const noexcept { return streams_.events || streams_.plans || !registered_.empty(); }

    void time_out(const std::string& why) {
        state_->log(log::notice(who() + ": " + why + ", connection closed"));
        enqueue(control::render_error(why + "; closing the connection"));
        close_after_flush();
    }

    // The connection is closed: the workloads it registered, and no other
    // live connection did, are unregistered. Not while the server stops (the
    // daemon is going away). Posted, so the handler is never re-entered from
    // inside one of its own calls (a push that drops a slow client).
    void release_workloads() {
        if (registered_.empty()) {
            return;
        }
        state_->release_peer(peer_.pid, 0, registered_.size());
        const auto names = std::exchange(registered_, {});
        if (state_->stopped) {
            return;
        }
        std::vector<std::string> released;
        for (const auto& name : names) {
            const auto it = state_->registrants.find(name);
            if (it != state_->registrants.end() && it->second.erase(number_) != 0 && it->second.empty()) {
                released.push_back(name);
                state_->registrants.erase(it);
            }
        }
        if (released.empty()) {
            return;
        }
        asio::post(state_->acceptor.get_executor(), [state = state_, released, who = who()] {
            for (const auto& name : released) {
                // Stopped, or registered again by a new connection meanwhile: keep it.
                if (state->stopped || state->registrants.contains(name)) {
                    continue;
                }
                try {
                    state->handler.unregister_workload(name);
                    state->log(log::info(who + " closed: workload " + quoted_text(name) + " unregistered"));
                } catch (const std::exception&) {
                    // Already unregistered by someone else: nothing to release.
                }
            }
        });
    }

    asio::awaitable<void> read_requests(std::shared_ptr<Session> /*self*/) {
        boost::system::error_code error;
        while (!closing_) {
            // Back-pressure: a client that does not read its answers gets no
            // more requests read until they are sent.
            if (queued_bytes_ > state_->limits.max_line) {
                co_await wait_for(input_allowed_);
                continue;
            }
            const std::size_t n =
                co_await socket_.async_read_some(asio::buffer(buffer_), asio::redirect_error(asio::use_awaitable, error));
            if (closed_) {
                co_return;
            }
            if (error) {
                // EOF or reset: the client went away; flush nothing more.
                close();
                co_return;
            }
            if (closing_) {
                co_return;
            }
            std::vector<std::string> lines;
            try {
                lines = splitter_.feed(std::string_view(buffer_.data(), n));
            } catch (const control::ProtocolError& e) {
                state_->log(log::notice(who() + ": " + e.what() + ", connection dropped"));
                enqueue(control::render_error(std::string(e.what()) + "; closing the connection"));
                close_after_flush();
                co_return;
            }
            const auto now = Clock::now();
            if (!lines.empty()) {
                last_line_ = now;
            }
            if (splitter_.pending() == 0) {
                partial_since_.reset();
            } else if (!partial_since_ || !lines.empty()) {
                partial_since_ = now;  // a new line began
            }
            for (const auto& line : lines) {
                if (closing_) {
                    co_return;
                }
                handle_line(line);
            }
            deadline_changed();
        }
    }

    asio::awaitable<void> write_lines(std::shared_ptr<Session> /*self*/) {
        boost::system::error_code error;
        while (!closed_) {
            if (queue_.empty()) {
                if (closing_) {
                    close();
                    co_return;
                }
                co_await wait_for(output_ready_);
                continue;
            }
            // Everything queued goes in one write (a burst's pushes wake the
            // peer once), owned here while it is written: close() clears the queue.
            std::vector<std::string> lines;
            std::vector<asio::const_buffer> buffers;
            std::size_t bytes = 0;
            while (!queue_.empty() && lines.size() < max_lines_per_write) {
                lines.push_back(std::move(queue_.front()));
                queue_.pop_front();
                bytes += lines.back().size();
            }
            buffers.reserve(lines.size());
            for (const auto& line : lines) {
                buffers.push_back(asio::buffer(line));
            }
            ++state_->writes;
            co_await asio::async_write(socket_, buffers, asio::redirect_error(asio::use_awaitable, error));
            if (closed_) {
                co_return;
            }
            if (error) {
                close();
                co_return;
            }
            queued_bytes_ -= bytes;
            input_allowed_.cancel();
        }
    }

    // Closes the connection, saying why, once one of its timeouts has passed.
    asio::awaitable<void> watch_deadlines(std::shared_ptr<Session> /*self*/) {
        const auto& limits = state_->limits;
        boost::system::error_code ignored;
        while (!closed_) {
            const auto now = Clock::now();
            if (closing_) {
                // Its last line is not taken (the peer does not read): give up on it.
                if (now - closing_since_ >= limits.line_timeout) {
                    close();
                    co_return;
                }
            } else if (partial_since_ && now - *partial_since_ >= limits.line_timeout) {
                time_out("request line not finished within " + duration_text(limits.line_timeout));
                continue;
            } else if (!partial_since_ && !long_lived() && now - last_line_ >= limits.idle_timeout) {
                time_out("no request within " + duration_text(limits.idle_timeout));
                continue;
            }
            // Woken early by deadline_changed().
            watchdog_.expires_at(next_deadline());
            co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        }
    }

    // Wakes the watchdog when the next deadline came closer; one that moved
    // away it finds when it wakes (a busy connection costs it no wake-ups).
    void deadline_changed() {
        if (next_deadline() < watchdog_.expiry()) {
            watchdog_.cancel();
        }
    }

    Clock::time_point next_deadline() const {
        const auto& limits = state_->limits;
        if (closing_) {
            return closing_since_ + limits.line_timeout;
        }
        // A connection in the middle of a line is not idle: the line timeout applies.
        if (partial_since_) {
            return *partial_since_ + limits.line_timeout;
        }
        return long_lived() ? Clock::time_point::max() : last_line_ + limits.idle_timeout;
    }

    void handle_line(const std::string& line) {
        if (line.find_first_not_of(" \t") == std::string::npos) {
            return;  // blank lines are keep-alives
        }
        control::Request request;
        try {
            request = control::parse_request(line);
        } catch (const control::ProtocolError& e) {
            enqueue(control::render_error(e.what(), control::request_id_of(line)));
            return;
        }
        const std::string op(control::to_string(request.op));
        try {
            check_access(request);
            std::string answer_line = control::render_result_text(answer(request), request.id);
            if (answer_line.size() > state_->limits.max_answer) {
                state_->log(log::warning(who() + ": " + op + " answer of " + std::to_string(answer_line.size()) +
                                         " bytes not sent (limit " + std::to_string(state_->limits.max_answer) + ")"));
                answer_line = control::render_error(op + ": the answer (" + std::to_string(answer_line.size()) +
                                                        " bytes) is longer than the limit of " +
                                                        std::to_string(state_->limits.max_answer) + " bytes",
                                                    request.id);
            }
            enqueue(std::move(answer_line));
        } catch (const AccessDenied& e) {
            state_->log(log::warning(who() + ": refused " + op + ": " + e.what()));
            enqueue(control::render_error(op + ": permission denied: " + e.what(), request.id));
        } catch (const std::exception& e) {
            enqueue(control::render_error(op + ": " + e.what(), request.id));
        }
    }

    // A member may touch only what is its own: its process's cgroup, the
    // workloads its process registered. Root (admin) may do everything.
    void check_access(const control::Request& request) const {
        if (role_ == PeerRole::admin) {
            return;
        }
        if (!member_may(request.op)) {
            throw AccessDenied("only root may use " + std::string(control::to_string(request.op)));
        }
        if (request.op == control::Op::register_workload) {
            if (const auto& cgroup = request.workload.cgroup) {
                if (!own_cgroup_) {
                    throw AccessDenied("cgroup " + quoted_text(*cgroup) + ": the cgroup of process " +
                                       std::to_string(peer_.pid) + " is not known (" + own_cgroup_problem_ + ")");
                }
                if (directory_key(*cgroup) != *own_cgroup_) {
                    throw AccessDenied("cgroup " + quoted_text(*cgroup) + " is not the cgroup of process " +
                                       std::to_string(peer_.pid) + " (" + *own_cgroup_ +
                                       "); a member of the socket's group may name only its own");
                }
            }
            if (const auto& unit = request.workload.unit) {
                // A unit's AllowedCPUs= reach every process systemd puts in it, not only the member's.
                throw AccessDenied("unit " + quoted_text(*unit) + ": only root may name a systemd unit");
            }
            check_owned(request.workload.name, "register");
        } else if (request.op == control::Op::unregister_workload) {
            check_owned(request.name, "unregister");
        }
    }

    // A workload some other process registered is not this member's to replace or remove.
    void check_owned(const std::string& name, std::string_view what) const {
        const auto it = state_->registrants.find(name);
        if (it == state_->registrants.end()) {
            return;
        }
        for (const auto number : it->second) {
            const auto session = state_->sessions.find(number);
            if (session != state_->sessions.end() && session->second->pid() != peer_.pid) {
                throw AccessDenied("workload " + quoted_text(name) + " was registered by process " +
                                   std::to_string(session->second->pid()) + "; a member may " + std::string(what) +
                                   " only its own");
            }
        }
    }

    // Refuses a register that would take this connection or its process past
    // its share of workloads; a name it already registered may be replaced.
    void check_register_limits(const std::string& name) const {
        if (registered_.contains(name)) {
            return;
        }
        const auto& limits = state_->limits;
        if (registered_.size() >= limits.max_workloads_per_client) {
            throw control::ProtocolError("this connection already registered " + std::to_string(registered_.size()) +
                                         " workloads, the limit per connection (unregister one first)");
        }
        const auto usage = state_->peers.find(peer_.pid);
        if (usage != state_->peers.end() && usage->second.workloads >= limits.max_workloads_per_peer) {
            throw control::ProtocolError("process " + std::to_string(peer_.pid) + " already registered " +
                                         std::to_string(usage->second.workloads) +
                                         " workloads, the limit per process (unregister one first)");
        }
    }

    // The result's document, rendered.
    std::string answer(const control::Request& request) {
        auto& handler = state_->handler;
        switch (request.op) {
            case control::Op::status:
                return state_->status_json(handler.status());
            case control::Op::plan: {
                std::string plan;
                append_json(plan, handler.plan());
                return plan;
            }
            case control::Op::metrics:
                return control::render_json(control::metrics_result(handler.metrics_text()));
            case control::Op::subscribe:
                streams_ = request.streams;
                return control::render_json(control::to_json(streams_));
            case control::Op::unsubscribe:
                streams_ = {};
                return control::render_json(nlohmann::json::object());
            case control::Op::register_workload: {
                check_register_limits(request.workload.name);
                const control::Registration result = handler.register_workload(request.workload);
                // Configured: the config file's workload, not ours to release.
                if (!result.configured) {
                    if (registered_.insert(result.workload).second) {
                        ++state_->peers[peer_.pid].workloads;
                    }
                    state_->registrants[result.workload].insert(number_);
                }
                return control::render_json(control::to_json(result));
            }
            case control::Op::unregister_workload: {
                handler.unregister_workload(request.name);
                const auto it = state_->registrants.find(request.name);
                if (it != state_->registrants.end()) {
                    const auto numbers = it->second;
                    state_->registrants.erase(it);
                    for (const auto number : numbers) {
                        if (const auto session = state_->sessions.find(number); session != state_->sessions.end()) {
                            session->second->forget(request.name);
                        }
                    }
                }
                return control::render_json(nlohmann::json::object());
            }
            case control::Op::ping:
                return control::render_json(control::ping_result());
        }
        throw control::ProtocolError("unhandled op");
    }

    void enqueue(std::string line) {
        if (closed_) {
            return;
        }
        if (queued_bytes_ + line.size() > state_->limits.max_queued_bytes) {
            state_->log(log::warning(who() + ": more than " + std::to_string(state_->limits.max_queued_bytes) +
                                     " bytes unread, connection dropped"));
            close();
            return;
        }
        queued_bytes_ += line.size();
        queue_.push_back(std::move(line));
        output_ready_.cancel();
    }

    // No more requests; the connection closes once its queue is sent.
    void close_after_flush() {
        if (!closing_) {
            closing_ = true;
            closing_since_ = Clock::now();
        }
        output_ready_.cancel();
        deadline_changed();
    }

    std::shared_ptr<ControlServer::State> state_;
    stream_protocol::socket socket_;
    asio::steady_timer output_ready_;   // cancelled when a line is queued or closing begins
    asio::steady_timer input_allowed_;  // cancelled when queued output was sent
    asio::steady_timer watchdog_;       // the next deadline; cancelled when it may have moved
    control::LineSplitter splitter_;
    std::uint64_t number_;
    PeerCredentials peer_;
    PeerRole role_;
    std::optional<std::string> own_cgroup_;  // a member's: directory_key() of its process's cgroup
    std::string own_cgroup_problem_;         // why own_cgroup_ is not known
    std::array<char, 4096> buffer_{};
    std::deque<std::string> queue_;
    std::size_t queued_bytes_ = 0;  // queued and being written
    control::Streams streams_;
    std::set<std::string> registered_;  // names this connection registered and holds
    Clock::time_point last_line_;                   // connected, or the last line received
    std::optional<Clock::time_point> partial_since_;  // an unfinished line began
    Clock::time_point closing_since_{};
    bool accepted_ = false;
    bool closing_ = false;  // no more requests; close once the queue is sent
    bool closed_ = false;
};

// Takes a new connection and serves it, or refuses it with the reason.
void admit(const std::shared_ptr<ControlServer::State>& state, stream_protocol::socket socket) {
    PeerCredentials peer = peer_credentials(socket.native_handle());
    const PeerRole role = role_of(peer, state->group, state->self);
    const pid_t pid = peer.pid;
    const uid_t uid = peer.uid;
    const std::uint64_t number = state->next_client++;
    auto session = std::make_shared<Session>(state, std::move(socket), number, std::move(peer), role);
    state->sessions.emplace(number, session);
    const auto& limits = state->limits;
    const auto usage = state->peers.find(pid);
    if (role == PeerRole::stranger) {
        session->refuse("permission denied: uid " + std::to_string(uid) +
                        " is neither root nor a member of group " + std::to_string(state->group) +
                        ", the control socket's");
    } else if (state->accepted >= limits.max_clients) {
        session->refuse("too many clients (" + std::to_string(limits.max_clients) + "), try again later");
    } else if (usage != state->peers.end() && usage->second.connections >= limits.max_clients_per_peer) {
        session->refuse("too many connections from process " + std::to_string(pid) + " (" +
                        std::to_string(limits.max_clients_per_peer) + "), try again later");
    } else {
        session->start();
    }
}

asio::awaitable<void> accept_clients(std::shared_ptr<ControlServer::State> state) {
    boost::system::error_code error;
    while (!state->stopped) {
        stream_protocol::socket socket =
            co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, error));
        if (state->stopped || error == asio::error::operation_aborted) {
            co_return;
        }
        if (error) {
            // EMFILE and friends: keep serving the clients we have.
            state->log(log::err(std::string("control socket accept: ") + error.message()));
            state->accept_retry.expires_after(std::chrono::milliseconds(100));
            co_await state->accept_retry.async_wait(asio::redirect_error(asio::use_awaitable, error));
            continue;
        }
        admit(state, std::move(socket));
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

namespace {

ControlServer::LogLine or_default(ControlServer::LogLine log) {
    if (log) {
        return log;
    }
    return [](const std::string& line) { log::to_stderr("hpplaced", line); };
}

}  // namespace

ControlServer::ControlServer(boost::asio::io_context& io, std::filesystem::path socket_path, ControlHandler& handler,
                             ControlServerLimits limits, LogLine log)
    : ControlServer(io, bind_control_socket({.path = std::move(socket_path), .group = std::nullopt}, limits.backlog(), or_default(log)),
                    handler, limits, log) {}

ControlServer::ControlServer(boost::asio::io_context& io, ListeningSocket socket, ControlHandler& handler,
                             ControlServerLimits limits, LogLine log, PeerAccessOptions access) {
    state_ = std::make_shared<State>(io, socket, handler, limits, or_default(std::move(log)), std::move(access));
    boost::system::error_code ec;
    state_->acceptor.assign(stream_protocol(), socket.fd.get(), ec);
    if (ec) {
        throw std::system_error(ec.value(), std::system_category(), "cannot serve " + state_->path.string());
    }
    socket.fd.release();  // the acceptor's now
    // A failure of the loop itself (not of one accept) leaves io.run(), as any handler's would.
    asio::co_spawn(state_->acceptor.get_executor(), accept_clients(state_), [](const std::exception_ptr& error) {
        if (error) {
            std::rethrow_exception(error);
        }
    });
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
    if (!state_ || state_->stopped) {
        return;
    }
    state_->stopped = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    state_->accept_retry.cancel();
    const auto sessions = state_->sessions;  // close() erases from the map
    for (const auto& [number, session] : sessions) {
        session->close();
    }
    if (!state_->activated) {
        ::unlink(state_->path.c_str());
    }
}

void ControlServer::publish_event(const Event& event) {
    if (state_->stopped || state_->sessions.empty()) {
        return;
    }
    const std::string line = control::render_event_push(event);
    const auto sessions = state_->sessions;  // push may drop a slow client
    for (const auto& [number, session] : sessions) {
        if (session->streams().events) {
            session->push(line);
        }
    }
}

void ControlServer::publish_plan(const Plan& plan) {
    if (state_->stopped || state_->sessions.empty()) {
        return;
    }
    publish_plan_line(control::render_plan_push(plan));
}

void ControlServer::publish_plan(const nlohmann::json& plan) {
    if (state_->stopped || state_->sessions.empty()) {
        return;
    }
    publish_plan_line(control::render_plan_push(plan));
}

void ControlServer::publish_plan_line(const std::string& line) {
    if (line.size() > state_->limits.max_answer) {
        // Dropping every subscriber as a slow reader would not help them.
        state_->log(log::warning("plan push of " + std::to_string(line.size()) + " bytes not sent (limit " +
                                 std::to_string(state_->limits.max_answer) + " bytes)"));
        return;
    }
    const auto sessions = state_->sessions;
    for (const auto& [number, session] : sessions) {
        if (session->streams().plans) {
            session->push(line);
        }
    }
}

std::size_t ControlServer::client_count() const noexcept { return state_->sessions.size(); }
std::uint64_t ControlServer::writes() const noexcept { return state_->writes; }

bool ControlServer::has_plan_subscribers() const noexcept {
    return std::any_of(state_->sessions.begin(), state_->sessions.end(),
                       [](const auto& entry) { return entry.second->streams().plans; });
}

const std::filesystem::path& ControlServer::socket_path() const noexcept { return state_->path; }

}  // namespace hpplace
