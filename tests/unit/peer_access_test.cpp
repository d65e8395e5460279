// Who a control-socket peer is: its role from its credentials, its own cgroup
// from a fixture /proc, and its credentials read from a real socket pair.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/file_descriptor.hpp"
#include "service/peer_access.hpp"

using namespace hpplace;

namespace {

struct ProcTree {
    std::filesystem::path root;
    ProcTree() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-proc-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        root = pattern;
    }
    ~ProcTree() {
        std::error_code ignored;
        std::filesystem::remove_all(root, ignored);
    }
    void process(pid_t pid, const std::string& uids, const std::string& cgroup) const {
        const auto dir = root / std::to_string(pid);
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "status") << "Name:\tsvc\nPid:\t" << pid << "\nUid:\t" << uids << "\nGid:\t1\t1\t1\t1\n";
        std::ofstream(dir / "cgroup") << cgroup;
    }
};

PeerCredentials peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
    return {.pid = 100, .uid = uid, .gid = gid, .groups = std::move(groups)};
}

}  // namespace

TEST_CASE("peer access: root and the daemon's own uid are admins, the socket group's members members, others not") {
    constexpr gid_t group = 61000;
    constexpr uid_t self = 0;
    CHECK(role_of(peer(0, 0), group, self) == PeerRole::admin);
    CHECK(role_of(peer(500, 500), group, 500) == PeerRole::admin);  // a daemon run as its own user
    CHECK(role_of(peer(1000, group), group, self) == PeerRole::member);
    CHECK(role_of(peer(1000, 1000, {4, group, 7}), group, self) == PeerRole::member);
    CHECK(role_of(peer(1000, 1000, {4, 7}), group, self) == PeerRole::stranger);
    CHECK(role_of(peer(1000, 1000), group, self) == PeerRole::stranger);
    // No credentials from the kernel: nobody to trust.
    CHECK(role_of(PeerCredentials{}, group, self) == PeerRole::stranger);
    CHECK(to_string(PeerRole::member) == "member");
}

TEST_CASE("peer access: the credentials of a connected socket are the connecting process's, groups included") {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    const FileDescriptor a(fds[0]);
    const FileDescriptor b(fds[1]);
    const PeerCredentials credentials = peer_credentials(a.get());
    CHECK(credentials.pid == ::getpid());
    CHECK(credentials.uid == ::geteuid());
    CHECK(credentials.gid == ::getegid());
    std::vector<gid_t> groups(static_cast<std::size_t>(::getgroups(0, nullptr)));
    REQUIRE(::getgroups(static_cast<int>(groups.size()), groups.data()) == static_cast<int>(groups.size()));
    auto got = credentials.groups;
    std::sort(got.begin(), got.end());
    std::sort(groups.begin(), groups.end());
    CHECK(got == groups);
}

TEST_CASE("peer access: a member's cgroup is its process's, below the cgroup root, if the PID still has its uid") {
    ProcTree proc;
    const PeerAccessOptions options{.cgroup_root = "/sys/fs/cgroup", .proc_root = proc.root};
    proc.process(10, "1000\t1000\t1000\t1000", "0::/system.slice/svc.service\n");
    CHECK(peer_cgroup(10, 1000, options) == "/sys/fs/cgroup/system.slice/svc.service");
    // A hybrid hierarchy lists v1 controllers first; the v2 line counts.
    proc.process(11, "1000\t1000\t1000\t1000", "12:cpuset:/x\n1:name=systemd:/y\n0::/user.slice/u.scope\n");
    CHECK(peer_cgroup(11, 1000, options) == "/sys/fs/cgroup/user.slice/u.scope");
    proc.process(12, "1000\t1000\t1000\t1000", "0::/\n");
    CHECK(peer_cgroup(12, 1000, options) == "/sys/fs/cgroup");

    // The PID now belongs to another user's process (reused), or switched uid.
    proc.process(13, "0\t0\t0\t0", "0::/system.slice/other.service\n");
    CHECK_THROWS_WITH_AS(peer_cgroup(13, 1000, options), doctest::Contains("no longer the connecting process"),
                         std::runtime_error);
    proc.process(14, "1000\t0\t1000\t1000", "0::/a\n");
    CHECK_THROWS_WITH_AS(peer_cgroup(14, 1000, options), doctest::Contains("no longer"), std::runtime_error);
    CHECK_THROWS_WITH_AS(peer_cgroup(15, 1000, options), doctest::Contains("process 15 is gone"), std::runtime_error);
    proc.process(16, "1000\t1000\t1000\t1000", "1:name=systemd:/y\n");
    CHECK_THROWS_WITH_AS(peer_cgroup(16, 1000, options), doctest::Contains("no cgroup v2"), std::runtime_error);
    proc.process(17, "1000\t1000\t1000\t1000", "0::/gone (deleted)\n");
    CHECK_THROWS_WITH_AS(peer_cgroup(17, 1000, options), doctest::Contains("was removed"), std::runtime_error);
}

TEST_CASE("peer access: this process's own cgroup from the real /proc") {
    const auto own = peer_cgroup(::getpid(), ::geteuid(), PeerAccessOptions{.cgroup_root = "/cg"});
    CHECK(own.string().starts_with("/cg"));
}
