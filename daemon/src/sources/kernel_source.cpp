#include "sources/kernel_source.hpp"

#include <cerrno>
#include <system_error>
#include <type_traits>
#include <variant>

#include <boost/asio/error.hpp>

namespace hpplace {

KernelSource::KernelSource(boost::asio::io_context& io, std::optional<int> receive_buffer_bytes)
    : channel_(io.get_executor(), kernel::EventChannel::Options{.receive_buffer_bytes = receive_buffer_bytes,
                                                                .wait_for_module = false}) {}

KernelSource::~KernelSource() {
    stop();
}

std::unique_ptr<HotplugSource> KernelSource::open_if_loaded(boost::asio::io_context& io,
                                                            std::optional<int> receive_buffer_bytes) {
    try {
        return std::make_unique<KernelSource>(io, receive_buffer_bytes);
    } catch (const std::system_error& error) {
        if (error.code().value() == ENOENT) {
            return nullptr;
        }
        throw;
    }
}

void KernelSource::start(SourceListener& listener) {
    listener_ = &listener;
    receive();
}

void KernelSource::stop() noexcept {
    listener_ = nullptr;
    try {
        channel_.cancel();
    } catch (const std::exception&) {
        // Nothing outstanding to cancel.
    }
}

void KernelSource::receive() {
    channel_.async_receive([this](boost::system::error_code error, kernel::Notification note) {
        // operation_aborted: stop() or the destructor cancelled it; *this may be gone.
        if (error == boost::asio::error::operation_aborted || listener_ == nullptr) {
            return;
        }
        if (error) {
            listener_->on_gone("hpnotify socket: " + error.message());
            return;
        }
        std::visit(
            [this](auto& item) {
                using Item = std::decay_t<decltype(item)>;
                if constexpr (std::is_same_v<Item, Event>) {
                    listener_->on_event(item);
                } else if constexpr (std::is_same_v<Item, kernel::Loss>) {
                    listener_->on_loss("hpnotify: " + item.detail);
                } else if constexpr (std::is_same_v<Item, kernel::FamilyGone>) {
                    listener_->on_gone("hpnotify module unloaded");
                } else {
                    // FamilyBack: only reached if the owner kept us across an
                    // unload; a new module instance: let the owner resync.
                    listener_->on_loss("hpnotify module loaded again");
                }
            },
            note);
        if (listener_ != nullptr) {
            receive();
        }
    });
}

KernelFamilyWatcher::KernelFamilyWatcher(boost::asio::io_context& io) : watcher_(io.get_executor()) {}

KernelFamilyWatcher::~KernelFamilyWatcher() {
    stop();
}

void KernelFamilyWatcher::start(FamilyWatcherListener& listener) {
    listener_ = &listener;
    // Loaded between the owner's first look and our subscription: say so (the
    // owner ignores it when it already uses the family).
    watcher_.announce_present();
    wait();
}

void KernelFamilyWatcher::stop() noexcept {
    listener_ = nullptr;
    try {
        watcher_.cancel();
    } catch (const std::exception&) {
        // Nothing outstanding to cancel.
    }
}

void KernelFamilyWatcher::wait() {
    watcher_.async_wait_change([this](boost::system::error_code error, kernel::FamilyChange change) {
        // operation_aborted: stop() or the destructor cancelled it; *this may be gone.
        if (error == boost::asio::error::operation_aborted || listener_ == nullptr || error) {
            return;
        }
        if (change.kind == kernel::FamilyChange::Kind::appeared) {
            listener_->on_family_appeared();
        } else {
            listener_->on_family_vanished();
        }
        if (listener_ != nullptr) {
            wait();
        }
    });
}

}  // namespace hpplace
