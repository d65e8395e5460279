// hpvm-bench-probe: the guest side of `make bench-vm` (bench/vm/bench_vm.py). Static, and written against
// the uapi header alone (common/hpnotify.h): it has its own hpnotify socket on the events group, its own
// kernel uevent socket and an inotify watch, and stamps what each of them delivers with CLOCK_BOOTTIME,
// the clock of the module's event timestamps. Every wait has a limit; a wait that gives up fails the
// command (exit 1) with what was seen. Output is "key=value ..." lines on stdout, all times in ns.
//
//   hpvm-bench-probe now
//       CLOCK_BOOTTIME.
//   hpvm-bench-probe toggles CPU ROUNDS CPUSET_FILE
//       ROUNDS times: cpuCPU offline, then online, written by this process. Per write, once the module's
//       event (cpu_offline / cpu_online), the kernel's uevent (offline / online) and a write of
//       CPUSET_FILE that drops / adds the CPU have all arrived, one line:
//         toggle=offline start= return= event= event_rx= event_wake= uevent_rx= uevent_wake= cpuset=
//       (event: the module's timestamp; *_rx: when this process read it; *_wake: the number of the wakeup
//       that read it, equal numbers arrived together; cpuset: when the inotify IN_MODIFY was read).
//   hpvm-bench-probe answer SOCKET BASELINE_SOCKET
//       The baseline for the daemon's `status` latency: takes one `status` answer from the daemon at SOCKET,
//       then serves that same line to every connection on BASELINE_SOCKET (one thread, epoll, a line in, the
//       answer out, close) until killed; prints "listening" on stderr once it accepts. What the guest does
//       to every process (a CPU going offline stops the machine; one CPU left for everyone) shows in it as
//       it shows in the daemon; what is the daemon's own does not.
//   hpvm-bench-probe status COUNT SOCKET BASELINE_SOCKET INTERVAL_MS
//       COUNT times, one every INTERVAL_MS: a `status` request to the daemon and the same to the baseline
//       (taking turns at going first), each on a new connection:
//         status=<ns from connect to the answer's end> baseline=<the same for the baseline>
//   hpvm-bench-probe storm CPU TOGGLES SOCKET BASELINE_SOCKET INTERVAL_MS
//       One thread writes cpuCPU offline and online TOGGLES times in all, as fast as the kernel takes it,
//       while `status` requests are timed as above until it is done; then
//         storm_toggles= storm_failed= storm_ns=
//   hpvm-bench-probe hotadd CPU SERVICE_PID
//       Waits (started before the vCPU's device_add) for the module's cpu_arrived of CPU, then for a
//       thread of SERVICE_PID named worker* allowed on CPU alone that has run there (/proc, polled every
//       millisecond from cpu_arrived on); prints "listening" on stderr once subscribed, then
//         arrived= add_start= online= uevent_online_rx= worker= worker_tid=
//   hpvm-bench-probe rest PID SECONDS
//       PID's context switches (every thread's voluntary + nonvoluntary, /proc/PID/task/*/status), CPU
//       time (utime + stime of /proc/PID/stat) over SECONDS, and its VmRSS at the end:
//         rest_ns= voluntary= involuntary= cpu_ticks= clk_tck= rss_kb= threads=
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "hpnotify.h"

namespace {

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t seconds = 1000 * ms;
// Generous: a toggle or a hot-add under TCG on a loaded 2-core host takes well under a second.
constexpr std::int64_t wait_limit = 60 * seconds;

[[noreturn]] void fail_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

std::int64_t now() {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return std::int64_t{ts.tv_sec} * seconds + ts.tv_nsec;
}

void sleep_until(std::int64_t when) {
    const timespec ts{static_cast<time_t>(when / seconds), static_cast<long>(when % seconds)};
    while (::clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

class Fd {
public:
    explicit Fd(int fd, const std::string& what) : fd_(fd) {
        if (fd_ < 0) {
            fail_errno(what);
        }
    }
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd& operator=(Fd&&) = delete;
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

// ---- the three sources ---------------------------------------------------------------------------------

struct Nlattr {
    std::uint16_t type;
    const unsigned char* data;
    std::size_t size;
};

std::vector<Nlattr> attributes(const unsigned char* data, std::size_t size) {
    std::vector<Nlattr> out;
    while (size >= NLA_HDRLEN) {
        nlattr header{};
        std::memcpy(&header, data, sizeof(header));
        if (header.nla_len < NLA_HDRLEN || header.nla_len > size) {
            break;
        }
        out.push_back({static_cast<std::uint16_t>(header.nla_type & NLA_TYPE_MASK), data + NLA_HDRLEN,
                       std::size_t{header.nla_len} - NLA_HDRLEN});
        const std::size_t step = std::min<std::size_t>(NLA_ALIGN(header.nla_len), size);
        data += step;
        size -= step;
    }
    return out;
}

template <typename T>
T value_of(const Nlattr& attribute) {
    T value{};
    std::memcpy(&value, attribute.data, std::min(sizeof(T), attribute.size));
    return value;
}

struct HpEvent {
    std::uint64_t seq = 0;
    std::int64_t time_ns = 0;
    std::uint32_t type = 0;
    std::optional<std::uint32_t> cpu;
};

const char* type_name(std::uint32_t type) {
    switch (type) {
        case HPNOTIFY_EVENT_CPU_ARRIVED: return "cpu_arrived";
        case HPNOTIFY_EVENT_CPU_ADD_START: return "cpu_add_start";
        case HPNOTIFY_EVENT_CPU_ONLINE: return "cpu_online";
        case HPNOTIFY_EVENT_CPU_ADD_FAILED: return "cpu_add_failed";
        case HPNOTIFY_EVENT_CPU_GOING_OFFLINE: return "cpu_going_offline";
        case HPNOTIFY_EVENT_CPU_OFFLINE: return "cpu_offline";
        case HPNOTIFY_EVENT_CPU_REMOVED: return "cpu_removed";
        default: return "other";
    }
}

// A generic netlink socket subscribed to the hpnotify events group.
class HpnotifySocket {
public:
    HpnotifySocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC), "hpnotify socket") {
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
            fail_errno("bind hpnotify socket");
        }
        // A storm of events must not overrun this listener while it is busy elsewhere.
        const int size = 4 << 20;
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
        resolve();
        if (::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group_, sizeof(group_)) != 0) {
            fail_errno("join the hpnotify events group");
        }
    }
    int fd() const noexcept { return fd_.get(); }

    // The events of one datagram (none when it was something else).
    std::vector<HpEvent> receive() {
        std::vector<unsigned char> buffer(1 << 16);
        const ssize_t got = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
        if (got < 0) {
            if (errno == ENOBUFS) {
                throw std::runtime_error("hpnotify socket overran (ENOBUFS): events lost");
            }
            fail_errno("recv hpnotify");
        }
        std::vector<HpEvent> events;
        for_each_message(buffer.data(), static_cast<std::size_t>(got), [&](const nlmsghdr& header,
                                                                              const unsigned char* payload,
                                                                              std::size_t size) {
            if (header.nlmsg_type != family_ || size < GENL_HDRLEN) {
                return;
            }
            genlmsghdr genl{};
            std::memcpy(&genl, payload, sizeof(genl));
            if (genl.cmd != HPNOTIFY_CMD_EVENT) {
                return;
            }
            HpEvent event;
            for (const auto& a : attributes(payload + GENL_HDRLEN, size - GENL_HDRLEN)) {
                switch (a.type) {
                    case HPNOTIFY_A_EVENT_SEQ: event.seq = value_of<std::uint64_t>(a); break;
                    case HPNOTIFY_A_EVENT_TIMESTAMP: event.time_ns = value_of<std::int64_t>(a); break;
                    case HPNOTIFY_A_EVENT_TYPE: event.type = value_of<std::uint32_t>(a); break;
                    case HPNOTIFY_A_EVENT_CPU: event.cpu = value_of<std::uint32_t>(a); break;
                    default: break;
                }
            }
            events.push_back(event);
        });
        return events;
    }

private:
    template <typename F>
    static void for_each_message(const unsigned char* data, std::size_t size, F&& f) {
        while (size >= NLMSG_HDRLEN) {
            nlmsghdr header{};
            std::memcpy(&header, data, sizeof(header));
            if (header.nlmsg_len < NLMSG_HDRLEN || header.nlmsg_len > size) {
                return;
            }
            f(header, data + NLMSG_HDRLEN, std::size_t{header.nlmsg_len} - NLMSG_HDRLEN);
            const std::size_t step = std::min<std::size_t>(NLMSG_ALIGN(header.nlmsg_len), size);
            data += step;
            size -= step;
        }
    }

    // CTRL_CMD_GETFAMILY "hpnotify": the family id and the events group's id.
    void resolve() {
        std::vector<unsigned char> request(NLMSG_SPACE(GENL_HDRLEN + NLA_ALIGN(NLA_HDRLEN + sizeof(HPNOTIFY_FAMILY_NAME))));
        auto* header = reinterpret_cast<nlmsghdr*>(request.data());
        header->nlmsg_len = static_cast<std::uint32_t>(request.size());
        header->nlmsg_type = GENL_ID_CTRL;
        header->nlmsg_flags = NLM_F_REQUEST;
        header->nlmsg_seq = 1;
        auto* genl = reinterpret_cast<genlmsghdr*>(request.data() + NLMSG_HDRLEN);
        genl->cmd = CTRL_CMD_GETFAMILY;
        genl->version = 1;
        auto* name = reinterpret_cast<nlattr*>(request.data() + NLMSG_HDRLEN + GENL_HDRLEN);
        name->nla_type = CTRL_ATTR_FAMILY_NAME;
        name->nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + sizeof(HPNOTIFY_FAMILY_NAME));
        std::memcpy(reinterpret_cast<unsigned char*>(name) + NLA_HDRLEN, HPNOTIFY_FAMILY_NAME,
                    sizeof(HPNOTIFY_FAMILY_NAME));
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        if (::sendto(fd_.get(), request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                     sizeof(kernel)) < 0) {
            fail_errno("resolve the hpnotify family");
        }
        std::vector<unsigned char> reply(1 << 16);
        const ssize_t got = ::recv(fd_.get(), reply.data(), reply.size(), 0);
        if (got < 0) {
            fail_errno("resolve the hpnotify family");
        }
        for_each_message(reply.data(), static_cast<std::size_t>(got), [&](const nlmsghdr& message,
                                                                            const unsigned char* payload,
                                                                            std::size_t size) {
            if (message.nlmsg_type == NLMSG_ERROR && size >= sizeof(nlmsgerr)) {
                nlmsgerr error{};
                std::memcpy(&error, payload, sizeof(error));
                errno = -error.error;
                fail_errno("resolve the hpnotify family (is hpnotify.ko loaded?)");
            }
            if (message.nlmsg_type != GENL_ID_CTRL || size < GENL_HDRLEN) {
                return;
            }
            for (const auto& a : attributes(payload + GENL_HDRLEN, size - GENL_HDRLEN)) {
                if (a.type == CTRL_ATTR_FAMILY_ID) {
                    family_ = value_of<std::uint16_t>(a);
                } else if (a.type == CTRL_ATTR_MCAST_GROUPS) {
                    for (const auto& entry : attributes(a.data, a.size)) {
                        std::string group_name;
                        std::uint32_t id = 0;
                        for (const auto& field : attributes(entry.data, entry.size)) {
                            if (field.type == CTRL_ATTR_MCAST_GRP_NAME) {
                                group_name.assign(reinterpret_cast<const char*>(field.data),
                                                  strnlen(reinterpret_cast<const char*>(field.data), field.size));
                            } else if (field.type == CTRL_ATTR_MCAST_GRP_ID) {
                                id = value_of<std::uint32_t>(field);
                            }
                        }
                        if (group_name == HPNOTIFY_MCGRP_EVENTS) {
                            group_ = id;
                        }
                    }
                }
            }
        });
        if (family_ == 0 || group_ == 0) {
            throw std::runtime_error("hpnotify family without an id or an events group");
        }
    }

    Fd fd_;
    std::uint16_t family_ = 0;
    std::uint32_t group_ = 0;
};

struct Uevent {
    std::string action;
    std::string devpath;
};

// NETLINK_KOBJECT_UEVENT, group 1: the kernel's own uevents (not udev's rebroadcast).
class UeventSocket {
public:
    UeventSocket()
        : fd_(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT), "uevent socket") {
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        local.nl_groups = 1;
        const int size = 4 << 20;
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
        if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
            fail_errno("bind uevent socket");
        }
    }
    int fd() const noexcept { return fd_.get(); }

    // "ACTION@DEVPATH\0KEY=VALUE\0...": the header is enough here.
    Uevent receive() {
        char buffer[8192];
        const ssize_t got = ::recv(fd_.get(), buffer, sizeof(buffer) - 1, 0);
        if (got < 0) {
            if (errno == ENOBUFS) {
                throw std::runtime_error("uevent socket overran (ENOBUFS)");
            }
            fail_errno("recv uevent");
        }
        buffer[got] = '\0';
        const std::string header(buffer);
        const auto at = header.find('@');
        if (at == std::string::npos) {
            return {};
        }
        return {header.substr(0, at), header.substr(at + 1)};
    }

private:
    Fd fd_;
};

std::string read_file(const std::string& path) {
    std::ifstream file(path);
    if (!file) {
        throw std::runtime_error("cannot read " + path);
    }
    std::stringstream text;
    text << file.rdbuf();
    std::string value = text.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) {
        value.pop_back();
    }
    return value;
}

bool cpulist_has(const std::string& list, unsigned cpu) {
    std::stringstream items(list);
    std::string item;
    while (std::getline(items, item, ',')) {
        if (item.empty()) {
            continue;
        }
        const auto dash = item.find('-');
        const unsigned low = static_cast<unsigned>(std::stoul(item.substr(0, dash)));
        const unsigned high = dash == std::string::npos ? low : static_cast<unsigned>(std::stoul(item.substr(dash + 1)));
        if (cpu >= low && cpu <= high) {
            return true;
        }
    }
    return false;
}

// ---- the listener: one thread reads every source and keeps what arrived, stamped -----------------------

enum class Source { hpnotify, uevent, cpuset };

struct Seen {
    Source kind;
    std::int64_t rx = 0;      // when this process had read it
    std::uint64_t wake = 0;   // which epoll wakeup read it
    HpEvent event;            // hpnotify
    Uevent uevent;            // uevent
    std::string cpuset;       // cpuset: the file right after the IN_MODIFY

    std::string describe() const {
        std::ostringstream text;
        text << "+" << rx << " wake " << wake << ": ";
        if (kind == Source::hpnotify) {
            text << "hpnotify " << type_name(event.type) << " cpu " << (event.cpu ? std::to_string(*event.cpu) : "-")
                 << " seq " << event.seq;
        } else if (kind == Source::uevent) {
            text << "uevent " << uevent.action << "@" << uevent.devpath;
        } else {
            text << "cpuset written: " << cpuset;
        }
        return text.str();
    }
};

class Listener {
public:
    explicit Listener(std::optional<std::string> cpuset_file) : cpuset_file_(std::move(cpuset_file)) {
        if (cpuset_file_) {
            inotify_.emplace(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK), "inotify_init1");
            if (::inotify_add_watch(inotify_->get(), cpuset_file_->c_str(), IN_MODIFY) < 0) {
                fail_errno("inotify_add_watch " + *cpuset_file_);
            }
        }
        add(hp_.fd());
        add(uevents_.fd());
        add(stop_.get());
        if (inotify_) {
            add(inotify_->get());
        }
        thread_ = std::thread([this] { run(); });
    }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    ~Listener() {
        const std::uint64_t one = 1;
        (void)!::write(stop_.get(), &one, sizeof(one));
        thread_.join();
    }

    std::size_t mark() {
        std::lock_guard lock(mutex_);
        return seen_.size();
    }

    // Waits (wait_limit) until `done` holds for what arrived since `from`; throws with what arrived otherwise.
    void wait(std::size_t from, const std::function<bool(const std::vector<Seen>&)>& done, const std::string& what) {
        std::unique_lock lock(mutex_);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait_limit);
        while (true) {
            if (error_) {
                throw std::runtime_error("listener: " + *error_);
            }
            std::vector<Seen> since(seen_.begin() + static_cast<std::ptrdiff_t>(from), seen_.end());
            if (done(since)) {
                return;
            }
            if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
                std::string seen;
                for (const auto& s : since) {
                    seen += "\n  " + s.describe();
                }
                throw std::runtime_error("gave up after " + std::to_string(wait_limit / seconds) + " s waiting for " +
                                         what + "; seen since:" + (seen.empty() ? " nothing" : seen));
            }
        }
    }

    std::vector<Seen> since(std::size_t from) {
        std::lock_guard lock(mutex_);
        return {seen_.begin() + static_cast<std::ptrdiff_t>(from), seen_.end()};
    }

private:
    void add(int fd) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = fd;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
            fail_errno("epoll_ctl");
        }
    }

    void run() {
        try {
            for (std::uint64_t wake = 1;; ++wake) {
                epoll_event ready[4];
                const int count = ::epoll_wait(epoll_.get(), ready, 4, -1);
                if (count < 0) {
                    if (errno == EINTR) {
                        continue;
                    }
                    fail_errno("epoll_wait");
                }
                std::vector<Seen> got;
                for (int i = 0; i < count; ++i) {
                    const int fd = ready[i].data.fd;
                    if (fd == stop_.get()) {
                        return;
                    }
                    if (fd == hp_.fd()) {
                        for (const auto& event : hp_.receive()) {
                            got.push_back({Source::hpnotify, now(), wake, event, {}, {}});
                        }
                    } else if (fd == uevents_.fd()) {
                        Uevent uevent = uevents_.receive();
                        got.push_back({Source::uevent, now(), wake, {}, std::move(uevent), {}});
                    } else if (inotify_ && fd == inotify_->get()) {
                        alignas(inotify_event) char buffer[4096];
                        const ssize_t n = ::read(inotify_->get(), buffer, sizeof(buffer));
                        const std::int64_t rx = now();
                        for (ssize_t offset = 0; offset < n;) {
                            inotify_event header{};
                            std::memcpy(&header, buffer + offset, sizeof(header));
                            offset += static_cast<ssize_t>(sizeof(header) + header.len);
                            if (header.mask & IN_MODIFY) {
                                got.push_back({Source::cpuset, rx, wake, {}, {}, read_file(*cpuset_file_)});
                            }
                        }
                    }
                }
                std::lock_guard lock(mutex_);
                seen_.insert(seen_.end(), got.begin(), got.end());
                changed_.notify_all();
            }
        } catch (const std::exception& error) {
            std::lock_guard lock(mutex_);
            error_ = error.what();
            changed_.notify_all();
        }
    }

    std::optional<std::string> cpuset_file_;
    HpnotifySocket hp_;
    UeventSocket uevents_;
    std::optional<Fd> inotify_;
    Fd epoll_{::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"};
    Fd stop_{::eventfd(0, EFD_CLOEXEC), "eventfd"};
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Seen> seen_;
    std::optional<std::string> error_;
    std::thread thread_;
};

// ---- commands ------------------------------------------------------------------------------------------

std::string online_path(unsigned cpu) { return "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/online"; }

// One sysfs write; 0 or the errno.
int write_online(unsigned cpu, bool online) {
    Fd file(::open(online_path(cpu).c_str(), O_WRONLY | O_CLOEXEC), "open " + online_path(cpu));
    return ::write(file.get(), online ? "1" : "0", 1) == 1 ? 0 : errno;
}

int toggles(unsigned cpu, unsigned rounds, const std::string& cpuset_file) {
    Listener listener(cpuset_file);
    if (read_file(online_path(cpu)) != "1") {
        throw std::runtime_error("cpu" + std::to_string(cpu) + " is not online at the start");
    }
    if (!cpulist_has(read_file(cpuset_file), cpu)) {
        throw std::runtime_error(cpuset_file + " lacks cpu" + std::to_string(cpu) + " at the start");
    }
    for (unsigned round = 1; round <= rounds; ++round) {
        for (const bool online : {false, true}) {
            const char* direction = online ? "online" : "offline";
            const std::uint32_t type = online ? HPNOTIFY_EVENT_CPU_ONLINE : HPNOTIFY_EVENT_CPU_OFFLINE;
            const std::string devpath = "/devices/system/cpu/cpu" + std::to_string(cpu);
            const std::size_t from = listener.mark();
            const std::int64_t start = now();
            if (const int error = write_online(cpu, online); error != 0) {
                throw std::system_error(error, std::generic_category(),
                                        "round " + std::to_string(round) + ": echo " + (online ? "1" : "0") + " > " +
                                            online_path(cpu));
            }
            const std::int64_t returned = now();
            const Seen* event = nullptr;
            const Seen* uevent = nullptr;
            const Seen* written = nullptr;
            std::vector<Seen> seen;
            const auto complete = [&](const std::vector<Seen>& since) {
                seen = since;
                event = uevent = written = nullptr;
                for (const auto& s : seen) {
                    if (!event && s.kind == Source::hpnotify && s.event.type == type && s.event.cpu == cpu) {
                        event = &s;
                    } else if (!uevent && s.kind == Source::uevent && s.uevent.action == direction &&
                               s.uevent.devpath == devpath) {
                        uevent = &s;
                    } else if (!written && s.kind == Source::cpuset && cpulist_has(s.cpuset, cpu) == online) {
                        written = &s;
                    }
                }
                return event && uevent && written;
            };
            listener.wait(from, complete,
                          std::string("round ") + std::to_string(round) + " " + direction + ": " +
                              type_name(type) + ", uevent " + direction + " and " + cpuset_file +
                              (online ? " with" : " without") + " cpu" + std::to_string(cpu));
            std::printf("toggle=%s start=%lld return=%lld event=%lld event_rx=%lld event_wake=%llu uevent_rx=%lld "
                        "uevent_wake=%llu cpuset=%lld\n",
                        direction, static_cast<long long>(start), static_cast<long long>(returned),
                        static_cast<long long>(event->event.time_ns), static_cast<long long>(event->rx),
                        static_cast<unsigned long long>(event->wake), static_cast<long long>(uevent->rx),
                        static_cast<unsigned long long>(uevent->wake), static_cast<long long>(written->rx));
            std::fflush(stdout);
        }
    }
    return 0;
}

sockaddr_un unix_address(const std::string& socket_path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(address.sun_path)) {
        throw std::runtime_error("socket path too long: " + socket_path);
    }
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    return address;
}

struct StatusAnswer {
    std::int64_t ns;
    std::string line;
};

// One `status` request on a new connection: the answer line, and the nanoseconds from connect to its end.
StatusAnswer ask_status(const std::string& socket_path) {
    const std::int64_t start = now();
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
    const sockaddr_un address = unix_address(socket_path);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        fail_errno("connect " + socket_path);
    }
    const std::string request = "{\"op\":\"status\"}\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        fail_errno("send status request");
    }
    std::string answer;
    char buffer[16384];
    while (answer.find('\n') == std::string::npos) {
        pollfd p{fd.get(), POLLIN, 0};
        const int left_ms = static_cast<int>((start + wait_limit - now()) / ms);
        const int ready = left_ms > 0 ? ::poll(&p, 1, left_ms) : 0;
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            throw std::runtime_error("status: no answer within " + std::to_string(wait_limit / seconds) +
                                     " s; got so far: " + answer.substr(0, 200));
        }
        const ssize_t got = ::recv(fd.get(), buffer, sizeof(buffer), 0);
        if (got <= 0) {
            throw std::runtime_error("status: connection closed before the answer's end; got: " + answer.substr(0, 200));
        }
        answer.append(buffer, static_cast<std::size_t>(got));
    }
    const std::int64_t end = now();
    if (answer.find("\"ok\":true") == std::string::npos) {
        throw std::runtime_error(socket_path + ": status answered an error: " + answer.substr(0, 300));
    }
    answer.resize(answer.find('\n') + 1);
    return {end - start, std::move(answer)};
}

// Serves `answer` to each connection on `socket_path`: the daemon's loop stripped to what every request
// costs (accept, read the line, write the answer, close), one thread as the daemon's event loop is.
[[noreturn]] void serve_answer(const std::string& socket_path, const std::string& answer) {
    Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket");
    ::unlink(socket_path.c_str());
    const sockaddr_un address = unix_address(socket_path);
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        fail_errno("bind " + socket_path);
    }
    if (::listen(listener.get(), 64) != 0) {
        fail_errno("listen " + socket_path);
    }
    Fd epoll(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
    epoll_event add{EPOLLIN, {.fd = listener.get()}};
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listener.get(), &add) != 0) {
        fail_errno("epoll_ctl listener");
    }
    std::fprintf(stderr, "listening\n");
    std::vector<std::optional<Fd>> clients;  // by fd
    char buffer[4096];
    for (;;) {
        epoll_event ready[16];
        const int count = ::epoll_wait(epoll.get(), ready, 16, -1);
        if (count < 0 && errno == EINTR) {
            continue;
        }
        if (count < 0) {
            fail_errno("epoll_wait");
        }
        for (int i = 0; i < count; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener.get()) {
                for (int client; (client = ::accept4(listener.get(), nullptr, nullptr,
                                                      SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) {
                    epoll_event in{EPOLLIN, {.fd = client}};
                    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, client, &in) != 0) {
                        fail_errno("epoll_ctl client");
                    }
                    if (clients.size() <= static_cast<std::size_t>(client)) {
                        clients.resize(static_cast<std::size_t>(client) + 1);
                    }
                    clients[static_cast<std::size_t>(client)].emplace(client, "accept4");
                }
                continue;
            }
            const ssize_t got = ::recv(fd, buffer, sizeof(buffer), 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            // The probe's requests are one short line: the first read has all of it.
            if (got > 0 && std::memchr(buffer, '\n', static_cast<std::size_t>(got)) != nullptr) {
                (void)::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
            }
            if (got <= 0 || std::memchr(buffer, '\n', static_cast<std::size_t>(got)) != nullptr) {
                clients[static_cast<std::size_t>(fd)].reset();  // closing drops it from the epoll set
            }
        }
    }
}

int answer(const std::string& daemon_socket, const std::string& baseline_socket) {
    serve_answer(baseline_socket, ask_status(daemon_socket).line);
}

// Every interval, until `until()` (checked before each) says stop or `count` are done: a status request to
// the daemon and one to the baseline.
void status_series(const std::string& socket_path, const std::string& baseline_path, std::int64_t interval,
                   unsigned count, const std::function<bool()>& until) {
    std::int64_t next = now();
    for (unsigned i = 0; (count == 0 || i < count) && !until(); ++i) {
        // Turn about who goes first, so that neither always finds the guest as the other left it.
        const bool daemon_first = i % 2 == 0;
        const std::int64_t first_ns = ask_status(daemon_first ? socket_path : baseline_path).ns;
        const std::int64_t second_ns = ask_status(daemon_first ? baseline_path : socket_path).ns;
        const std::int64_t daemon_ns = daemon_first ? first_ns : second_ns;
        const std::int64_t baseline_ns = daemon_first ? second_ns : first_ns;
        std::printf("status=%lld baseline=%lld\n", static_cast<long long>(daemon_ns),
                    static_cast<long long>(baseline_ns));
        next += interval;
        const std::int64_t t = now();
        if (next < t) {
            next = t;  // behind: the next request goes now, none are made up for
        }
        sleep_until(next);
    }
    std::fflush(stdout);
}

int status(unsigned count, const std::string& socket_path, const std::string& baseline_path, unsigned interval_ms) {
    status_series(socket_path, baseline_path, interval_ms * ms, count, [] { return false; });
    return 0;
}

int storm(unsigned cpu, unsigned toggles_wanted, const std::string& socket_path, const std::string& baseline_path,
          unsigned interval_ms) {
    if (read_file(online_path(cpu)) != "1") {
        throw std::runtime_error("cpu" + std::to_string(cpu) + " is not online at the start");
    }
    std::atomic<bool> done{false};
    unsigned failed = 0;
    std::int64_t storm_ns = 0;
    std::jthread toggler([&] {
        const std::int64_t start = now();
        for (unsigned i = 0; i < toggles_wanted; ++i) {
            if (write_online(cpu, i % 2 == 1) != 0) {
                ++failed;
            }
        }
        storm_ns = now() - start;
        done = true;
    });
    status_series(socket_path, baseline_path, interval_ms * ms, 0, [&] { return done.load(); });
    toggler.join();
    std::printf("storm_toggles=%u storm_failed=%u storm_ns=%lld\n", toggles_wanted, failed,
                static_cast<long long>(storm_ns));
    return 0;
}

// "TID": the thread is named worker*, allowed on `cpu` alone and last ran there.
bool worker_on(const std::filesystem::path& task, unsigned cpu) {
    std::ifstream comm(task / "comm");
    std::string name;
    if (!std::getline(comm, name) || name.rfind("worker", 0) != 0) {
        return false;
    }
    std::ifstream status_file(task / "status");
    std::string line;
    bool allowed = false;
    while (std::getline(status_file, line)) {
        if (line.rfind("Cpus_allowed_list:", 0) == 0) {
            std::string list = line.substr(line.find(':') + 1);
            list.erase(0, list.find_first_not_of(" \t"));
            allowed = list == std::to_string(cpu);
        }
    }
    if (!allowed) {
        return false;
    }
    std::ifstream stat_file(task / "stat");
    std::string stat;
    std::getline(stat_file, stat);
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) {
        return false;
    }
    // After "comm)": field 3 is the first; "processor" is field 39.
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    for (int number = 3; fields >> field; ++number) {
        if (number == 39) {
            return field == std::to_string(cpu);
        }
    }
    return false;
}

int hotadd(unsigned cpu, int service_pid) {
    Listener listener(std::nullopt);
    const std::size_t from = listener.mark();
    std::fprintf(stderr, "hpvm-bench-probe: listening\n");
    const auto first = [&](const std::vector<Seen>& seen, std::uint32_t type) -> const Seen* {
        for (const auto& s : seen) {
            if (s.kind == Source::hpnotify && s.event.type == type && s.event.cpu == cpu) {
                return &s;
            }
        }
        return nullptr;
    };
    listener.wait(from, [&](const std::vector<Seen>& seen) { return first(seen, HPNOTIFY_EVENT_CPU_ARRIVED); },
                  "cpu_arrived of cpu" + std::to_string(cpu));
    const std::filesystem::path tasks = "/proc/" + std::to_string(service_pid) + "/task";
    const std::int64_t deadline = now() + wait_limit;
    std::int64_t worker = 0;
    std::string tid;
    while (worker == 0) {
        if (!std::filesystem::exists(tasks)) {
            throw std::runtime_error("the service (pid " + std::to_string(service_pid) + ") is gone");
        }
        for (const auto& task : std::filesystem::directory_iterator(tasks)) {
            if (worker_on(task.path(), cpu)) {
                worker = now();
                tid = task.path().filename();
                break;
            }
        }
        if (worker == 0) {
            if (now() > deadline) {
                std::string seen;
                for (const auto& s : listener.since(from)) {
                    seen += "\n  " + s.describe();
                }
                throw std::runtime_error("no worker of pid " + std::to_string(service_pid) + " pinned to and run on cpu" +
                                         std::to_string(cpu) + " within " + std::to_string(wait_limit / seconds) +
                                         " s of cpu_arrived; seen:" + seen);
            }
            sleep_until(now() + ms);
        }
    }
    // The worker runs once the CPU is online: cpu_online and its uevent have been sent by then.
    const std::string devpath = "/devices/system/cpu/cpu" + std::to_string(cpu);
    const Seen* online_uevent = nullptr;
    listener.wait(from,
                  [&](const std::vector<Seen>& seen) {
                      for (const auto& s : seen) {
                          if (s.kind == Source::uevent && s.uevent.action == "online" && s.uevent.devpath == devpath) {
                              return first(seen, HPNOTIFY_EVENT_CPU_ADD_START) && first(seen, HPNOTIFY_EVENT_CPU_ONLINE);
                          }
                      }
                      return false;
                  },
                  "cpu_add_start, cpu_online and the online uevent of cpu" + std::to_string(cpu));
    const std::vector<Seen> seen = listener.since(from);
    for (const auto& s : seen) {
        if (s.kind == Source::uevent && s.uevent.action == "online" && s.uevent.devpath == devpath) {
            online_uevent = &s;
            break;
        }
    }
    std::printf("arrived=%lld add_start=%lld online=%lld uevent_online_rx=%lld worker=%lld worker_tid=%s\n",
                static_cast<long long>(first(seen, HPNOTIFY_EVENT_CPU_ARRIVED)->event.time_ns),
                static_cast<long long>(first(seen, HPNOTIFY_EVENT_CPU_ADD_START)->event.time_ns),
                static_cast<long long>(first(seen, HPNOTIFY_EVENT_CPU_ONLINE)->event.time_ns),
                static_cast<long long>(online_uevent->rx), static_cast<long long>(worker), tid.c_str());
    return 0;
}

struct Usage {
    unsigned long long voluntary = 0;
    unsigned long long involuntary = 0;
    unsigned long long cpu_ticks = 0;
    unsigned long long rss_kb = 0;
    unsigned threads = 0;
};

unsigned long long status_field(const std::filesystem::path& file, const std::string& key) {
    std::ifstream status_file(file);
    std::string line;
    while (std::getline(status_file, line)) {
        if (line.rfind(key + ":", 0) == 0) {
            return std::stoull(line.substr(key.size() + 1));
        }
    }
    throw std::runtime_error(file.string() + " has no " + key);
}

Usage usage_of(int pid) {
    const std::filesystem::path proc = "/proc/" + std::to_string(pid);
    Usage usage;
    for (const auto& task : std::filesystem::directory_iterator(proc / "task")) {
        usage.voluntary += status_field(task.path() / "status", "voluntary_ctxt_switches");
        usage.involuntary += status_field(task.path() / "status", "nonvoluntary_ctxt_switches");
        ++usage.threads;
    }
    const std::string stat = read_file(proc / "stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int number = 3; fields >> field && number <= 15; ++number) {
        if (number == 14 || number == 15) {  // utime, stime: every thread's, in clock ticks
            usage.cpu_ticks += std::stoull(field);
        }
    }
    usage.rss_kb = status_field(proc / "status", "VmRSS");
    return usage;
}

int rest(int pid, unsigned window_seconds) {
    const Usage before = usage_of(pid);
    const std::int64_t start = now();
    sleep_until(start + std::int64_t{window_seconds} * seconds);
    const Usage after = usage_of(pid);
    const std::int64_t elapsed = now() - start;
    if (after.threads != before.threads) {
        throw std::runtime_error("pid " + std::to_string(pid) + " went from " + std::to_string(before.threads) +
                                 " to " + std::to_string(after.threads) + " threads during the window");
    }
    std::printf("rest_ns=%lld voluntary=%llu involuntary=%llu cpu_ticks=%llu clk_tck=%ld rss_kb=%llu threads=%u\n",
                static_cast<long long>(elapsed), after.voluntary - before.voluntary,
                after.involuntary - before.involuntary, after.cpu_ticks - before.cpu_ticks, ::sysconf(_SC_CLK_TCK),
                after.rss_kb, after.threads);
    return 0;
}

unsigned number(const char* text, const char* what) {
    char* end = nullptr;
    errno = 0;
    const unsigned long value = std::strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value > 1'000'000'000UL) {
        throw std::invalid_argument(std::string(what) + ": not a number: " + text);
    }
    return static_cast<unsigned>(value);
}

int usage() {
    std::fprintf(stderr,
                 "usage: hpvm-bench-probe now | toggles CPU ROUNDS CPUSET_FILE | answer SOCKET BASELINE_SOCKET |\n"
                 "       status COUNT SOCKET BASELINE_SOCKET INTERVAL_MS |\n"
                 "       storm CPU TOGGLES SOCKET BASELINE_SOCKET INTERVAL_MS | hotadd CPU SERVICE_PID |\n"
                 "       rest PID SECONDS\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto is = [&](const char* command, std::size_t operands) {
        return !args.empty() && args[0] == command && args.size() == operands + 1;
    };
    try {
        if (is("now", 0)) {
            std::printf("%lld\n", static_cast<long long>(now()));
            return 0;
        }
        if (is("toggles", 3)) {
            return toggles(number(argv[2], "CPU"), number(argv[3], "ROUNDS"), args[3]);
        }
        if (is("answer", 2)) {
            return answer(args[1], args[2]);
        }
        if (is("status", 4)) {
            return status(number(argv[2], "COUNT"), args[2], args[3], number(argv[5], "INTERVAL_MS"));
        }
        if (is("storm", 5)) {
            return storm(number(argv[2], "CPU"), number(argv[3], "TOGGLES"), args[3], args[4],
                         number(argv[6], "INTERVAL_MS"));
        }
        if (is("hotadd", 2)) {
            return hotadd(number(argv[2], "CPU"), static_cast<int>(number(argv[3], "SERVICE_PID")));
        }
        if (is("rest", 2)) {
            return rest(static_cast<int>(number(argv[2], "PID")), number(argv[3], "SECONDS"));
        }
        return usage();
    } catch (const std::exception& error) {
        std::fflush(stdout);
        std::fprintf(stderr, "hpvm-bench-probe: %s\n", error.what());
        return 1;
    }
}
