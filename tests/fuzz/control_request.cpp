// Request lines on the control socket, as the server reads them: the bytes cut
// by LineSplitter, each line through parse_request (and request_id_of, which
// the server uses for the error reply), a register request's workload through
// the daemon's reading of it, and the replies rendered. The server's session
// state machine is a harness of its own (control_server).

#include <stdexcept>

#include "client/messages.hpp"
#include "control/protocol.hpp"
#include "fuzz_target.hpp"

using namespace hpplace;
using namespace hpplace::control;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::text_of(data, size);
    LineSplitter splitter;
    std::vector<std::string> lines;
    try {
        lines = splitter.feed(text);
    } catch (const ProtocolError&) {
        FUZZ_CHECK(text.size() > max_line_bytes);
        return 0;
    }
    FUZZ_CHECK(splitter.pending() <= max_line_bytes);
    for (const auto& line : lines) {
        const nlohmann::json id = request_id_of(line);
        try {
            const Request request = parse_request(line);
            FUZZ_CHECK(request.id == id);
            if (request.op == Op::register_workload) {
                try {
                    const Workload workload = client::workload_from_json(request.workload);
                    FUZZ_CHECK(!workload.name.empty());
                } catch (const std::invalid_argument& e) {
                    (void)render_error(e.what(), request.id);
                }
            }
            (void)render_result(request.workload, request.id);
        } catch (const ProtocolError& e) {
            FUZZ_CHECK(std::string_view(e.what()).find('\n') == std::string_view::npos);
            (void)render_error(e.what(), id);
        }
    }
    return 0;
}
