#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "core/file_descriptor.hpp"

namespace hpplace::testing {

// A sysfs or cgroup file the test plays the kernel for: a FIFO, whose open()
// waits for the other end, so a read or write of it waits as one waiting for a
// kernel lock (the CPU hotplug lock, a device lock) does, until the test serves
// it. Every wait of the test's is bounded.
class FifoFile {
public:
    explicit FifoFile(std::filesystem::path path) : path_(std::move(path)) {
        std::filesystem::remove(path_);
        REQUIRE(::mkfifo(path_.c_str(), 0600) == 0);
    }
    ~FifoFile() { release(); }
    FifoFile(const FifoFile&) = delete;
    FifoFile& operator=(const FifoFile&) = delete;

    // Until a thread of this process waits in openat(2), as one opening a FIFO
    // without a partner does (false after 5 s): the job has started.
    static bool wait_for_opener() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (std::chrono::steady_clock::now() < deadline) {
            for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
                std::ifstream in(task.path() / "syscall");
                long number = -1;
                if (in >> number && number == SYS_openat) {
                    return true;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return false;
    }

    // Gives `content` to the reader waiting in open(); false when none came in 5 s.
    bool serve_read(const std::string& content) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        FileDescriptor fd;
        while (!(fd = FileDescriptor(::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)))) {
            if (errno != ENXIO || std::chrono::steady_clock::now() > deadline) {
                return false;  // ENXIO: no reader yet
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
            return false;
        }
        // Closed once the reader has it all: a reader of serve_write() opened
        // after this returns must not take it.
        int unread = 0;
        while (::ioctl(fd.get(), FIONREAD, &unread) == 0 && unread > 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return unread == 0;
    }

    // What the writer waiting in open() writes, once it has closed; nullopt when none came in 5 s.
    std::optional<std::string> serve_write() {
        const FileDescriptor fd(::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        REQUIRE(fd);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        std::string got;
        bool written = false;
        while (std::chrono::steady_clock::now() < deadline) {
            // No POLLHUP before a writer has come: a reader that opened first waits.
            pollfd pfd{.fd = fd.get(), .events = POLLIN, .revents = 0};
            if (::poll(&pfd, 1, 10) <= 0) {
                continue;
            }
            char buffer[256];
            const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
            if (n > 0) {
                got.append(buffer, static_cast<std::size_t>(n));
                written = true;
            } else if (n == 0) {
                return written ? std::optional(got) : std::nullopt;
            }
        }
        return std::nullopt;
    }

    // Lets any waiting open() through and puts a plain file in the FIFO's
    // place, so that the daemon's thread can be joined whatever the test saw.
    void release() {
        if (released_ || !std::filesystem::exists(path_)) {
            return;
        }
        released_ = true;
        // Held until the end: a writer let through writes into the pipe, never into a closed one.
        reader_ = FileDescriptor(::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        const auto plain = path_.string() + ".plain";
        std::ofstream(plain) << "\n";
        std::filesystem::rename(plain, path_);
        if (reader_) {
            // A reader waiting in open() gets a writer, then end of file.
            const std::string self = "/proc/self/fd/" + std::to_string(reader_.get());
            const FileDescriptor writer(::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        }
    }

private:
    std::filesystem::path path_;
    bool released_ = false;
    FileDescriptor reader_;
};

}  // namespace hpplace::testing
