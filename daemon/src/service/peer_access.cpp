#include "service/peer_access.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "core/file_descriptor.hpp"
#include "core/quoted.hpp"

namespace hpplace {

PeerCredentials peer_credentials(int socket_fd) {
    PeerCredentials peer;
    ucred credentials{};
    socklen_t length = sizeof(credentials);
    if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 ||
        length != sizeof(credentials)) {
        return peer;
    }
    peer.pid = credentials.pid;
    peer.uid = credentials.uid;
    peer.gid = credentials.gid;
    // ERANGE tells how many there are; NGROUPS_MAX is 65536.
    peer.groups.resize(64);
    for (int attempt = 0; attempt < 2; ++attempt) {
        length = static_cast<socklen_t>(peer.groups.size() * sizeof(gid_t));
        if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERGROUPS, peer.groups.data(), &length) == 0) {
            peer.groups.resize(length / sizeof(gid_t));
            return peer;
        }
        if (errno != ERANGE) {
            break;
        }
        peer.groups.resize(length / sizeof(gid_t));
    }
    peer.groups.clear();
    return peer;
}

std::string_view to_string(PeerRole role) noexcept {
    switch (role) {
        case PeerRole::admin: return "admin";
        case PeerRole::member: return "member";
        case PeerRole::stranger: return "stranger";
    }
    return "stranger";
}

PeerRole role_of(const PeerCredentials& peer, gid_t group, uid_t self) {
    if (peer.pid < 0) {
        return PeerRole::stranger;
    }
    if (peer.uid == 0 || peer.uid == self) {
        return PeerRole::admin;
    }
    if (peer.gid == group || std::find(peer.groups.begin(), peer.groups.end(), group) != peer.groups.end()) {
        return PeerRole::member;
    }
    return PeerRole::stranger;
}

bool member_may(control::Op op) noexcept {
    switch (op) {
        case control::Op::status:
        case control::Op::plan:
        case control::Op::metrics:
        case control::Op::subscribe:
        case control::Op::unsubscribe:
        case control::Op::ping:
        case control::Op::register_workload:    // its own workloads only
        case control::Op::unregister_workload:  // its own workloads only
            return true;
    }
    return false;
}

namespace {

std::string read_proc_file(int dir, const char* name, pid_t pid) {
    FileDescriptor fd(::openat(dir, name, O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/" + name + ": " +
                                 std::strerror(errno));
    }
    std::string text;
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0) {
            // ESRCH: the process is gone.
            throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/" + name + ": " +
                                     std::strerror(errno));
        }
        if (n == 0 || text.size() > (64U << 10)) {
            return text;
        }
        text.append(buffer.data(), static_cast<std::size_t>(n));
    }
}

// The line of text starting with prefix, without it.
std::optional<std::string> line_after(const std::string& text, std::string_view prefix) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with(prefix)) {
            return line.substr(prefix.size());
        }
    }
    return std::nullopt;
}

}  // namespace

std::filesystem::path peer_cgroup(pid_t pid, uid_t uid, const PeerAccessOptions& options) {
    const auto dir_path = options.proc_root / std::to_string(pid);
    FileDescriptor dir(::open(dir_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
        throw std::runtime_error("process " + std::to_string(pid) + " is gone (" + std::strerror(errno) + ")");
    }
    const std::string cgroups = read_proc_file(dir.get(), "cgroup", pid);
    // Uid:\treal\teffective\tsaved\tfs
    const auto uids = line_after(read_proc_file(dir.get(), "status", pid), "Uid:");
    std::istringstream fields(uids.value_or(""));
    uid_t real = 0;
    uid_t effective = 0;
    if (!(fields >> real >> effective) || real != uid || effective != uid) {
        throw std::runtime_error("process " + std::to_string(pid) + " is no longer the connecting process of uid " +
                                 std::to_string(uid));
    }
    const auto own = line_after(cgroups, "0::");
    if (!own || own->empty() || own->front() != '/') {
        throw std::runtime_error("process " + std::to_string(pid) + " is in no cgroup v2 directory");
    }
    // " (deleted)" ends the path of a cgroup removed while the process is in it.
    if (own->ends_with(" (deleted)")) {
        throw std::runtime_error("the cgroup of process " + std::to_string(pid) + " was removed");
    }
    const auto below = std::filesystem::path(own->substr(1)).lexically_normal();
    return below.empty() ? options.cgroup_root.lexically_normal() : (options.cgroup_root / below).lexically_normal();
}

}  // namespace hpplace
