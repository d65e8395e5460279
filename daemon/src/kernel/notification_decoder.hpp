#pragma once

// What the events socket of an EventChannel receives, turned into
// notifications: pure (no I/O), so the channel's logic is unit-tested with
// hand-built datagrams (tests/unit/hpnotify_decoder_test.cpp).
//
// The decoder is the one place that checks sequence numbers and counts what
// was received and lost (counters()): its Loss is the verdict the layers above
// act on (resync), without looking at sequence numbers themselves.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/event.hpp"
#include "core/stream_counters.hpp"
#include "kernel/protocol.hpp"

namespace hpplace::kernel {

// Events were lost, or may have been. The state is unknown: resync from a
// state dump.
struct Loss {
    // rewound: a sequence number not after the last one without the module's
    // removal seen (a reload whose nlctrl news were lost): the new instance's
    // first events may be gone.
    enum class Cause { overrun, gap, malformed, rewound };
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
    Loss overrun();
    // A datagram that could not be received whole (its detail).
    Loss malformed(std::string detail);

    // The sequence number the next event should follow (after a resync from a
    // state dump at last_seq): events up to it still queued pass as they are.
    void expect_after(std::uint64_t last_seq) noexcept {
        last_seq_ = last_seq;
        covered_through_ = last_seq;
    }
    const std::optional<FamilyInfo>& family() const noexcept { return family_; }
    const StreamCounters& counters() const noexcept { return counters_; }

private:
    void decode_control(const MessageView& message, Decoded& decoded);
    void decode_event(const MessageView& message, Decoded& decoded);
    // A loss whose size the next sequence gap tells: one now, the rest then.
    void count_unsized_loss() noexcept;
    // A new module instance numbers from 1 again.
    void restart_sequence() noexcept;

    std::optional<FamilyInfo> family_;
    std::optional<std::uint64_t> last_seq_;
    std::optional<std::uint64_t> covered_through_;  // by the state dump of expect_after()
    bool unsized_loss_counted_ = false;              // one lost event counted ahead of its gap
    StreamCounters counters_;
};

// The "events" multicast group of the hpnotify family; ProtocolError when it has none.
std::uint32_t events_group_of(const FamilyInfo& family);

}  // namespace hpplace::kernel
