#include "kernel/notification_decoder.hpp"

#include <linux/genetlink.h>

#include <algorithm>

#include "hpnotify.h"

namespace hpplace::kernel {

std::uint32_t events_group_of(const FamilyInfo& family) {
    const auto group = family.group(HPNOTIFY_MCGRP_EVENTS);
    if (!group) {
        throw ProtocolError("the hpnotify family has no \"" HPNOTIFY_MCGRP_EVENTS "\" multicast group");
    }
    return *group;
}

Loss NotificationDecoder::overrun() const {
    return Loss{.cause = Loss::Cause::overrun,
                .first_lost = 0,
                .last_lost = 0,
                .detail = "the receive buffer overran, the kernel dropped events"};
}

NotificationDecoder::Decoded NotificationDecoder::decode(ByteView datagram) {
    Decoded decoded;
    std::vector<MessageView> messages;
    try {
        messages = split_messages(datagram);
    } catch (const ProtocolError& e) {
        decoded.notifications.push_back(
            Loss{.cause = Loss::Cause::malformed, .first_lost = 0, .last_lost = 0, .detail = e.what()});
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
            last_seq_.reset();
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
        last_seq_.reset();  // a new module instance numbers from 1 again
        decoded.notifications.push_back(FamilyBack{control.family});
    }
}

void NotificationDecoder::decode_event(const MessageView& message, Decoded& decoded) {
    Event event;
    try {
        event = parse_event(message.bytes);
    } catch (const std::exception& e) {  // ProtocolError, or an NLMSG_ERROR's system_error
        decoded.notifications.push_back(
            Loss{.cause = Loss::Cause::malformed, .first_lost = 0, .last_lost = 0, .detail = e.what()});
        return;
    }
    const SequenceCheck check = check_sequence(last_seq_, event.seq);
    if (check.kind == SequenceCheck::Kind::gap) {
        decoded.notifications.push_back(Loss{
            .cause = Loss::Cause::gap,
            .first_lost = check.first_lost,
            .last_lost = check.last_lost,
            .detail = check.lost() == 1
                          ? "1 event lost (seq " + std::to_string(check.first_lost) + ")"
                          : std::to_string(check.lost()) + " events lost (seq " + std::to_string(check.first_lost) +
                                ".." + std::to_string(check.last_lost) + ")",
        });
    }
    last_seq_ = last_seq_ ? std::max(*last_seq_, event.seq) : event.seq;
    decoded.notifications.push_back(std::move(event));
}

}  // namespace hpplace::kernel
