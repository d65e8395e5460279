// What libhpplace reads from the daemon: each line through parse_message, then
// the payload through every reading of control/documents.cpp and
// client/messages.cpp (pushed events, the status document, the plan, and the
// register request's workload, the daemon's side of the same documents).

#include <stdexcept>

#include "client/messages.hpp"
#include "control/documents.hpp"
#include "control/protocol.hpp"
#include "fuzz_target.hpp"

using namespace hpplace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::for_each_line(fuzz::text_of(data, size), [](std::string_view line) {
        control::Message message;
        try {
            message = control::parse_message(line);
        } catch (const control::ProtocolError&) {
            return;
        }
        const nlohmann::json& payload = message.payload;
        try {
            const Event event = control::event_from_json(payload);
            FUZZ_CHECK(control::event_from_json(to_json(event)) == event);
        } catch (const std::invalid_argument&) {
        }
        try {
            (void)control::snapshot_from_status(payload);
        } catch (const std::invalid_argument&) {
        }
        try {
            if (const auto assignment = client::assignment_from_plan(payload, "w")) {
                FUZZ_CHECK(assignment->workload == "w");
            }
        } catch (const std::invalid_argument&) {
        }
        try {
            FUZZ_CHECK(!control::workload_from_json(payload).name.empty());
        } catch (const std::invalid_argument&) {
        }
    });
    return 0;
}
