#include "control/protocol.hpp"

#include <array>
#include <utility>

#include "control/documents.hpp"
#include "core/json_depth.hpp"

namespace hpplace::control {

namespace {

constexpr std::array<std::pair<Op, std::string_view>, 8> op_names = {{
    {Op::status, "status"},
    {Op::plan, "plan"},
    {Op::metrics, "metrics"},
    {Op::subscribe, "subscribe"},
    {Op::unsubscribe, "unsubscribe"},
    {Op::register_workload, "register"},
    {Op::unregister_workload, "unregister"},
    {Op::ping, "ping"},
}};

std::string valid_ops() {
    std::string out;
    for (const auto& [op, name] : op_names) {
        if (!out.empty()) {
            out += ", ";
        }
        out += name;
    }
    return out;
}

// Line-sized excerpt of peer-provided text for an error message.
std::string excerpt(std::string_view text) {
    constexpr std::size_t max = 40;
    std::string out;
    for (const char c : text.substr(0, max)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (text.size() > max) {
        out += "...";
    }
    return out;
}

nlohmann::json parse_object(std::string_view line, std::string_view what) {
    if (json_nesting_depth(line) > max_json_depth) {
        throw ProtocolError(std::string(what) + " nests arrays and objects deeper than " +
                            std::to_string(max_json_depth) + " levels");
    }
    nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
        throw ProtocolError(std::string(what) + " is not JSON: \"" + excerpt(line) + "\"");
    }
    if (!json.is_object()) {
        throw ProtocolError(std::string(what) + " must be a JSON object, got " + json.type_name());
    }
    return json;
}

bool valid_id(const nlohmann::json& id) noexcept {
    return id.is_null() || id.is_number_integer() || id.is_string();
}

std::string line_of(const nlohmann::json& json) {
    std::string out = render_json(json);
    out += '\n';
    return out;
}

Streams parse_streams(const nlohmann::json& request) {
    const auto it = request.find("streams");
    if (it == request.end()) {
        return Streams{.events = true, .plans = true};
    }
    if (!it->is_array()) {
        throw ProtocolError("\"streams\" must be an array of \"events\" and \"plans\"");
    }
    Streams streams;
    for (const auto& s : *it) {
        if (s == "events") {
            streams.events = true;
        } else if (s == "plans") {
            streams.plans = true;
        } else {
            throw ProtocolError("unknown stream " + s.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                                " (streams: events, plans)");
        }
    }
    if (!streams.events && !streams.plans) {
        throw ProtocolError("\"streams\" is empty (streams: events, plans)");
    }
    return streams;
}

}  // namespace

std::vector<std::string> LineSplitter::feed(std::string_view bytes) {
    std::vector<std::string> lines;
    while (!bytes.empty()) {
        const auto newline = bytes.find('\n');
        const std::string_view chunk = bytes.substr(0, newline);
        if (partial_.size() + chunk.size() > max_line_) {
            partial_.clear();
            throw ProtocolError("line longer than " + std::to_string(max_line_) + " bytes");
        }
        partial_.append(chunk);
        if (newline == std::string_view::npos) {
            break;
        }
        if (!partial_.empty() && partial_.back() == '\r') {
            partial_.pop_back();
        }
        lines.push_back(std::exchange(partial_, {}));
        bytes.remove_prefix(newline + 1);
    }
    return lines;
}

std::string_view to_string(Op op) noexcept {
    for (const auto& [o, name] : op_names) {
        if (o == op) {
            return name;
        }
    }
    return "unknown";
}

std::optional<Op> op_from_string(std::string_view name) noexcept {
    for (const auto& [op, n] : op_names) {
        if (n == name) {
            return op;
        }
    }
    return std::nullopt;
}

Request parse_request(std::string_view line) {
    const nlohmann::json json = parse_object(line, "request");
    Request request;
    if (const auto id = json.find("id"); id != json.end()) {
        if (!valid_id(*id)) {
            throw ProtocolError("\"id\" must be an integer or a string");
        }
        request.id = *id;
    }
    const auto op = json.find("op");
    if (op == json.end()) {
        throw ProtocolError("request has no \"op\" (ops: " + valid_ops() + ")");
    }
    if (!op->is_string()) {
        throw ProtocolError(std::string("\"op\" must be a string, got ") + op->type_name());
    }
    const auto parsed = op_from_string(op->get_ref<const std::string&>());
    if (!parsed) {
        throw ProtocolError("unknown op \"" + excerpt(op->get_ref<const std::string&>()) + "\" (ops: " + valid_ops() +
                            ")");
    }
    request.op = *parsed;
    switch (request.op) {
        case Op::subscribe:
            request.streams = parse_streams(json);
            break;
        case Op::register_workload: {
            const auto workload = json.find("workload");
            if (workload == json.end() || !workload->is_object()) {
                throw ProtocolError("\"register\" needs a \"workload\" object");
            }
            const auto name = workload->find("name");
            if (name == workload->end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
                throw ProtocolError("\"workload\" needs a non-empty string \"name\"");
            }
            try {
                request.workload = workload_from_json(*workload);
            } catch (const std::invalid_argument& e) {
                throw ProtocolError("register: " + std::string(e.what()));
            }
            break;
        }
        case Op::unregister_workload: {
            const auto name = json.find("name");
            if (name == json.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
                throw ProtocolError("\"unregister\" needs a non-empty string \"name\"");
            }
            request.name = name->get<std::string>();
            break;
        }
        default:
            break;
    }
    return request;
}

nlohmann::json request_id_of(std::string_view line) noexcept {
    if (json_nesting_depth(line) > max_json_depth) {
        return nullptr;
    }
    try {
        const nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
        if (json.is_object()) {
            if (const auto id = json.find("id"); id != json.end() && valid_id(*id)) {
                return *id;
            }
        }
    } catch (...) {
    }
    return nullptr;
}

std::string render_json(const nlohmann::json& json) {
    // Invalid UTF-8 from anywhere (a workload name) must not throw here.
    return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string render_result(const nlohmann::json& result, const nlohmann::json& id) {
    return render_result_text(render_json(result), id);
}

std::string render_result_text(std::string_view result_json, const nlohmann::json& id) {
    // The keys in the order nlohmann::json (a std::map) writes them, so that a
    // client sees the same line as from a document dumped whole.
    std::string out = "{";
    if (!id.is_null()) {
        out += "\"id\":";
        out += render_json(id);
        out += ',';
    }
    out += "\"ok\":true,\"result\":";
    out += result_json;
    out += "}\n";
    return out;
}

std::string render_error(std::string_view message, const nlohmann::json& id) {
    nlohmann::json json = {{"ok", false}, {"error", message}};
    if (!id.is_null()) {
        json["id"] = id;
    }
    return line_of(json);
}

std::string render_event_push(const Event& event) {
    // Written straight from the event: the line of line_of({{"event", to_json(event)}}).
    std::string out = "{\"event\":";
    append_json(out, event);
    out += "}\n";
    return out;
}

std::string render_plan_push(const Plan& plan) {
    // Written straight from the plan: the line of render_plan_push(to_json(plan)).
    std::string out = "{\"plan\":";
    append_json(out, plan);
    out += "}\n";
    return out;
}

std::string render_plan_push(const nlohmann::json& plan) {
    // One member: no copy of the plan into a wrapping document to dump it.
    return "{\"plan\":" + render_json(plan) + "}\n";
}

std::string render_request(const Request& request) {
    nlohmann::json json = {{"op", to_string(request.op)}};
    if (!request.id.is_null()) {
        json["id"] = request.id;
    }
    switch (request.op) {
        case Op::subscribe:
            if (!(request.streams.events && request.streams.plans)) {
                json["streams"] = to_json(request.streams).at("streams");
            }
            break;
        case Op::register_workload:
            json["workload"] = to_json(request.workload);
            break;
        case Op::unregister_workload:
            json["name"] = request.name;
            break;
        default:
            break;
    }
    return line_of(json);
}

nlohmann::json to_json(const Registration& registration) {
    return {{"workload", registration.workload}, {"configured", registration.configured}};
}

nlohmann::json to_json(const Streams& streams) {
    nlohmann::json names = nlohmann::json::array();
    if (streams.events) {
        names.push_back("events");
    }
    if (streams.plans) {
        names.push_back("plans");
    }
    return {{"streams", std::move(names)}};
}

nlohmann::json metrics_result(const std::string& text) { return {{"text", text}}; }

nlohmann::json ping_result() { return {{"version", protocol_version}}; }

Message parse_message(std::string_view line) {
    // Not const: the payload is moved out of it, not copied (a plan push holds
    // every planned thread).
    nlohmann::json json = parse_object(line, "message from hpplaced");
    Message message;
    if (const auto id = json.find("id"); id != json.end()) {
        message.id = *id;
    }
    if (const auto ok = json.find("ok"); ok != json.end()) {
        if (!ok->is_boolean()) {
            throw ProtocolError("\"ok\" must be a boolean");
        }
        if (ok->get<bool>()) {
            const auto result = json.find("result");
            if (result == json.end()) {
                throw ProtocolError("response has \"ok\": true and no \"result\"");
            }
            message.kind = Message::Kind::result;
            message.payload = std::move(*result);
            return message;
        }
        const auto error = json.find("error");
        if (error == json.end() || !error->is_string()) {
            throw ProtocolError("response has \"ok\": false and no string \"error\"");
        }
        message.kind = Message::Kind::error;
        message.error = error->get<std::string>();
        return message;
    }
    if (const auto event = json.find("event"); event != json.end()) {
        message.kind = Message::Kind::event;
        message.payload = std::move(*event);
        return message;
    }
    if (const auto plan = json.find("plan"); plan != json.end()) {
        message.kind = Message::Kind::plan;
        message.payload = std::move(*plan);
        return message;
    }
    throw ProtocolError("message from hpplaced is neither a response nor a push: \"" + excerpt(line) + "\"");
}

}  // namespace hpplace::control
