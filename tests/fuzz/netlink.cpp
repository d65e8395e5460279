// Generic netlink messages of the hpnotify family and nlctrl, as the kernel
// socket hands them over: every parser of kernel/protocol.cpp on the same
// bytes, the events socket's NotificationDecoder, and the reports hpctl
// prints of what parsed. A parsed event must survive the trip to a
// libhpplace client (the daemon's push, the client's reading).

#include <linux/netlink.h>

#include <system_error>

#include "control/documents.hpp"
#include "control/protocol.hpp"
#include "fuzz_target.hpp"
#include "kernel/notification_decoder.hpp"
#include "kernel/protocol.hpp"
#include "kernel/report.hpp"

using namespace hpplace;
using namespace hpplace::kernel;

namespace {

// The family id of the seeds (tests/unit/hpnotify_message_builder.hpp).
constexpr std::uint16_t family_id = 0x1f;

// Runs a parser; the errors the parsers document for bad input are expected.
template <typename Parse>
void tolerating_rejection(Parse&& parse) {
    try {
        parse();
    } catch (const ProtocolError&) {
    } catch (const std::system_error&) {
    }
}

void check_event_reaches_clients(const Event& event) {
    constexpr unsigned max_id = 1U << 20;  // what libhpplace takes as a CPU or node number
    if ((event.cpu && *event.cpu > max_id) || (event.node && *event.node > max_id) ||
        (event.online_cpus && *event.online_cpus > max_id) ||
        (event.online_mask && event.online_mask->end() > max_id)) {
        return;
    }
    const auto message = control::parse_message(control::render_event_push(event));
    FUZZ_CHECK(message.kind == control::Message::Kind::event);
    FUZZ_CHECK(control::event_from_json(message.payload) == event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView bytes(reinterpret_cast<const std::byte*>(data), size);
    try {
        const auto messages = split_messages(bytes);
        const bool ends = ends_reply(bytes);
        bool has_end = false;
        for (const auto& message : messages) {
            has_end = has_end || message.type == NLMSG_DONE || message.type == NLMSG_ERROR;
            FUZZ_CHECK(message.bytes.size() >= sizeof(nlmsghdr));
            FUZZ_CHECK(message.bytes.data() >= bytes.data() &&
                       message.bytes.data() + message.bytes.size() <= bytes.data() + bytes.size());
        }
        FUZZ_CHECK(ends == has_end);
    } catch (const ProtocolError&) {
    }
    tolerating_rejection([&] { check_event_reaches_clients(parse_event(bytes)); });
    tolerating_rejection([&] {
        const KernelState state = parse_state_messages(bytes);
        (void)to_json(state).dump();
        (void)to_text(state);
    });
    tolerating_rejection([&] {
        const KernelStats stats = parse_stats(bytes);
        (void)to_json(stats).dump();
        (void)to_text(stats);
    });
    tolerating_rejection([&] { (void)parse_control_message(bytes).family.group("events"); });
    // The decoder never throws; with and without a known family (an nlctrl
    // notification in the same datagram may switch it).
    NotificationDecoder with_family(FamilyInfo{.id = family_id, .name = "hpnotify", .version = 1,
                                               .multicast_groups = {{"events", 2}}});
    (void)with_family.decode(bytes);
    NotificationDecoder without_family(std::nullopt);
    (void)without_family.decode(bytes);
    return 0;
}
