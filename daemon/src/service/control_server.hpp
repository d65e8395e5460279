#pragma once

// The daemon's control socket: an AF_UNIX stream acceptor on Boost.Asio that
// speaks control/protocol.hpp (newline-delimited JSON, docs/contract.md "Control socket").
//
// How the daemon uses it (everything runs on the daemon's single io_context
// thread, so handler calls need no locking):
//
//   Daemon (service/daemon.hpp) is the ControlHandler: status() returns
//       make_status(...), plan() the current plan, metrics_text()
//       metrics.render(); the server renders them (control/).
//   ControlServer server(io, std::move(listening), handler, limits, log, access);
//                                     // listening: service/control_socket.hpp
//   ...
//   server.publish_event(event);      // after each event is applied
//   server.publish_plan(plan);        // after each new plan generation
//   server.stop();                    // or let the destructor do it
//
// The constructor takes a listening socket (service/control_socket.hpp: systemd's
// or bound by the daemon); the one taking a path binds it with mode 0660. Each
// connection's rights are decided at accept from its peer's credentials
// (service/peer_access.hpp): root may do everything, a member of the socket
// file's group its own workloads, anyone else is refused; each refusal is an
// error line to the peer and a log line naming its pid and uid. Limits (ControlServerLimits, defaults in docs/contract.md) keep a slow
// or hostile client from stalling the daemon or locking others out:
//   - at most max_clients connections, max_clients_per_peer of them from one
//     process (SO_PEERCRED pid); one more is told why in one error line and
//     closed;
//   - lines up to max_line bytes (longer: an error line, then the connection
//     is closed); answers and pushes up to max_answer bytes (a bigger answer
//     becomes an error answer, a bigger push is left out and logged); at most
//     max_queued_bytes of unsent output (beyond: the connection is closed), and
//     while a connection has unsent responses no further requests are read;
//   - a connection that sent no line for idle_timeout is closed, unless it
//     subscribed or registered a workload (libhpplace keeps one quiet
//     connection open for as long as it runs); a line not finished within
//     line_timeout closes any connection (while a line is under way, only
//     that timeout runs); each is told why first;
//   - at most max_workloads_per_client registered workloads per connection and
//     max_workloads_per_peer per process.
// A connection that closes (EOF, error, or dropped by these limits) takes the
// workloads it registered with it, unless another live connection registered
// the same name too.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "control/status.hpp"
#include "core/event.hpp"
#include "plan/plan.hpp"
#include "plan/workload.hpp"
#include "service/control_socket.hpp"
#include "service/peer_access.hpp"

namespace hpplace {

// The daemon's answers to control requests, as typed values the server
// renders (control/). A throwing call becomes an {"ok": false, "error":
// "<op>: " what()} response; the connection stays open.
struct ControlHandler {
    virtual ~ControlHandler() = default;
    virtual control::Status status() = 0;
    // Throws when there is no plan it may answer with (one too large to send).
    virtual const Plan& plan() = 0;
    virtual std::string metrics_text() = 0;
    // {"op":"register"} (libhpplace), the workload held to workload_problem()'s
    // limits already. Unless the answer is configured (the name is the config
    // file's), the server counts the workload as the connection's and, once
    // the last live connection that registered it has closed, calls
    // unregister_workload(name) (errors ignored: already gone).
    virtual control::Registration register_workload(const Workload& workload);
    // {"op":"unregister"}: removes it whoever registered it.
    virtual void unregister_workload(const std::string& name);
};

struct ControlServerLimits {
    std::size_t max_clients = 64;
    std::size_t max_line = control::max_line_bytes;
    // Room for two answers of the largest size: a plan push and a plan answer.
    std::size_t max_queued_bytes = 2 * control::max_answer_bytes;
    std::size_t max_answer = control::max_answer_bytes;
    std::size_t max_clients_per_peer = 16;
    std::size_t max_workloads_per_client = 16;
    std::size_t max_workloads_per_peer = 64;
    std::chrono::milliseconds idle_timeout{30'000};
    std::chrono::milliseconds line_timeout{10'000};

    // listen()'s queue of connections not yet accepted: short, so that behind
    // a connect storm a fresh client waits for at most this many accepts.
    int backlog() const noexcept { return static_cast<int>(std::clamp<std::size_t>(max_clients, 16, 128)); }
};

class ControlServer {
public:
    using LogLine = std::function<void(const std::string&)>;

    // Serves socket; its group's members are the members.
    ControlServer(boost::asio::io_context& io, ListeningSocket socket, ControlHandler& handler,
                  ControlServerLimits limits = {}, LogLine log = {}, PeerAccessOptions access = {});
    // Binds socket_path (bind_control_socket(), mode 0660, the daemon's group)
    // first: throws std::system_error when the socket cannot be set up, and
    // std::runtime_error when a daemon already answers on socket_path.
    ControlServer(boost::asio::io_context& io, std::filesystem::path socket_path, ControlHandler& handler,
                  ControlServerLimits limits = {}, LogLine log = {});
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Stops accepting, closes every connection, removes the socket file
    // (not systemd's).
    void stop();

    // Pushes to the subscribers of the events / plans stream.
    void publish_event(const Event& event);
    void publish_plan(const Plan& plan);
    void publish_plan(const nlohmann::json& plan);

    std::size_t client_count() const noexcept;
    // Socket writes started so far, all connections: lines queued together
    // (answers, a burst's pushes) share one.
    std::uint64_t writes() const noexcept;
    bool has_plan_subscribers() const noexcept;
    const std::filesystem::path& socket_path() const noexcept;

    struct State;  // defined in control_server.cpp; shared with the connections

private:
    void publish_plan_line(const std::string& line);

    std::shared_ptr<State> state_;
};

}  // namespace hpplace
