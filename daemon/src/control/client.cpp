#include "control/client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>


namespace hpplace::control {

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds timeout) {
    const auto ms = timeout.count();
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + " s";
    }
    return std::to_string(ms) + " ms";
}

std::string connect_error(const std::filesystem::path& path, int error) {
    const std::string where = path.string();
    switch (error) {
        case ENOENT:
            return "hpplaced is not running (no socket at " + where + ")";
        case ECONNREFUSED:
            return "hpplaced is not running (nobody listens on " + where + ")";
        case EACCES:
        case EPERM:
            return "permission denied on " + where + " (run as root or as a member of the socket's group)";
        case ENOTSOCK:
            return where + " is not a socket";
        default:
            return "cannot connect to hpplaced at " + where + ": " + std::strerror(error);
    }
}

// Milliseconds left until deadline, for poll(); 0 when past.
int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

}  // namespace

ControlClient::ControlClient(FileDescriptor fd, std::filesystem::path path, std::chrono::milliseconds timeout) noexcept
    : fd_(std::move(fd)), path_(std::move(path)), timeout_(timeout), splitter_(max_answer_bytes) {}

ControlClient ControlClient::connect(const std::filesystem::path& socket_path, std::chrono::milliseconds timeout) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = socket_path.string();
    if (path.empty() || path.size() >= sizeof(address.sun_path)) {
        throw ControlError("socket path \"" + path + "\" is empty or longer than " +
                           std::to_string(sizeof(address.sun_path) - 1) + " bytes");
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw ControlError(std::string("cannot create a socket: ") + std::strerror(errno));
    }
    // A blocking connect bounded by SO_SNDTIMEO: with the listen backlog full
    // it waits in the kernel and is woken with every other connector as the
    // daemon accepts. A non-blocking one fails with EAGAIN and, retried on a
    // timer, loses each freed slot to those already waiting: behind a flood of
    // connections it took 100-300 ms instead of a few.
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto left = std::max<long long>(remaining_ms(deadline), 1);  // 0 would mean no limit
        const timeval limit{.tv_sec = static_cast<time_t>(left / 1000),
                            .tv_usec = static_cast<suseconds_t>(left % 1000 * 1000)};
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)) != 0) {
            throw ControlError(std::string("cannot set a connect timeout: ") + std::strerror(errno));
        }
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
            break;
        }
        const int error = errno;
        if (error == EINTR && Clock::now() < deadline) {
            continue;  // nothing is in progress on AF_UNIX: connect again
        }
        if (error == EAGAIN || error == EINTR) {
            throw ControlError("hpplaced at " + path + " did not accept within " + seconds_text(timeout));
        }
        throw ControlError(connect_error(socket_path, error));
    }
    // Sends and reads poll with their own deadlines.
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
        throw ControlError(std::string("cannot make the socket non-blocking: ") + std::strerror(errno));
    }
    return ControlClient(std::move(fd), socket_path, timeout);
}

void ControlClient::send_all(const std::string& bytes) {
    const auto deadline = Clock::now() + timeout_;
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n >= 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN) {
            const int error = errno;
            throw_refusal();
            throw ControlError("lost the connection to hpplaced at " + path_.string() + ": " + std::strerror(error));
        }
        pollfd pfd{.fd = fd_.get(), .events = POLLOUT, .revents = 0};
        if (::poll(&pfd, 1, remaining_ms(deadline)) == 0) {
            throw ControlError("hpplaced at " + path_.string() + " did not take the request within " +
                               seconds_text(timeout_));
        }
    }
}

void ControlClient::throw_refusal() {
    // The daemon refuses a connection (too many clients, a timeout) with one
    // error line before it closes it; that line says more than EPIPE.
    try {
        if (auto line = read_line(Clock::now() + std::chrono::milliseconds(100))) {
            const Message message = parse_message(*line);
            if (message.kind == Message::Kind::error) {
                throw ControlError("hpplaced: " + message.error);
            }
        }
    } catch (const ProtocolError&) {
        // Not a message: the caller's error stands.
    } catch (const ControlError& error) {
        if (std::string_view(error.what()).starts_with("hpplaced: ")) {
            throw;
        }
    }
}

std::optional<std::string> ControlClient::read_line(Clock::time_point deadline) {
    char buffer[65536];
    while (lines_.empty()) {
        pollfd pfd{.fd = fd_.get(), .events = POLLIN, .revents = 0};
        const int ready = ::poll(&pfd, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready < 0) {
            throw ControlError(std::string("poll: ") + std::strerror(errno));
        }
        if (ready == 0) {
            return std::nullopt;
        }
        const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0) {
            throw ControlError("lost the connection to hpplaced at " + path_.string() + ": " + std::strerror(errno));
        }
        if (n == 0) {
            throw ControlError("hpplaced closed the connection at " + path_.string());
        }
        try {
            lines_ = splitter_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        } catch (const ProtocolError& e) {
            throw ControlError(std::string("bad answer from hpplaced: ") + e.what());
        }
    }
    std::string line = std::move(lines_.front());
    lines_.erase(lines_.begin());
    return line;
}

nlohmann::json ControlClient::request(Request request) {
    const std::uint64_t id = next_id_++;
    request.id = id;
    send_all(render_request(request));
    const auto deadline = Clock::now() + timeout_;
    const std::string_view op = to_string(request.op);
    for (;;) {
        auto line = read_line(deadline);
        if (!line) {
            throw ControlError("no answer from hpplaced at " + path_.string() + " to \"" + std::string(op) +
                               "\" within " + seconds_text(timeout_));
        }
        Message message;
        try {
            message = parse_message(*line);
        } catch (const ProtocolError& e) {
            throw ControlError(std::string("bad answer from hpplaced: ") + e.what());
        }
        if (message.kind == Message::Kind::event || message.kind == Message::Kind::plan) {
            continue;  // a push; request() callers do not want them
        }
        if (!message.id.is_null() && message.id != id) {
            continue;  // an answer to an earlier request that timed out
        }
        if (message.kind == Message::Kind::error) {
            throw ControlError("hpplaced: " + message.error);
        }
        return std::move(message.payload);
    }
}

nlohmann::json ControlClient::request(Op op) { return request(Request{.op = op}); }

std::optional<Message> ControlClient::next_message(std::chrono::milliseconds timeout) {
    auto line = read_line(Clock::now() + timeout);
    if (!line) {
        return std::nullopt;
    }
    try {
        return parse_message(*line);
    } catch (const ProtocolError& e) {
        throw ControlError(std::string("bad answer from hpplaced: ") + e.what());
    }
}

nlohmann::json query_daemon(const std::filesystem::path& socket_path, Op op, std::chrono::milliseconds timeout) {
    auto client = ControlClient::connect(socket_path, timeout);
    return client.request(op);
}

}  // namespace hpplace::control
