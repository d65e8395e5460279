#pragma once

// Blocking generic netlink sockets for the hpnotify family:
//
//   GenlSocket        a NETLINK_GENERIC socket (RAII), send/receive datagrams,
//                     join multicast groups, resolve families through nlctrl.
//   KernelClient      the request side: request_state() and request_stats().
//
// Errors are std::system_error with a one-line text meant for a human:
// a missing module reads "the hpnotify kernel module is not loaded (generic
// netlink family "hpnotify" not found)", missing privileges "... needs
// CAP_NET_ADMIN". A receive buffer overrun (ENOBUFS) is ReceiveOverrun.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "core/file_descriptor.hpp"
#include "kernel/protocol.hpp"

namespace hpplace::kernel {

// The socket's receive buffer overflowed: the kernel dropped messages.
class ReceiveOverrun : public std::system_error {
public:
    ReceiveOverrun();
};

// A generic netlink family is not registered (for hpnotify: the module is
// not loaded). code() is ENOENT; what() is the one-line reason alone.
class FamilyNotFound : public std::system_error {
public:
    explicit FamilyNotFound(std::string_view family_name);
    const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

struct SocketOptions {
    // SO_RCVBUF in bytes (the kernel doubles it; beyond net.core.rmem_max only
    // with CAP_NET_ADMIN); unset keeps the default.
    std::optional<int> receive_buffer_bytes;
    // SO_RCVTIMEO for blocking receives; unset blocks forever.
    std::optional<std::chrono::milliseconds> receive_timeout;
};

class GenlSocket {
public:
    explicit GenlSocket(const SocketOptions& options = {});

    int fd() const noexcept { return fd_.get(); }
    std::uint32_t port_id() const noexcept { return port_id_; }
    std::uint32_t next_seq() noexcept { return ++seq_; }

    void send(ByteView message);
    // Waits for one datagram (honours SO_RCVTIMEO). Throws ReceiveOverrun on
    // ENOBUFS, ProtocolError when the datagram was larger than the buffer.
    Bytes receive();
    // Non-blocking: nullopt when nothing is queued.
    std::optional<Bytes> try_receive();

    // NETLINK_ADD_MEMBERSHIP; `what` names the group in errors.
    void join_group(std::uint32_t group, std::string_view what);
    void leave_group(std::uint32_t group) noexcept;

    // Asks nlctrl about a family. Throws std::system_error(ENOENT) with a
    // clear text when it is not registered.
    FamilyInfo resolve_family(std::string_view name);

    // Sends a request and collects the reply datagrams up to the end of a
    // dump or the single answer, skipping messages of other sequence numbers.
    Bytes transact(ByteView request, bool dump);

    // Hands the descriptor over (to an asio stream_descriptor).
    FileDescriptor release() noexcept { return std::move(fd_); }

private:
    FileDescriptor fd_;
    std::uint32_t port_id_ = 0;
    std::uint32_t seq_ = 0;
};

// The same on any netlink descriptor (an asio descriptor's native_handle()):
// one datagram, nullopt when `wait` is false and nothing is queued.
std::optional<Bytes> receive_datagram(int fd, bool wait);
void join_group(int fd, std::uint32_t group, std::string_view what);

// The text of "family not found" for the hpnotify family.
std::string_view module_not_loaded_message() noexcept;

// Requests to the module, on a socket of its own (never the events socket, so
// replies and multicasts do not mix).
class KernelClient {
public:
    explicit KernelClient(std::chrono::milliseconds timeout = std::chrono::seconds(5));

    const FamilyInfo& family() const noexcept { return family_; }
    // The state dump, retried while the kernel flags it NLM_F_DUMP_INTR.
    KernelState request_state();
    KernelStats request_stats();

private:
    GenlSocket socket_;
    FamilyInfo family_;
};

}  // namespace hpplace::kernel
