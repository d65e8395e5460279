#include "kernel/genl_socket.hpp"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/system_error.hpp"
#include "hpnotify.h"

namespace hpplace::kernel {

namespace {

bool is_permission_error(int error) { return error == EPERM || error == EACCES; }

std::uint32_t seq_of(ByteView message) {
    nlmsghdr header;
    if (message.size() < sizeof header) {
        throw std::invalid_argument("netlink request shorter than its header");
    }
    std::memcpy(&header, message.data(), sizeof header);
    return header.nlmsg_seq;
}

void append_message(Bytes& out, const MessageView& message) {
    out.insert(out.end(), message.bytes.begin(), message.bytes.end());
    out.resize(NLMSG_ALIGN(out.size()), std::byte{0});
}

}  // namespace

ReceiveOverrun::ReceiveOverrun()
    : std::system_error(ENOBUFS, std::system_category(),
                        "netlink receive buffer overran, the kernel dropped messages") {}

FamilyNotFound::FamilyNotFound(std::string_view family_name)
    : std::system_error(ENOENT, std::system_category()),
      message_(family_name == HPNOTIFY_FAMILY_NAME
                   ? std::string(module_not_loaded_message())
                   : "generic netlink family \"" + std::string(family_name) + "\" not found") {}

std::string_view module_not_loaded_message() noexcept {
    return "the hpnotify kernel module is not loaded (generic netlink family \"hpnotify\" not found)";
}

GenlSocket::GenlSocket(const SocketOptions& options)
    : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)) {
    throw_system_error_on(!fd_, "cannot open a generic netlink socket");
    if (options.receive_buffer_bytes) {
        // SO_RCVBUFFORCE passes net.core.rmem_max when we may (CAP_NET_ADMIN);
        // otherwise SO_RCVBUF, which the kernel caps at rmem_max.
        const int bytes = *options.receive_buffer_bytes;
        if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0) {
            throw_system_error_on(::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) < 0,
                                  "cannot set the netlink receive buffer to " + std::to_string(bytes) + " bytes");
        }
    }
    if (options.receive_timeout) {
        const auto ms = options.receive_timeout->count();
        const timeval tv{.tv_sec = static_cast<time_t>(ms / 1000),
                         .tv_usec = static_cast<suseconds_t>(ms % 1000 * 1000)};
        throw_system_error_on(::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0,
                              "cannot set the netlink receive timeout");
    }
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    throw_system_error_on(::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0,
                          "cannot bind the generic netlink socket");
    socklen_t length = sizeof address;
    throw_system_error_on(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) < 0,
                          "cannot read the generic netlink socket's address");
    port_id_ = address.nl_pid;
}

void GenlSocket::send(ByteView message) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    const ssize_t sent = ::sendto(fd_.get(), message.data(), message.size(), 0,
                                  reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    throw_system_error_on(sent < 0, "cannot send a generic netlink request");
    if (static_cast<std::size_t>(sent) != message.size()) {
        throw std::system_error(EMSGSIZE, std::system_category(), "generic netlink request sent partly");
    }
}

std::optional<Bytes> receive_datagram(int fd, bool wait) {
    const int flags = wait ? 0 : MSG_DONTWAIT;
    // Peek at the size first: netlink is datagram based and a short buffer
    // would silently cut the message (MSG_TRUNC tells the real size).
    ssize_t size = 0;
    do {
        size = ::recv(fd, nullptr, 0, flags | MSG_PEEK | MSG_TRUNC);
    } while (size < 0 && errno == EINTR);
    if (size < 0) {
        if (errno == ENOBUFS) {
            throw ReceiveOverrun();
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return std::nullopt;
        }
        throw_errno("cannot receive from the generic netlink socket");
    }
    Bytes buffer(static_cast<std::size_t>(size));
    ssize_t received = 0;
    do {
        received = ::recv(fd, buffer.data(), buffer.size(), flags | MSG_TRUNC);
    } while (received < 0 && errno == EINTR);
    if (received < 0) {
        if (errno == ENOBUFS) {
            throw ReceiveOverrun();
        }
        throw_errno("cannot receive from the generic netlink socket");
    }
    if (static_cast<std::size_t>(received) > buffer.size()) {
        throw ProtocolError("netlink datagram of " + std::to_string(received) + " bytes truncated to " +
                            std::to_string(buffer.size()));
    }
    buffer.resize(static_cast<std::size_t>(received));
    return buffer;
}

Bytes GenlSocket::receive() {
    auto datagram = receive_datagram(fd_.get(), true);
    if (!datagram) {
        throw std::system_error(ETIMEDOUT, std::system_category(), "no answer from the kernel in time");
    }
    return std::move(*datagram);
}

std::optional<Bytes> GenlSocket::try_receive() { return receive_datagram(fd_.get(), false); }

void GenlSocket::join_group(std::uint32_t group, std::string_view what) { kernel::join_group(fd_.get(), group, what); }

void join_group(int fd, std::uint32_t group, std::string_view what) {
    const unsigned int id = group;
    if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &id, sizeof id) < 0) {
        const int error = errno;
        if (is_permission_error(error)) {
            throw_errno("joining the " + std::string(what) + " group needs CAP_NET_ADMIN", error);
        }
        throw_errno("cannot join the " + std::string(what) + " group (id " + std::to_string(group) + ")", error);
    }
}

void GenlSocket::leave_group(std::uint32_t group) noexcept {
    const unsigned int id = group;
    ::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &id, sizeof id);
}

Bytes GenlSocket::transact(ByteView request, bool dump) {
    const std::uint32_t seq = seq_of(request);
    send(request);
    Bytes reply;
    for (;;) {
        const Bytes datagram = receive();
        bool finished = false;
        for (const auto& message : split_messages(datagram)) {
            if (message.seq != seq) {
                continue;  // a late answer to an earlier request
            }
            append_message(reply, message);
            if (!dump || message.type == NLMSG_DONE || message.type == NLMSG_ERROR) {
                finished = true;
            }
        }
        if (finished) {
            return reply;
        }
    }
}

FamilyInfo GenlSocket::resolve_family(std::string_view name) {
    const Bytes reply = transact(build_get_family_request(name, next_seq()), false);
    try {
        return parse_control_message(reply).family;
    } catch (const std::system_error& e) {
        if (e.code().value() == ENOENT) {
            throw FamilyNotFound(name);
        }
        throw;
    }
}

KernelClient::KernelClient(std::chrono::milliseconds timeout)
    : socket_(SocketOptions{.receive_buffer_bytes = std::nullopt, .receive_timeout = timeout}),
      family_(socket_.resolve_family(HPNOTIFY_FAMILY_NAME)) {}

namespace {

template <typename F>
auto as_request(std::string_view what, F&& f) {
    try {
        return f();
    } catch (const std::system_error& e) {
        if (is_permission_error(e.code().value())) {
            throw std::system_error(e.code(), "hpnotify " + std::string(what) + " requests need CAP_NET_ADMIN");
        }
        if (e.code().value() == ETIMEDOUT || e.code().value() == EAGAIN) {
            throw std::system_error(e.code(),
                                    "the hpnotify module did not answer the " + std::string(what) + " request in time");
        }
        throw;
    }
}

}  // namespace

KernelState KernelClient::request_state() {
    constexpr int attempts = 10;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        try {
            return as_request("state", [&] {
                return parse_state_messages(
                    socket_.transact(build_get_state_request(family_.id, socket_.next_seq()), true));
            });
        } catch (const DumpInterrupted&) {
            continue;  // raced with a hotplug event: ask again
        }
    }
    throw ProtocolError("the hpnotify state dump was interrupted " + std::to_string(attempts) +
                        " times in a row (NLM_F_DUMP_INTR)");
}

KernelStats KernelClient::request_stats() {
    return as_request("stats", [&] {
        return parse_stats(socket_.transact(build_get_stats_request(family_.id, socket_.next_seq()), false));
    });
}

}  // namespace hpplace::kernel
