#pragma once

#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>

#include "kernel/event_channel.hpp"
#include "sources/hotplug_source.hpp"

namespace hpplace {

// The hpnotify netlink family as an event source: wraps kernel::EventChannel,
// whose decoder checks the sequence numbers and counts (counters()).
//   Event         -> on_event
//   Loss          -> on_loss (overrun, sequence gap, malformed message)
//   FamilyGone    -> on_gone (module unloaded)
class KernelSource final : public HotplugSource {
public:
    // Throws std::system_error(ENOENT) when the module is not loaded, other
    // std::system_errors when the socket cannot be set up (privileges).
    KernelSource(boost::asio::io_context& io, std::optional<int> receive_buffer_bytes = std::nullopt);
    ~KernelSource() override;

    EventSource kind() const noexcept override { return EventSource::kernel; }
    void start(SourceListener& listener) override;
    void stop() noexcept override;
    StreamCounters counters() const noexcept override { return channel_.counters(); }

    // nullptr when the module is not loaded (ENOENT); throws otherwise.
    static std::unique_ptr<HotplugSource> open_if_loaded(boost::asio::io_context& io,
                                                         std::optional<int> receive_buffer_bytes);

private:
    void receive();

    kernel::EventChannel channel_;
    SourceListener* listener_ = nullptr;
};

// kernel::FamilyWatcher (nlctrl "notify") behind the FamilyWatcher interface.
class KernelFamilyWatcher final : public FamilyWatcher {
public:
    explicit KernelFamilyWatcher(boost::asio::io_context& io);
    ~KernelFamilyWatcher() override;

    void start(FamilyWatcherListener& listener) override;
    void stop() noexcept override;

private:
    void wait();

    kernel::FamilyWatcher watcher_;
    FamilyWatcherListener* listener_ = nullptr;
};

}  // namespace hpplace
