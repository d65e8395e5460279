// Request lines on the control socket, as the server reads them: the bytes cut
// by LineSplitter, each line through parse_request (and request_id_of, which
// the server uses for the error reply; a register request's workload is read
// there too), each request rendered as a client would and read back, and the
// replies rendered. The server's sessions are a harness of their own
// (control_server).

#include <stdexcept>

#include "control/documents.hpp"
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
                FUZZ_CHECK(!request.workload.name.empty());
                FUZZ_CHECK(!workload_problem(request.workload));
            }
            // What a client renders of a request, the server reads back the same.
            const Request again = parse_request(render_request(request));
            FUZZ_CHECK(again.op == request.op && again.id == request.id);
            if (request.op == Op::subscribe) {
                FUZZ_CHECK(again.streams == request.streams);
            } else if (request.op == Op::register_workload) {
                FUZZ_CHECK(again.workload == request.workload);
            } else if (request.op == Op::unregister_workload) {
                FUZZ_CHECK(again.name == request.name);
            }
            (void)render_result(to_json(request.workload), request.id);
        } catch (const ProtocolError& e) {
            FUZZ_CHECK(std::string_view(e.what()).find('\n') == std::string_view::npos);
            (void)render_error(e.what(), id);
        }
    }
    return 0;
}
