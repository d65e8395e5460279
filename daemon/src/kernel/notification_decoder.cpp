#include "kernel/notification_decoder.hpp"

#include <linux/genetlink.h>

#include <utility>

#include "hpnotify.h"

namespace hpplace::kernel {

std::uint32_t events_group_of(const FamilyInfo& family) {
    const auto group = family.group(HPNOTIFY_MCGRP_EVENTS);
    if (!group) {
        throw ProtocolError("the hpnotify family has no \"" HPNOTIFY_MCGRP_EVENTS "\" multicast group");
    }
    return *group;
}

void NotificationDecoder::count_unsized_loss() noexcept {
    if (!std::exchange(unsized_loss_counted_, true)) {
        ++counters_.lost;
    }
}

void NotificationDecoder::restart_sequence() noexcept {
    last_seq_.reset();
    covered_through_.reset();
    unsized_loss_counted_ = false;
}

Loss NotificationDecoder::overrun() {
    ++counters_.overruns;
    count_unsized_loss();
    return Loss{.cause = Loss::Cause::overrun,
                .first_lost = 0,
                .last_lost = 0,
                .detail = "the receive buffer overran, the kernel dropped events"};
}

Loss NotificationDecoder::malformed(std::string detail) {
    count_unsized_loss();
    return Loss{.cause = Loss::Cause::malformed, .first_lost = 0, .last_lost = 0, .detail = std::move(detail)};
}

NotificationDecoder::Decoded NotificationDecoder::decode(ByteView datagram) {
    Decoded decoded;
    std::vector<MessageView> messages;
    try {
        messages = split_messages(datagram);
    } catch (const ProtocolError& e) {
        decoded.notifications.push_back(malformed(e.what()));
        return decoded;
    }
    for (const auto& message : messages) {
        if (message.type == GENL_ID_CTRL) {
            decode_control(message, decoded);
        } else if (family_ && message.type == family_->id) {
            decode_event(message, decoded);
        }
    }
    return decoded;
}

void NotificationDecoder::decode_control(const MessageView& message, Decoded& decoded) {
    ControlMessage control;
    try {
        control = parse_control_message(message.bytes);
    } catch (const std::exception&) {
        return;  // nlctrl news we cannot read are about someone else's family
    }
    if (control.family.name != HPNOTIFY_FAMILY_NAME) {
        return;
    }
    if (control.command == CTRL_CMD_DELFAMILY) {
        if (family_) {
            family_.reset();
            restart_sequence();
            decoded.notifications.push_back(FamilyGone{});
        }
    } else if (control.command == CTRL_CMD_NEWFAMILY) {
        if (family_ && family_->id == control.family.id) {
            return;  // already subscribed
        }
        if (family_) {
            decoded.notifications.push_back(FamilyGone{});  // its removal went unseen
        }
        const auto group = control.family.group(HPNOTIFY_MCGRP_EVENTS);
        if (!group) {
            decoded.notifications.push_back(
                Loss{.cause = Loss::Cause::malformed,
                     .first_lost = 0,
                     .last_lost = 0,
                     .detail = "the hpnotify family has no \"" HPNOTIFY_MCGRP_EVENTS "\" multicast group"});
            family_.reset();
            return;
        }
        decoded.group_to_join = *group;
        family_ = control.family;
        restart_sequence();
        decoded.notifications.push_back(FamilyBack{control.family});
    }
}

void NotificationDecoder::decode_event(const MessageView& message, Decoded& decoded) {
    Event event;
    try {
        event = parse_event(message.bytes);
    } catch (const std::exception& e) {  // ProtocolError, or an NLMSG_ERROR's system_error
        decoded.notifications.push_back(malformed(e.what()));
        return;
    }
    ++counters_.received;
    if (covered_through_) {
        if (event.seq <= *covered_through_) {
            // Queued before the state dump that covers it: neither news nor a loss.
            decoded.notifications.push_back(std::move(event));
            return;
        }
        covered_through_.reset();  // the socket is past what the dump covered
    }
    const SequenceCheck check = check_sequence(last_seq_, event.seq);
    last_seq_ = event.seq;
    counters_.last_seq = event.seq;
    // Only a gap can tell how many an overrun or a malformed message took.
    const bool counted_ahead = std::exchange(unsized_loss_counted_, false);
    if (check.kind == SequenceCheck::Kind::gap) {
        counters_.lost += check.lost() - (counted_ahead ? 1 : 0);
        decoded.notifications.push_back(Loss{
            .cause = Loss::Cause::gap,
            .first_lost = check.first_lost,
            .last_lost = check.last_lost,
            .detail = "sequence gap: " +
                      (check.lost() == 1 ? "1 event lost (seq " + std::to_string(check.first_lost) + ")"
                                         : std::to_string(check.lost()) + " events lost (seq " +
                                               std::to_string(check.first_lost) + ".." +
                                               std::to_string(check.last_lost) + ")"),
        });
    } else if (check.kind == SequenceCheck::Kind::backwards) {
        decoded.notifications.push_back(Loss{
            .cause = Loss::Cause::rewound,
            .first_lost = 0,
            .last_lost = 0,
            .detail = "sequence went back to " + std::to_string(event.seq) + " (module reloaded unseen?)",
        });
    }
    decoded.notifications.push_back(std::move(event));
}

}  // namespace hpplace::kernel
