#pragma once

// Who may do what on the control socket, decided once per connection at
// accept from the peer's credentials (docs/contract.md, "Access"):
//   - admin: uid 0 (or the daemon's own uid): every request;
//   - member: in the control socket file's group, as its primary or a
//     supplementary group: status, plan, metrics, subscribe, ping, and
//     register/unregister of its own workloads, whose cgroup, when it names
//     one, must be the cgroup the peer process itself is in;
//   - stranger: anyone else, refused at accept. The socket's mode 0660 keeps
//     them out already; the daemon does not rely on it.
//
// The groups come from SO_PEERGROUPS, the credentials the kernel recorded at
// connect(): no /proc lookup whose PID might have been reused by then. The
// peer's cgroup can only be read from /proc/PID/cgroup; see peer_cgroup().

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "control/protocol.hpp"

namespace hpplace {

// The connecting process as the kernel saw it at connect(); pid -1 when the
// kernel did not say (then the peer is a stranger).
struct PeerCredentials {
    pid_t pid = -1;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    std::vector<gid_t> groups;  // supplementary
};

// SO_PEERCRED and SO_PEERGROUPS of a connected AF_UNIX socket. Without
// SO_PEERGROUPS (kernels before 4.13) only the primary group counts.
PeerCredentials peer_credentials(int socket_fd);

enum class PeerRole { admin, member, stranger };

std::string_view to_string(PeerRole role) noexcept;

// group: the control socket file's; self: the daemon's effective uid.
PeerRole role_of(const PeerCredentials& peer, gid_t group, uid_t self);

// Whether a member may send op at all. register and unregister are further
// held to the member's own workloads (ControlServer). An op added later is a
// compile error (-Wswitch) until it is decided here.
bool member_may(control::Op op) noexcept;

struct PeerAccessOptions {
    std::filesystem::path cgroup_root = "/sys/fs/cgroup";
    std::filesystem::path proc_root = "/proc";  // a fixture tree in tests
};

// The cgroup v2 directory (below options.cgroup_root) process pid is in, from
// the "0::" line of /proc/PID/cgroup. Both files are read through one
// /proc/PID directory descriptor, and /proc/PID/status must show uid (real
// and effective) as SO_PEERCRED did: a PID reused since connect() by another
// user's process is refused. A PID reused by a process of the same uid stays
// possible: then the cgroup is one that user's own process is in. Throws
// std::runtime_error with the reason. Small reads of procfs: fast enough to
// run on the event loop.
std::filesystem::path peer_cgroup(pid_t pid, uid_t uid, const PeerAccessOptions& options);

}  // namespace hpplace
