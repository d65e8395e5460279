#include "service/control_socket.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/log.hpp"
#include "core/quoted.hpp"
#include "core/system_error.hpp"

namespace hpplace {

namespace {

gid_t group_of_file(const std::filesystem::path& path) {
    struct stat st {};
    throw_system_error_on(::stat(path.c_str(), &st) != 0, "cannot stat " + path.string());
    return st.st_gid;
}

// Another daemon answers on path?
bool someone_listens(const std::filesystem::path& path) {
    // Non-blocking: a live daemon with a full backlog answers EAGAIN at once.
    FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    throw_system_error_on(!fd, "socket");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.string().size() + 1);
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 ||
           errno == EAGAIN;
}

void remove_stale_socket(const std::filesystem::path& path, const std::function<void(const std::string&)>& log) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        throw_system_error_on(errno != ENOENT, "cannot stat " + path.string());
        return;
    }
    if (!S_ISSOCK(st.st_mode)) {
        throw std::runtime_error(path.string() + " exists and is not a socket; not removing it");
    }
    if (someone_listens(path)) {
        throw std::runtime_error("another hpplaced is already running on " + path.string());
    }
    throw_system_error_on(::unlink(path.c_str()) != 0 && errno != ENOENT, "cannot remove stale socket " + path.string());
    log(log::notice("removed stale socket " + path.string()));
}

std::string mode_text(mode_t mode) {
    char text[8];
    const auto end = std::to_chars(text, text + sizeof(text), static_cast<unsigned>(mode), 8).ptr;
    return "0" + std::string(text, end);
}

}  // namespace

std::optional<ListeningSocket> activated_control_socket() {
    // Unsets LISTEN_FDS and LISTEN_PID: children of the daemon do not take the socket for theirs.
    const int count = sd_listen_fds(1);
    if (count < 0) {
        throw std::system_error(-count, std::system_category(), "socket activation (LISTEN_FDS)");
    }
    if (count == 0) {
        return std::nullopt;
    }
    if (count != 1) {
        throw std::runtime_error("socket activation passed " + std::to_string(count) +
                                 " file descriptors; expected one, the control socket");
    }
    ListeningSocket socket;
    socket.fd = FileDescriptor(SD_LISTEN_FDS_START);
    socket.activated = true;
    if (sd_is_socket_unix(socket.fd.get(), SOCK_STREAM, 1, nullptr, 0) <= 0) {
        throw std::runtime_error("socket activation passed a file descriptor that is not a listening AF_UNIX "
                                 "stream socket (hpplaced.socket needs ListenStream=PATH)");
    }
    sockaddr_un address{};
    socklen_t length = sizeof(address);
    throw_system_error_on(::getsockname(socket.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0,
                          "getsockname of the activated socket");
    const auto path_bytes = length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
    if (path_bytes == 0 || address.sun_path[0] == '\0') {
        throw std::runtime_error("socket activation passed an unnamed or abstract socket; the control socket "
                                 "must be a file (its group decides who is a member)");
    }
    socket.path = std::string(address.sun_path, ::strnlen(address.sun_path, path_bytes));
    socket.group = group_of_file(socket.path);
    return socket;
}

ListeningSocket bind_control_socket(const ControlSocketSettings& settings, int backlog,
                                    const std::function<void(const std::string&)>& log) {
    const auto& path = settings.path;
    sockaddr_un address{};
    if (path.empty() || path.string().size() >= sizeof(address.sun_path)) {
        throw std::runtime_error("socket path " + quoted_text(path.string()) + " is empty or too long");
    }
    remove_stale_socket(path, log);
    ListeningSocket socket;
    socket.fd = FileDescriptor(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    socket.path = path;
    throw_system_error_on(!socket.fd, "socket");
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.string().size() + 1);
    throw_system_error_on(
        ::bind(socket.fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0,
        "cannot bind " + path.string());
    // Group and mode before listen(): until then a connect is refused, so no
    // client reaches the socket while the umask's mode is on it.
    if (settings.group) {
        // Without CAP_CHOWN only to a group the daemon is a member of.
        throw_system_error_on(::lchown(path.c_str(), static_cast<uid_t>(-1), *settings.group) != 0,
                              "cannot give " + path.string() + " to group " + std::to_string(*settings.group) +
                                  " (needs CAP_CHOWN or membership of the group; under systemd, hpplaced.socket "
                                  "sets it)");
    }
    throw_system_error_on(::chmod(path.c_str(), settings.mode) != 0,
                          "cannot chmod " + mode_text(settings.mode) + " " + path.string());
    socket.group = group_of_file(path);
    throw_system_error_on(::listen(socket.fd.get(), backlog) != 0, "cannot listen on " + path.string());
    return socket;
}

gid_t resolve_group(const std::string& group) {
    gid_t id = 0;
    const auto [end, error] = std::from_chars(group.data(), group.data() + group.size(), id);
    if (!group.empty() && error == std::errc{} && end == group.data() + group.size()) {
        return id;  // a number needs no entry in the group database
    }
    std::vector<char> buffer(4096);
    for (;;) {
        ::group entry{};
        ::group* found = nullptr;
        const int result = ::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (result == ERANGE && buffer.size() < (1U << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        if (result != 0) {
            throw std::system_error(result, std::system_category(), "cannot look up group " + quoted_text(group));
        }
        if (found == nullptr) {
            throw std::runtime_error("no group " + quoted_text(group) + " (socket_group)");
        }
        return found->gr_gid;
    }
}

}  // namespace hpplace
