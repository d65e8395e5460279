#pragma once

// The hpnotify generic netlink protocol (common/hpnotify.h), as pure functions
// over bytes: parsers for what the kernel sends, builders for what we ask.
// Nothing here does I/O, so every byte layout is unit-tested
// (tests/unit/hpnotify_protocol_test.cpp).
//
// Parsers never trust a length: a message shorter than its headers, an
// nlmsg_len beyond the buffer, an attribute overrunning its container, an
// attribute of the wrong size, a missing mandatory attribute or an unknown
// event type raise ProtocolError; an NLMSG_ERROR reply raises
// std::system_error carrying the kernel's errno. Unknown attributes are
// skipped (a newer module may add some).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/cpu_set.hpp"
#include "core/event.hpp"

namespace hpplace::kernel {

using Bytes = std::vector<std::byte>;
using ByteView = std::span<const std::byte>;

// A message that does not follow the protocol.
class ProtocolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A dump answer flagged NLM_F_DUMP_INTR: it raced with a change, ask again.
class DumpInterrupted : public ProtocolError {
public:
    DumpInterrupted() : ProtocolError("the state dump raced with a hotplug event (NLM_F_DUMP_INTR)") {}
};

// One netlink message, checked to lie inside its buffer.
struct MessageView {
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    std::uint32_t seq = 0;
    std::uint32_t port_id = 0;
    ByteView bytes;  // the whole message, header included (nlmsg_len bytes)
};

// Splits a buffer (one datagram, or several concatenated) into its messages.
// Throws ProtocolError when a header or a length does not fit.
std::vector<MessageView> split_messages(ByteView buffer);

// True when the buffer holds the end of a dump or of a request: NLMSG_DONE or
// NLMSG_ERROR (an error or an ack).
bool ends_reply(ByteView buffer);

// Throws std::system_error(errno) when the message is an NLMSG_ERROR with a
// non-zero error; returns quietly for an ack (error 0) or any other message.
void throw_if_error(const MessageView& message, std::string_view what);

// ---- hpnotify events ----

// Parses one HPNOTIFY_CMD_EVENT message (a multicast on the "events" group).
Event parse_event(ByteView message);

// ---- state dump ----

struct KernelNode {
    unsigned id = 0;
    std::uint64_t memory_bytes = 0;
    CpuSet cpus;

    friend bool operator==(const KernelNode&, const KernelNode&) = default;
};

struct KernelState {
    std::uint64_t last_seq = 0;
    unsigned nr_cpu_ids = 0;
    CpuSet possible;
    CpuSet present;
    CpuSet online;
    std::vector<KernelNode> nodes;  // in the order the kernel sent them

    friend bool operator==(const KernelState&, const KernelState&) = default;
};

// Parses the whole answer to a GET_STATE dump: the datagrams concatenated, up
// to and including NLMSG_DONE. The first message carries the globals, the
// others one HPNOTIFY_A_STATE_NODE nest each. Throws DumpInterrupted when any
// message is flagged NLM_F_DUMP_INTR, ProtocolError when NLMSG_DONE is missing
// (a truncated dump) or a message is malformed, std::system_error for an
// NLMSG_ERROR.
KernelState parse_state_messages(ByteView stream);

// ---- stats ----

struct KernelStats {
    std::uint64_t last_seq = 0;
    std::map<EventType, std::uint64_t> sent;  // by event type, as the kernel counted
    std::uint64_t send_failures = 0;
    std::uint64_t no_listener = 0;
    bool listeners = false;

    friend bool operator==(const KernelStats&, const KernelStats&) = default;
};

// Parses the answer to GET_STATS (one message, or an NLMSG_ERROR).
KernelStats parse_stats(ByteView reply);

// ---- nlctrl ----

struct FamilyInfo {
    std::uint16_t id = 0;
    std::string name;
    std::uint32_t version = 0;
    std::map<std::string, std::uint32_t, std::less<>> multicast_groups;  // name -> group id

    std::optional<std::uint32_t> group(std::string_view group_name) const;
    friend bool operator==(const FamilyInfo&, const FamilyInfo&) = default;
};

// What an nlctrl message says: CTRL_CMD_NEWFAMILY (a GETFAMILY reply or a
// "notify" multicast), CTRL_CMD_DELFAMILY, CTRL_CMD_NEWMCAST_GRP ...
struct ControlMessage {
    std::uint8_t command = 0;
    FamilyInfo family;
};

// Parses one nlctrl message (nlmsg_type GENL_ID_CTRL). Throws
// std::system_error for an NLMSG_ERROR (ENOENT: no such family).
ControlMessage parse_control_message(ByteView message);

// ---- requests ----

// Each returns the bytes of one request message with the given sequence number.
Bytes build_get_family_request(std::string_view family_name, std::uint32_t seq);
Bytes build_get_state_request(std::uint16_t family_id, std::uint32_t seq);
Bytes build_get_stats_request(std::uint16_t family_id, std::uint32_t seq);

// ---- sequence numbers ----

// How an event's sequence number follows the previous one.
struct SequenceCheck {
    enum class Kind {
        first,      // no previous number to compare with
        in_order,   // previous + 1
        gap,        // events first_lost .. last_lost never arrived
        backwards,  // not after the previous one: the module was reloaded, or a duplicate
    };
    Kind kind = Kind::first;
    std::uint64_t first_lost = 0;
    std::uint64_t last_lost = 0;

    std::uint64_t lost() const noexcept { return kind == Kind::gap ? last_lost - first_lost + 1 : 0; }
    friend bool operator==(const SequenceCheck&, const SequenceCheck&) = default;
};

SequenceCheck check_sequence(std::optional<std::uint64_t> previous, std::uint64_t seq) noexcept;

}  // namespace hpplace::kernel
