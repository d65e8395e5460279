#pragma once

// Asynchronous hpnotify events on Boost.Asio.
//
// EventChannel: subscribes to the "events" group of the hpnotify family and to
// nlctrl's "notify" group (to see the module go and come back) on one netlink
// socket owned by a posix::stream_descriptor. Each async_receive completes with
// one Notification:
//
//   Event         a parsed hotplug event (core/event.hpp, source kernel)
//   Loss          events were lost: the receive buffer overran (ENOBUFS), the
//                 sequence numbers jumped or went back, or a message was
//                 malformed. The state is unknown: resync
//                 (KernelClient::request_state()) and call
//                 expect_after(state.last_seq). counters() says how many were
//                 received and lost, and how often the socket overran.
//   FamilyGone    the module was unloaded; the channel keeps waiting
//   FamilyBack    the module was loaded again; the channel has re-joined its
//                 events group, sequence numbers restart: resync
//
//     asio::io_context io;
//     kernel::EventChannel channel(io.get_executor(), {});
//     channel.expect_after(kernel::KernelClient().request_state().last_seq);
//     std::function<void(boost::system::error_code, kernel::Notification)> on_note;
//     on_note = [&](auto ec, kernel::Notification note) {
//         if (ec) { return; }                      // operation_aborted after cancel()
//         std::visit(..., note);
//         channel.async_receive(on_note);          // one receive outstanding at a time
//     };
//     channel.async_receive(on_note);
//     io.run();
//
// Options{.wait_for_module = true} starts without the module (the first
// notification is then FamilyBack) instead of throwing FamilyNotFound.
//
// Any completion token works (callbacks, use_future, use_awaitable). The
// handler never runs inside async_receive. As with Asio's own I/O objects,
// the channel must outlive the completion of its receive: cancel() or
// destruction completes a waiting receive with operation_aborted (a receive
// that already had its notification delivers it), and a handler that sees
// operation_aborted must not assume the channel is still there. Errors other
// than the notifications above are system errors of the socket.
//
// FamilyWatcher: the same nlctrl "notify" subscription alone, for code that
// waits for the module to appear (or vanish) without receiving events.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

#include "core/event.hpp"
#include "kernel/genl_socket.hpp"
#include "kernel/notification_decoder.hpp"
#include "kernel/protocol.hpp"

namespace hpplace::kernel {

namespace detail {

// The composed operation shared by EventChannel and FamilyWatcher: wait until
// the socket is readable, drain it into the owner's queue, complete with the
// first queued item. Never completes inside the initiating call.
//
// Lifetimes as Asio's own I/O objects have them: the owner outlives the
// completion of its operations. Cancelling or destroying the owner completes
// a waiting operation with operation_aborted, and the operation then touches
// nothing of the owner; an operation that already took its item (or error)
// out of the owner delivers it without touching the owner either.
template <typename Owner>
struct DrainOperation {
    Owner& owner;
    bool waiting = false;     // resumed by the descriptor's wait, not by the initiation
    bool completing = false;  // resumed by our own post: result and item are set
    boost::system::error_code result;
    typename Owner::Item item{};

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
        if (completing) {
            self.complete(result, std::move(item));
            return;
        }
        if (waiting && ec) {
            self.complete(ec, typename Owner::Item{});  // operation_aborted: the owner may be gone
            return;
        }
        if (take()) {
            if (waiting) {
                self.complete(result, std::move(item));
            } else {
                completing = true;
                boost::asio::post(owner.descriptor_.get_executor(), std::move(self));
            }
            return;
        }
        waiting = true;
        owner.descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read, std::move(self));
    }

    // The first queued item, or the socket's error: whether there is one.
    bool take() {
        if (owner.pending_.empty()) {
            result = owner.drain();
            if (result) {
                return true;
            }
        }
        if (owner.pending_.empty()) {
            return false;
        }
        item = std::move(owner.pending_.front());
        owner.pending_.pop_front();
        return true;
    }
};

}  // namespace detail

class EventChannel {
public:
    using Item = Notification;

    struct Options {
        // SO_RCVBUF for the events socket (small values provoke overruns in tests).
        std::optional<int> receive_buffer_bytes;
        // Start even when the module is not loaded (wait for FamilyBack)
        // instead of throwing the "module is not loaded" error.
        bool wait_for_module = false;
    };

    EventChannel(const boost::asio::any_io_executor& executor, const Options& options);

    template <typename CompletionToken>
    auto async_receive(CompletionToken&& token) {
        return boost::asio::async_compose<CompletionToken, void(boost::system::error_code, Notification)>(
            detail::DrainOperation<EventChannel>{*this, false, false, {}, {}}, token, descriptor_);
    }

    // Cancels the outstanding receive (it completes with operation_aborted).
    void cancel() { descriptor_.cancel(); }

    // The sequence number the next event should follow (after a resync).
    void expect_after(std::uint64_t last_seq) noexcept { decoder_.expect_after(last_seq); }
    bool module_loaded() const noexcept { return decoder_.family().has_value(); }
    const StreamCounters& counters() const noexcept { return decoder_.counters(); }
    const std::optional<FamilyInfo>& family() const noexcept { return decoder_.family(); }

private:
    template <typename>
    friend struct detail::DrainOperation;

    boost::system::error_code drain();

    boost::asio::posix::stream_descriptor descriptor_;
    NotificationDecoder decoder_;
    std::deque<Notification> pending_;
};

struct FamilyChange {
    enum class Kind { appeared, vanished };
    Kind kind = Kind::appeared;
    FamilyInfo family;
};

class FamilyWatcher {
public:
    using Item = FamilyChange;

    FamilyWatcher(const boost::asio::any_io_executor& executor, std::string family_name = "hpnotify");

    // Whether the family is registered now (as far as the notifications told).
    bool present() const noexcept { return family_.has_value(); }
    // Queues an `appeared` change for the family registered now, if it is, so
    // that the next wait reports it (asynchronously, as every change).
    void announce_present();
    const std::optional<FamilyInfo>& family() const noexcept { return family_; }

    template <typename CompletionToken>
    auto async_wait_change(CompletionToken&& token) {
        return boost::asio::async_compose<CompletionToken, void(boost::system::error_code, FamilyChange)>(
            detail::DrainOperation<FamilyWatcher>{*this, false, false, {}, {}}, token, descriptor_);
    }

    void cancel() { descriptor_.cancel(); }

private:
    template <typename>
    friend struct detail::DrainOperation;

    boost::system::error_code drain();
    void update(std::optional<FamilyInfo> now);

    std::string name_;
    boost::asio::posix::stream_descriptor descriptor_;
    std::optional<FamilyInfo> family_;
    std::deque<FamilyChange> pending_;
};

}  // namespace hpplace::kernel
