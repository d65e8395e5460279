#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "sources/hotplug_source.hpp"

struct udev;
struct udev_monitor;
struct udev_device;

namespace hpplace {

// One deleter for every libudev handle, for std::unique_ptr.
struct UdevDeleter {
    void operator()(udev* handle) const noexcept;
    void operator()(udev_monitor* handle) const noexcept;
    void operator()(udev_device* handle) const noexcept;
};
using UdevPtr = std::unique_ptr<udev, UdevDeleter>;
using UdevMonitorPtr = std::unique_ptr<udev_monitor, UdevDeleter>;
using UdevDevicePtr = std::unique_ptr<udev_device, UdevDeleter>;

struct UdevSourceOptions {
    // "kernel": raw kernel uevents (works without udevd, e.g. in an initramfs);
    // "udev": events after udevd processed them.
    bool kernel_uevents = true;
    // SO_RCVBUF of the monitor socket; 0 keeps libudev's default.
    int receive_buffer_bytes = 0;
    std::filesystem::path sysfs_root = "/sys";
};

// CPU and memory-block uevents from libudev (subsystems "cpu" and "memory"),
// translated by event_from_uevent(). Owns the monitor and its descriptor, and
// counts like the hpnotify decoder does: received, lost, overruns. uevent
// sequence numbers are shared by every subsystem and the monitor filters, so
// they show no gaps: each overrun is the loss of at least one event and its
// verdict (on_loss), nothing more exact.
class UdevSource final : public HotplugSource {
public:
    // Throws std::system_error when the monitor cannot be set up.
    UdevSource(boost::asio::io_context& io, UdevSourceOptions options = {});
    ~UdevSource() override;

    EventSource kind() const noexcept override { return EventSource::udev; }
    void start(SourceListener& listener) override;
    void stop() noexcept override;
    StreamCounters counters() const noexcept override { return counters_; }
    // Drops CPU and memory online/offline uevents before reading the device's
    // node from sysfs (a directory read per uevent, in a CPU storm).
    void set_memory_blocks_only(bool only) noexcept override { memory_blocks_only_ = only; }

private:
    void wait_readable();
    void drain();

    UdevSourceOptions options_;
    std::uint64_t memory_block_size_ = 0;
    UdevPtr udev_;
    UdevMonitorPtr monitor_;
    boost::asio::posix::stream_descriptor descriptor_;
    SourceListener* listener_ = nullptr;
    StreamCounters counters_;
    bool memory_blocks_only_ = false;
};

}  // namespace hpplace
