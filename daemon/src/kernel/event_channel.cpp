#include "kernel/event_channel.hpp"

#include <linux/genetlink.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iterator>

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
GenlSocket make_resolver() {
    return GenlSocket(SocketOptions{.receive_buffer_bytes = std::nullopt, .receive_timeout = resolve_timeout});
}

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

}  // namespace

// ---- EventChannel ----

EventChannel::EventChannel(const boost::asio::any_io_executor& executor, const Options& options)
    : descriptor_(executor), decoder_(std::nullopt) {
    GenlSocket socket(
        SocketOptions{.receive_buffer_bytes = options.receive_buffer_bytes, .receive_timeout = std::nullopt});
    GenlSocket resolver = make_resolver();
    // nlctrl first: a module loaded between the two steps still gets noticed.
    join_control_notify(socket, resolver);
    auto family = find_family(resolver, HPNOTIFY_FAMILY_NAME);
    if (!family && !options.wait_for_module) {
        throw FamilyNotFound(HPNOTIFY_FAMILY_NAME);
    }
    if (family) {
        socket.join_group(events_group_of(*family), "hpnotify events");
    }
    decoder_ = NotificationDecoder(std::move(family));
    descriptor_.assign(socket.release().release());
}

boost::system::error_code EventChannel::drain() {
    for (int i = 0; i < drain_batch; ++i) {
        try {
            const auto datagram = receive_datagram(descriptor_.native_handle(), false);
            if (!datagram) {
                return {};
            }
            auto decoded = decoder_.decode(*datagram);
            if (decoded.group_to_join) {
                join_group(descriptor_.native_handle(), *decoded.group_to_join, "hpnotify events");
            }
            std::move(decoded.notifications.begin(), decoded.notifications.end(), std::back_inserter(pending_));
        } catch (const ReceiveOverrun&) {
            pending_.push_back(decoder_.overrun());
        } catch (const ProtocolError& e) {
            pending_.push_back(decoder_.malformed(e.what()));
        } catch (const std::system_error& e) {
            return to_error_code(e);
        }
    }
    return {};
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

void FamilyWatcher::announce_present() {
    if (family_) {
        pending_.push_back(FamilyChange{FamilyChange::Kind::appeared, *family_});
    }
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
