#pragma once

// A synchronous control-socket client for hpctl: one
// connection, a timeout on every operation, one-line errors that say what to do
// ("hpplaced is not running (no socket at /run/hpplaced.sock)").

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "core/file_descriptor.hpp"

namespace hpplace::control {

// Connection failures, timeouts, and {"ok":false} answers; what() is one line.
class ControlError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class ControlClient {
public:
    // Throws ControlError when the daemon is not there or not reachable.
    static ControlClient connect(const std::filesystem::path& socket_path,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // Sends one request (its id is the client's own) and returns the "result"
    // of its response, skipping pushed lines received meanwhile. Throws
    // ControlError on {"ok": false, "error": ...} (with the daemon's message)
    // or timeout.
    nlohmann::json request(Request request);
    nlohmann::json request(Op op);

    // The next line from the daemon (a push after subscribe); nullopt on
    // timeout. Throws ControlError when the daemon closes the connection.
    std::optional<Message> next_message(std::chrono::milliseconds timeout);

    const std::filesystem::path& socket_path() const noexcept { return path_; }

private:
    ControlClient(FileDescriptor fd, std::filesystem::path path, std::chrono::milliseconds timeout) noexcept;
    void send_all(const std::string& bytes);
    // Throws the daemon's reason when it sent one before closing the connection.
    void throw_refusal();
    // The next complete line (up to max_answer_bytes), or nullopt if none came before deadline.
    std::optional<std::string> read_line(std::chrono::steady_clock::time_point deadline);

    FileDescriptor fd_;
    std::filesystem::path path_;
    std::chrono::milliseconds timeout_;
    LineSplitter splitter_;  // answers up to max_answer_bytes
    std::vector<std::string> lines_;  // complete lines not handed out yet
    std::uint64_t next_id_ = 1;
};

// Connects, asks one op, returns its result: what hpctl status/plan/metrics do.
nlohmann::json query_daemon(const std::filesystem::path& socket_path, Op op,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace hpplace::control
