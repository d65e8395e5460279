#pragma once

// The control-socket protocol between hpplaced and its clients (hpctl and
// libhpplace): newline-delimited JSON over an AF_UNIX stream socket. The wire
// format is documented in docs/contract.md ("Control socket").
//
// Everything here is pure (no I/O) so that it is unit-tested on byte strings:
//   - LineSplitter cuts a byte stream into lines, bounded by max_line_bytes;
//   - parse_request() turns one line into a Request or throws ProtocolError;
//   - render_*() produce one response or push line, '\n' included.
//
// Both ends use the same types and functions. The daemon
// (service/control_server.*) feeds received bytes to a LineSplitter, parses
// each line with parse_request(), asks its ControlHandler and writes
// render_result() of the typed answer's JSON, or render_error(). Pushes to
// subscribers are render_event_push() / render_plan_push(). Clients (hpctl's
// control/client.*, libhpplace) send render_request() of a Request and read
// lines with parse_message().

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.hpp"
#include "plan/plan.hpp"
#include "plan/workload.hpp"

namespace hpplace::control {

inline constexpr std::string_view default_socket_path = "/run/hpplaced.sock";
// A request or response line longer than this is refused: the server answers
// with an error and drops the connection.
inline constexpr std::size_t max_line_bytes = 64 * 1024;
// The longest line the daemon sends (an answer or a push, e.g. a large plan);
// clients read lines up to this. A longer answer becomes an error answer.
inline constexpr std::size_t max_answer_bytes = 4 * 1024 * 1024;
inline constexpr int protocol_version = 1;

// A malformed frame or request; what() is one line meant for the peer.
class ProtocolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Cuts a byte stream into '\n'-terminated lines (a trailing '\r' is dropped),
// buffering at most max_line bytes of an unfinished line.
class LineSplitter {
public:
    explicit LineSplitter(std::size_t max_line = max_line_bytes) noexcept : max_line_(max_line) {}

    // Appends bytes and returns the lines they complete, without their '\n'.
    // Throws ProtocolError when a line (complete or not) exceeds max_line; the
    // splitter is then unusable (the connection must be dropped).
    std::vector<std::string> feed(std::string_view bytes);
    // Bytes of an unfinished line held back.
    std::size_t pending() const noexcept { return partial_.size(); }

private:
    std::size_t max_line_;
    std::string partial_;
};

enum class Op : std::uint8_t {
    status,       // -> the status document (docs/contract.md, hpctl status --json)
    plan,         // -> the current plan (docs/contract.md, hpctl plan --json)
    metrics,      // -> {"text": "<Prometheus text exposition>"}
    subscribe,    // -> {"streams": [...]}; then pushed {"event": ...} / {"plan": ...} lines
    unsubscribe,  // -> {}
    register_workload,    // "register": -> {"workload": name, "configured": bool}
    unregister_workload,  // "unregister": -> {}
    ping,         // -> {"version": protocol_version}
};

std::string_view to_string(Op op) noexcept;
std::optional<Op> op_from_string(std::string_view name) noexcept;

// What a subscriber wants pushed to it.
struct Streams {
    bool events = false;
    bool plans = false;
    friend bool operator==(const Streams&, const Streams&) = default;
};

struct Request {
    Op op = Op::ping;
    // Optional "id" (number or string) echoed in the response so that a client
    // with a subscription can match responses among pushed lines.
    nlohmann::json id = nullptr;                     // null when absent
    Streams streams{.events = true, .plans = true};  // subscribe
    Workload workload{};                             // register
    std::string name{};                              // unregister: the workload name
};

// Parses one request line. Throws ProtocolError ("not JSON: ...", "unknown op
// \"x\"", "\"op\" must be a string", ...; a register's bad workload:
// "register: workload.threads_per_cpu: ...").
Request parse_request(std::string_view line);
// The line parse_request() reads back as request: only the fields of its op
// ("streams" left out when both, the default).
std::string render_request(const Request& request);
// Best effort: the "id" of a line that failed to parse, so that its error
// response still carries it; null when there is none.
nlohmann::json request_id_of(std::string_view line) noexcept;

// {"ok":true,"result":...[,"id":...]}\n
std::string render_result(const nlohmann::json& result, const nlohmann::json& id = nullptr);
// The same line around a result already rendered (render_json()): an answer
// that did not change since it was last sent is not built and dumped again.
std::string render_result_text(std::string_view result_json, const nlohmann::json& id = nullptr);
// A document as it goes on the wire (compact; invalid UTF-8 replaced), no newline.
std::string render_json(const nlohmann::json& json);
// {"ok":false,"error":"..."[,"id":...]}\n
std::string render_error(std::string_view message, const nlohmann::json& id = nullptr);
// {"event": <Event as hpctl watch --json>}\n
std::string render_event_push(const Event& event);
// {"plan": <plan JSON>}\n
std::string render_plan_push(const Plan& plan);
std::string render_plan_push(const nlohmann::json& plan);

// The answers' results besides the status (status.hpp), the plan (plan.hpp)
// and workloads (documents.hpp).
// register: {"workload": name, "configured": bool}. configured: the config
// file has that name; its definition stays and nothing was registered.
struct Registration {
    std::string workload;
    bool configured = false;
    friend bool operator==(const Registration&, const Registration&) = default;
};
nlohmann::json to_json(const Registration& registration);
// subscribe: {"streams": ["events", "plans"]} (those subscribed to).
nlohmann::json to_json(const Streams& streams);
// metrics: {"text": "..."}.
nlohmann::json metrics_result(const std::string& text);
// ping: {"version": protocol_version}.
nlohmann::json ping_result();

// One line received by a client: a response to a request or a pushed message.
struct Message {
    enum class Kind : std::uint8_t { result, error, event, plan } kind = Kind::result;
    nlohmann::json id;       // response id, null if none
    nlohmann::json payload;  // result / event / plan
    std::string error;       // Kind::error
};
// Throws ProtocolError on a line that is none of the shapes above.
Message parse_message(std::string_view line);

}  // namespace hpplace::control
