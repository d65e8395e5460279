#include "service/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <set>
#include <vector>
#include <stdexcept>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "core/file_descriptor.hpp"
#include "core/system_error.hpp"

namespace hpplace {

using boost::asio::local::stream_protocol;

nlohmann::json ControlHandler::register_workload(const nlohmann::json&) {
    throw control::ProtocolError("not supported by this hpplaced yet");
}

void ControlHandler::unregister_workload(const std::string&) {
    throw control::ProtocolError("not supported by this hpplaced yet");
}

namespace {

class Session;

}  // namespace

struct ControlServer::State {
    State(boost::asio::io_context& io, std::filesystem::path socket_path, ControlHandler& control_handler,
          ControlServerLimits server_limits, LogLine log_line)
        : acceptor(io),
          path(std::move(socket_path)),
          handler(control_handler),
          limits(server_limits),
          log(std::move(log_line)) {}

    stream_protocol::acceptor acceptor;
    std::filesystem::path path;
    ControlHandler& handler;
    ControlServerLimits limits;
    LogLine log;
    std::set<std::shared_ptr<Session>> sessions;
    // Workload name -> the live connections (by number) that registered it.
    // The last of them to close unregisters it.
    std::map<std::string, std::set<std::uint64_t>> registrants;
    std::uint64_t next_client = 1;
    bool stopped = false;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<ControlServer::State> state, stream_protocol::socket socket, std::uint64_t number)
        : state_(std::move(state)),
          socket_(std::move(socket)),
          splitter_(state_->limits.max_line),
          number_(number) {}

    void start() { read_more(); }

    // Refuses the connection with one error line.
    void refuse(const std::string& why) {
        enqueue(control::render_error(why));
        close_after_flush();
    }

    void push(const std::string& line) {
        if (!closing_) {
            enqueue(line);
        }
    }

    const control::Streams& streams() const noexcept { return streams_; }

    void close() {
        if (closed_) {
            return;
        }
        closed_ = true;
        closing_ = true;
        boost::system::error_code ignored;
        socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
        socket_.close(ignored);
        queue_.clear();
        queued_bytes_ = 0;
        release_workloads();
        state_->sessions.erase(shared_from_this());
    }

private:
    std::string who() const { return "control client " + std::to_string(number_); }

    // The connection is closed: the workloads it registered, and no other
    // live connection did, are unregistered. Not while the server stops (the
    // daemon is going away). Posted, so the handler is never re-entered from
    // inside one of its own calls (a push that drops a slow client).
    void release_workloads() {
        if (state_->stopped) {
            return;
        }
        std::vector<std::string> released;
        for (auto it = state_->registrants.begin(); it != state_->registrants.end();) {
            if (it->second.erase(number_) != 0 && it->second.empty()) {
                released.push_back(it->first);
                it = state_->registrants.erase(it);
            } else {
                ++it;
            }
        }
        if (released.empty()) {
            return;
        }
        boost::asio::post(state_->acceptor.get_executor(), [state = state_, released, who = who()] {
            for (const auto& name : released) {
                // Stopped, or registered again by a new connection meanwhile: keep it.
                if (state->stopped || state->registrants.contains(name)) {
                    continue;
                }
                try {
                    state->handler.unregister_workload(name);
                    state->log(who + " closed: workload \"" + name + "\" unregistered");
                } catch (const std::exception&) {
                    // Already unregistered by someone else: nothing to release.
                }
            }
        });
    }

    void read_more() {
        if (closing_ || reading_ || state_->stopped) {
            return;
        }
        // Back-pressure: a client that does not read its answers gets no more
        // requests read until they are sent.
        if (queued_bytes_ > state_->limits.max_line) {
            return;
        }
        reading_ = true;
        socket_.async_read_some(boost::asio::buffer(buffer_),
                                [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }

    void on_read(const boost::system::error_code& ec, std::size_t n) {
        reading_ = false;
        if (closed_ || state_->stopped) {
            return;
        }
        if (ec) {
            // EOF or reset: the client went away; flush nothing more.
            close();
            return;
        }
        std::vector<std::string> lines;
        try {
            lines = splitter_.feed(std::string_view(buffer_.data(), n));
        } catch (const control::ProtocolError& e) {
            state_->log(who() + ": " + e.what() + ", connection dropped");
            enqueue(control::render_error(std::string(e.what()) + "; closing the connection"));
            close_after_flush();
            return;
        }
        for (const auto& line : lines) {
            if (closing_) {
                return;
            }
            handle_line(line);
        }
        read_more();
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
        try {
            enqueue(control::render_result(answer(request), request.id));
        } catch (const std::exception& e) {
            enqueue(control::render_error(std::string(control::to_string(request.op)) + ": " + e.what(), request.id));
        }
    }

    nlohmann::json answer(const control::Request& request) {
        auto& handler = state_->handler;
        switch (request.op) {
            case control::Op::status:
                return handler.status();
            case control::Op::plan:
                return handler.plan();
            case control::Op::metrics:
                return {{"text", handler.metrics_text()}};
            case control::Op::subscribe: {
                streams_ = request.streams;
                nlohmann::json names = nlohmann::json::array();
                if (streams_.events) {
                    names.push_back("events");
                }
                if (streams_.plans) {
                    names.push_back("plans");
                }
                return {{"streams", names}};
            }
            case control::Op::unsubscribe:
                streams_ = {};
                return nlohmann::json::object();
            case control::Op::register_workload: {
                nlohmann::json result = handler.register_workload(request.workload);
                // {"configured": true}: the config file's workload, not ours to release.
                const auto name = result.find("workload");
                const auto configured = result.find("configured");
                if (name != result.end() && name->is_string() &&
                    !(configured != result.end() && configured->is_boolean() && configured->get<bool>())) {
                    state_->registrants[name->get<std::string>()].insert(number_);
                }
                return result;
            }
            case control::Op::unregister_workload:
                handler.unregister_workload(request.name);
                state_->registrants.erase(request.name);
                return nlohmann::json::object();
            case control::Op::ping:
                return {{"version", control::protocol_version}};
        }
        throw control::ProtocolError("unhandled op");
    }

    void enqueue(std::string line) {
        if (closed_) {
            return;
        }
        if (queued_bytes_ + line.size() > state_->limits.max_queued_bytes) {
            state_->log(who() + ": more than " + std::to_string(state_->limits.max_queued_bytes) +
                        " bytes unread, connection dropped");
            close();
            return;
        }
        queued_bytes_ += line.size();
        queue_.push_back(std::move(line));
        write_more();
    }

    void write_more() {
        if (writing_ || closed_ || queue_.empty()) {
            return;
        }
        writing_ = true;
        boost::asio::async_write(socket_, boost::asio::buffer(queue_.front()),
                                 [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                                     self->on_written(ec);
                                 });
    }

    void on_written(const boost::system::error_code& ec) {
        writing_ = false;
        if (closed_) {
            return;
        }
        if (ec) {
            close();
            return;
        }
        queued_bytes_ -= queue_.front().size();
        queue_.pop_front();
        if (queue_.empty() && closing_) {
            close();
            return;
        }
        write_more();
        read_more();
    }

    void close_after_flush() {
        closing_ = true;
        if (queue_.empty() && !writing_) {
            close();
        }
    }

    std::shared_ptr<ControlServer::State> state_;
    stream_protocol::socket socket_;
    control::LineSplitter splitter_;
    std::uint64_t number_;
    std::array<char, 4096> buffer_{};
    std::deque<std::string> queue_;
    std::size_t queued_bytes_ = 0;
    control::Streams streams_;
    bool reading_ = false;
    bool writing_ = false;
    bool closing_ = false;  // no more requests; close once the queue is sent
    bool closed_ = false;
};

// Another daemon answers on path?
bool someone_listens(const std::filesystem::path& path) {
    // Non-blocking: a live daemon with a full backlog answers EAGAIN at once.
    FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    throw_system_error_on(!fd, "socket");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.string().size() + 1);
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 ||
           errno == EAGAIN;
}

void remove_stale_socket(const std::filesystem::path& path, const ControlServer::LogLine& log) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        throw_system_error_on(errno != ENOENT, "cannot stat " + path.string());
        return;
    }
    if (!S_ISSOCK(st.st_mode)) {
        throw std::runtime_error(path.string() + " exists and is not a socket; not removing it");
    }
    if (someone_listens(path)) {
        throw std::runtime_error("another hpplaced is already running on " + path.string());
    }
    throw_system_error_on(::unlink(path.c_str()) != 0 && errno != ENOENT, "cannot remove stale socket " + path.string());
    log("removed stale socket " + path.string());
}

void accept_next(const std::shared_ptr<ControlServer::State>& state) {
    state->acceptor.async_accept([state](const boost::system::error_code& ec, stream_protocol::socket socket) {
        if (state->stopped) {
            return;
        }
        if (ec) {
            if (ec != boost::asio::error::operation_aborted) {
                // EMFILE and friends: keep serving the clients we have.
                state->log(std::string("control socket accept: ") + ec.message());
                auto timer = std::make_shared<boost::asio::steady_timer>(state->acceptor.get_executor());
                timer->expires_after(std::chrono::milliseconds(100));
                timer->async_wait([state, timer](const boost::system::error_code&) {
                    if (!state->stopped) {
                        accept_next(state);
                    }
                });
            }
            return;
        }
        auto session = std::make_shared<Session>(state, std::move(socket), state->next_client++);
        state->sessions.insert(session);
        if (state->sessions.size() > state->limits.max_clients) {
            session->refuse("too many clients (" + std::to_string(state->limits.max_clients) + "), try again later");
        } else {
            session->start();
        }
        accept_next(state);
    });
}

}  // namespace

ControlServer::ControlServer(boost::asio::io_context& io, std::filesystem::path socket_path, ControlHandler& handler,
                             ControlServerLimits limits, LogLine log) {
    if (!log) {
        log = [](const std::string& line) { std::cerr << "hpplaced: " << line << '\n'; };
    }
    if (socket_path.string().size() >= sizeof(sockaddr_un::sun_path)) {
        throw std::runtime_error("socket path " + socket_path.string() + " is too long");
    }
    state_ = std::make_shared<State>(io, std::move(socket_path), handler, limits, std::move(log));
    remove_stale_socket(state_->path, state_->log);
    const stream_protocol::endpoint endpoint(state_->path.string());
    boost::system::error_code ec;
    state_->acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
        state_->acceptor.bind(endpoint, ec);
    }
    if (ec) {
        throw std::system_error(ec.value(), std::system_category(), "cannot bind " + state_->path.string());
    }
    throw_system_error_on(::chmod(state_->path.c_str(), 0660) != 0, "cannot chmod 0660 " + state_->path.string());
    state_->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
        throw std::system_error(ec.value(), std::system_category(), "cannot listen on " + state_->path.string());
    }
    accept_next(state_);
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
    if (!state_ || state_->stopped) {
        return;
    }
    state_->stopped = true;
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    const auto sessions = state_->sessions;  // close() erases from the set
    for (const auto& session : sessions) {
        session->close();
    }
    ::unlink(state_->path.c_str());
}

void ControlServer::publish_event(const Event& event) {
    if (state_->stopped || state_->sessions.empty()) {
        return;
    }
    const std::string line = control::render_event_push(event);
    const auto sessions = state_->sessions;  // push may drop a slow client
    for (const auto& session : sessions) {
        if (session->streams().events) {
            session->push(line);
        }
    }
}

void ControlServer::publish_plan(const nlohmann::json& plan) {
    if (state_->stopped || state_->sessions.empty()) {
        return;
    }
    const std::string line = control::render_plan_push(plan);
    const auto sessions = state_->sessions;
    for (const auto& session : sessions) {
        if (session->streams().plans) {
            session->push(line);
        }
    }
}

std::size_t ControlServer::client_count() const noexcept { return state_->sessions.size(); }

const std::filesystem::path& ControlServer::socket_path() const noexcept { return state_->path; }

}  // namespace hpplace
