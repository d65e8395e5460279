#include "sources/udev_source.hpp"

#include <libudev.h>
#include <time.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "core/system_error.hpp"
#include "sources/uevent.hpp"

namespace hpplace {

void UdevDeleter::operator()(udev* handle) const noexcept {
    udev_unref(handle);
}

void UdevDeleter::operator()(udev_monitor* handle) const noexcept {
    udev_monitor_unref(handle);
}

void UdevDeleter::operator()(udev_device* handle) const noexcept {
    udev_device_unref(handle);
}

namespace {

std::uint64_t boottime_ns() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_BOOTTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec);
}

// 0 when the machine has no memory block devices (no memory hotplug).
std::uint64_t read_memory_block_size(const std::filesystem::path& sysfs_root) {
    std::ifstream in(sysfs_root / "devices/system/memory/block_size_bytes");
    if (!in) {
        return 0;
    }
    std::stringstream text;
    text << in.rdbuf();
    try {
        return parse_memory_block_size(text.str());
    } catch (const std::invalid_argument&) {
        return 0;
    }
}

// The device's nodeN link (cpu2/node1, memory42/node1), when it has one.
std::optional<unsigned> node_of_device(const char* syspath) {
    if (syspath == nullptr) {
        return std::nullopt;
    }
    std::error_code error;
    for (std::filesystem::directory_iterator it(syspath, error), end; !error && it != end; it.increment(error)) {
        if (const auto node = sysname_number(it->path().filename().string(), "node")) {
            return node;
        }
    }
    return std::nullopt;
}

std::string text_of(const char* text) {
    return text != nullptr ? std::string(text) : std::string();
}

}  // namespace

UdevSource::UdevSource(boost::asio::io_context& io, UdevSourceOptions options)
    : options_(std::move(options))
    , memory_block_size_(read_memory_block_size(options_.sysfs_root))
    , udev_(udev_new())
    , descriptor_(io) {
    throw_system_error_on(!udev_, "udev_new");
    monitor_.reset(udev_monitor_new_from_netlink(udev_.get(), options_.kernel_uevents ? "kernel" : "udev"));
    throw_system_error_on(!monitor_, "udev_monitor_new_from_netlink");
    for (const char* subsystem : {"cpu", "memory"}) {
        const int rc = udev_monitor_filter_add_match_subsystem_devtype(monitor_.get(), subsystem, nullptr);
        throw_system_error_on(rc < 0, "udev_monitor_filter_add_match_subsystem_devtype", -rc);
    }
    if (options_.receive_buffer_bytes > 0) {
        const int rc = udev_monitor_set_receive_buffer_size(monitor_.get(), options_.receive_buffer_bytes);
        throw_system_error_on(rc < 0, "udev_monitor_set_receive_buffer_size", -rc);
    }
    const int rc = udev_monitor_enable_receiving(monitor_.get());
    throw_system_error_on(rc < 0, "udev_monitor_enable_receiving", -rc);
    descriptor_.assign(udev_monitor_get_fd(monitor_.get()));
}

UdevSource::~UdevSource() {
    stop();
    // The monitor owns the socket: take it back from Asio before unref closes it.
    descriptor_.release();
}

void UdevSource::start(SourceListener& listener) {
    listener_ = &listener;
    wait_readable();
}

void UdevSource::stop() noexcept {
    listener_ = nullptr;
    boost::system::error_code ignored;
    descriptor_.cancel(ignored);
}

void UdevSource::wait_readable() {
    descriptor_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](boost::system::error_code error) {
        if (error == boost::asio::error::operation_aborted || listener_ == nullptr) {
            return;
        }
        if (error) {
            listener_->on_gone("udev monitor: " + error.message());
            return;
        }
        drain();
        if (listener_ != nullptr) {
            wait_readable();
        }
    });
}

// Reads every uevent queued on the socket (it is non-blocking), so that a
// burst reaches the daemon in one go and is planned once.
void UdevSource::drain() {
    for (;;) {
        errno = 0;
        UdevDevicePtr device(udev_monitor_receive_device(monitor_.get()));
        if (!device) {
            const int error = errno;
            if (error == ENOBUFS) {
                ++counters_.overruns;
                ++counters_.lost;
                listener_->on_loss("udev monitor: receive buffer overrun (ENOBUFS)");
                if (listener_ == nullptr) {
                    return;
                }
                continue;
            }
            if (error == EINTR) {
                continue;
            }
            // EAGAIN: the socket is empty. Anything else is reported on the
            // next wakeup by the descriptor wait, if it persists.
            return;
        }
        std::string action = text_of(udev_device_get_action(device.get()));
        std::string subsystem = text_of(udev_device_get_subsystem(device.get()));
        if (!uevent_wanted(subsystem, action, memory_blocks_only_)) {
            continue;
        }
        Uevent uevent{
            .action = std::move(action),
            .subsystem = std::move(subsystem),
            .sysname = text_of(udev_device_get_sysname(device.get())),
            .seqnum = udev_device_get_seqnum(device.get()),
            .node = node_of_device(udev_device_get_syspath(device.get())),
        };
        if (const auto event = event_from_uevent(uevent, memory_block_size_, boottime_ns())) {
            ++counters_.received;
            listener_->on_event(*event);
            if (listener_ == nullptr) {
                return;  // stopped from inside the listener
            }
        }
    }
}

}  // namespace hpplace
