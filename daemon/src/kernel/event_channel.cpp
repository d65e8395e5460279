#include "kernel/event_channel.hpp"

#include <linux/genetlink.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "hpnotify.h"

namespace hpplace::kernel {

namespace {

// At most this many datagrams per drain, so one busy socket cannot starve the loop.
constexpr int drain_batch = 256;

constexpr std::chrono::seconds resolve_timeout{5};

boost::system::error_code to_error_code(const std::system_error& e) {
    return {e.code().value(), boost::system::system_category()};
}

// A short-lived request socket: nlctrl answers never mix with multicasts.
GenlSocket make_resolver() { return GenlSocket(SocketOptions{.receive_buffer_bytes = std::nullopt, .receive_timeout = resolve_timeout}); }

std::optional<FamilyInfo> find_family(GenlSocket& resolver, std::string_view name) {
    try {
        return resolver.resolve_family(name);
    } catch (const std::system_error& e) {
        if (e.code().value() == ENOENT) {
            return std::nullopt;
        }
        throw;
    }
}

void join_control_notify(GenlSocket& socket, GenlSocket& resolver) {
    const FamilyInfo control = resolver.resolve_family("nlctrl");
    const auto notify = control.group("notify");
    if (!notify) {
        throw ProtocolError("nlctrl has no \"notify\" multicast group");
    }
    socket.join_group(*notify, "nlctrl notify");
}

std::uint32_t events_group_of(const FamilyInfo& family) {
    const auto group = family.group(HPNOTIFY_MCGRP_EVENTS);
    if (!group) {
        throw ProtocolError("the hpnotify family has no \"" HPNOTIFY_MCGRP_EVENTS "\" multicast group");
    }
    return *group;
}

}  // namespace

// ---- EventChannel ----

EventChannel::EventChannel(const boost::asio::any_io_executor& executor, const Options& options)
    : descriptor_(executor) {
    GenlSocket socket(SocketOptions{.receive_buffer_bytes = options.receive_buffer_bytes, .receive_timeout = std::nullopt});
    GenlSocket resolver = make_resolver();
    // nlctrl first: a module loaded between the two steps still gets noticed.
    join_control_notify(socket, resolver);
    family_ = find_family(resolver, HPNOTIFY_FAMILY_NAME);
    if (!family_ && !options.wait_for_module) {
        throw std::system_error(ENOENT, std::system_category(), std::string(module_not_loaded_message()));
    }
    if (family_) {
        socket.join_group(events_group_of(*family_), "hpnotify events");
    }
    descriptor_.assign(socket.release().release());
}

boost::system::error_code EventChannel::drain() {
    for (int i = 0; i < drain_batch; ++i) {
        try {
            const auto datagram = receive_datagram(descriptor_.native_handle(), false);
            if (!datagram) {
                return {};
            }
            handle_datagram(*datagram);
        } catch (const ReceiveOverrun&) {
            pending_.push_back(Loss{.cause = Loss::Cause::overrun,
                                    .first_lost = 0,
                                    .last_lost = 0,
                                    .detail = "the receive buffer overran, the kernel dropped events"});
        } catch (const ProtocolError& e) {
            pending_.push_back(Loss{.cause = Loss::Cause::malformed, .first_lost = 0, .last_lost = 0, .detail = e.what()});
        } catch (const std::system_error& e) {
            return to_error_code(e);
        }
    }
    return {};
}

void EventChannel::handle_datagram(const Bytes& datagram) {
    for (const auto& message : split_messages(datagram)) {
        if (message.type == GENL_ID_CTRL) {
            handle_control(message);
        } else if (family_ && message.type == family_->id) {
            handle_event(message);
        }
    }
}

void EventChannel::handle_control(const MessageView& message) {
    ControlMessage control;
    try {
        control = parse_control_message(message.bytes);
    } catch (const ProtocolError&) {
        return;  // nlctrl news we cannot read is about someone else's family
    }
    if (control.family.name != HPNOTIFY_FAMILY_NAME) {
        return;
    }
    if (control.command == CTRL_CMD_DELFAMILY) {
        if (family_) {
            family_.reset();
            last_seq_.reset();
            pending_.push_back(FamilyGone{});
        }
    } else if (control.command == CTRL_CMD_NEWFAMILY) {
        if (!family_ || family_->id != control.family.id) {
            join_events(control.family);
            family_ = control.family;
            last_seq_.reset();  // a new module instance numbers from 1 again
            pending_.push_back(FamilyBack{control.family});
        }
    }
}

void EventChannel::join_events(const FamilyInfo& family) {
    join_group(descriptor_.native_handle(), events_group_of(family), "hpnotify events");
}

void EventChannel::handle_event(const MessageView& message) {
    Event event;
    try {
        event = parse_event(message.bytes);
    } catch (const ProtocolError& e) {
        pending_.push_back(Loss{.cause = Loss::Cause::malformed, .first_lost = 0, .last_lost = 0, .detail = e.what()});
        return;
    }
    const SequenceCheck check = check_sequence(last_seq_, event.seq);
    if (check.kind == SequenceCheck::Kind::gap) {
        pending_.push_back(Loss{
            .cause = Loss::Cause::gap,
            .first_lost = check.first_lost,
            .last_lost = check.last_lost,
            .detail = std::to_string(check.lost()) + " events lost (seq " + std::to_string(check.first_lost) +
                      (check.lost() > 1 ? ".." + std::to_string(check.last_lost) : std::string()) + ")",
        });
    }
    last_seq_ = last_seq_ ? std::max(*last_seq_, event.seq) : event.seq;
    pending_.push_back(std::move(event));
}

// ---- FamilyWatcher ----

FamilyWatcher::FamilyWatcher(const boost::asio::any_io_executor& executor, std::string family_name)
    : name_(std::move(family_name)), descriptor_(executor) {
    GenlSocket socket;
    GenlSocket resolver = make_resolver();
    join_control_notify(socket, resolver);
    family_ = find_family(resolver, name_);
    descriptor_.assign(socket.release().release());
}

void FamilyWatcher::update(std::optional<FamilyInfo> now) {
    const bool changed_id = family_ && now && family_->id != now->id;
    if (family_ && (!now || changed_id)) {
        pending_.push_back(FamilyChange{FamilyChange::Kind::vanished, *family_});
    }
    if (now && (!family_ || changed_id)) {
        pending_.push_back(FamilyChange{FamilyChange::Kind::appeared, *now});
    }
    family_ = std::move(now);
}

boost::system::error_code FamilyWatcher::drain() {
    for (int i = 0; i < drain_batch; ++i) {
        try {
            const auto datagram = receive_datagram(descriptor_.native_handle(), false);
            if (!datagram) {
                return {};
            }
            for (const auto& message : split_messages(*datagram)) {
                if (message.type != GENL_ID_CTRL) {
                    continue;
                }
                ControlMessage control;
                try {
                    control = parse_control_message(message.bytes);
                } catch (const ProtocolError&) {
                    continue;
                }
                if (control.family.name != name_) {
                    continue;
                }
                if (control.command == CTRL_CMD_DELFAMILY) {
                    update(std::nullopt);
                } else if (control.command == CTRL_CMD_NEWFAMILY) {
                    update(control.family);
                }
            }
        } catch (const ReceiveOverrun&) {
            // Notifications were dropped: ask nlctrl how things stand now.
            try {
                GenlSocket resolver = make_resolver();
                update(find_family(resolver, name_));
            } catch (const std::system_error& e) {
                return to_error_code(e);
            }
        } catch (const ProtocolError&) {
            continue;  // an unreadable datagram: nlctrl news are re-read on the next one
        } catch (const std::system_error& e) {
            return to_error_code(e);
        }
    }
    return {};
}

}  // namespace hpplace::kernel
