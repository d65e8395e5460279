#pragma once

// What the events socket of an EventChannel receives, turned into
// notifications: pure (no I/O), so the channel's logic is unit-tested with
// hand-built datagrams (tests/unit/hpnotify_decoder_test.cpp).

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/event.hpp"
#include "kernel/protocol.hpp"

namespace hpplace::kernel {

// Events were lost. The state is unknown: resync from a state dump.
struct Loss {
    enum class Cause { overrun, gap, malformed };
    Cause cause = Cause::overrun;
    // For a gap: the sequence numbers that never arrived.
    std::uint64_t first_lost = 0;
    std::uint64_t last_lost = 0;
    std::string detail;  // one line for a human

    std::optional<std::uint64_t> count() const noexcept {
        return cause == Cause::gap ? std::optional(last_lost - first_lost + 1) : std::nullopt;
    }
};

// The module was unloaded (nlctrl CTRL_CMD_DELFAMILY for "hpnotify").
struct FamilyGone {};

// The module was loaded (again): its new family, sequence numbers restart.
struct FamilyBack {
    FamilyInfo family;
};

using Notification = std::variant<Event, Loss, FamilyGone, FamilyBack>;

class NotificationDecoder {
public:
    // `family`: the hpnotify family when it is registered, else nullopt.
    explicit NotificationDecoder(std::optional<FamilyInfo> family) : family_(std::move(family)) {}

    struct Decoded {
        std::vector<Notification> notifications;
        // The events group of a family that just (re)appeared: join it.
        std::optional<std::uint32_t> group_to_join;
    };

    // One datagram: hpnotify events and nlctrl notifications; other messages
    // are ignored. Never throws for bad input: it becomes a Loss.
    Decoded decode(ByteView datagram);
    // The socket said ENOBUFS.
    Loss overrun() const;

    // The sequence number the next event should follow (after a resync).
    void expect_after(std::uint64_t last_seq) noexcept { last_seq_ = last_seq; }
    const std::optional<FamilyInfo>& family() const noexcept { return family_; }

private:
    void decode_control(const MessageView& message, Decoded& decoded);
    void decode_event(const MessageView& message, Decoded& decoded);

    std::optional<FamilyInfo> family_;
    std::optional<std::uint64_t> last_seq_;
};

// The "events" multicast group of the hpnotify family; ProtocolError when it has none.
std::uint32_t events_group_of(const FamilyInfo& family);

}  // namespace hpplace::kernel
