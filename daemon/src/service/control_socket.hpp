#pragma once

// The control socket's listening end, before the server accepts on it: the
// socket systemd passes (socket activation, dist/hpplaced.socket) or one the
// daemon binds itself when started by hand, with the group and mode the
// config names. Either way the result says which group owns the socket file:
// its members are the clients with a member's rights (service/peer_access.hpp).
//
//   auto socket = activated_control_socket();              // LISTEN_FDS / LISTEN_PID
//   if (!socket) socket = bind_control_socket({path, group, 0660}, log);
//   ControlServer server(io, std::move(*socket), handler, ...);

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "core/file_descriptor.hpp"

namespace hpplace {

struct ControlSocketSettings {
    std::filesystem::path path;
    // The socket file's group; nullopt: the daemon's own (file creation's) group.
    std::optional<gid_t> group;
    mode_t mode = 0660;
};

struct ListeningSocket {
    FileDescriptor fd;  // bound and listening
    std::filesystem::path path;
    gid_t group = 0;    // of the socket file
    // systemd's: the daemon neither removes nor rebinds it.
    bool activated = false;
};

// The one AF_UNIX stream socket systemd passed (sd_listen_fds), listening;
// nullopt when the daemon was not socket-activated. Throws std::runtime_error
// when it passed anything else (more than one fd, not a listening AF_UNIX
// stream socket, no path).
std::optional<ListeningSocket> activated_control_socket();

// Removes a stale socket file (nobody listens on it), binds, gives the file
// settings.group and settings.mode and listens with a queue of backlog.
// Throws std::runtime_error when another daemon answers on the path or the
// path is not a socket, std::system_error when a step fails (a chown refused
// without CAP_CHOWN, say).
ListeningSocket bind_control_socket(const ControlSocketSettings& settings, int backlog,
                                    const std::function<void(const std::string&)>& log);

// A group given as a name or a decimal id (the config's socket_group):
// looked up in the group database (NSS). Throws std::runtime_error naming it
// when there is no such group. May block on NSS: call it before the loop runs.
gid_t resolve_group(const std::string& group);

}  // namespace hpplace
