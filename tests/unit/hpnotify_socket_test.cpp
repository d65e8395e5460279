// GenlSocket against the running kernel's nlctrl, which every Linux has; the
// hpnotify family itself is exercised in the VM (tests/vm/).
#include <doctest/doctest.h>

#include <linux/genetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "kernel/genl_socket.hpp"

using namespace hpplace::kernel;

TEST_CASE("nlctrl resolves itself, with its notify group") {
    GenlSocket socket(SocketOptions{.receive_buffer_bytes = std::nullopt, .receive_timeout = std::chrono::seconds(5)});
    CHECK(socket.port_id() != 0);
    const FamilyInfo control = socket.resolve_family("nlctrl");
    CHECK(control.id == GENL_ID_CTRL);
    CHECK(control.name == "nlctrl");
    CHECK(control.group("notify").has_value());
}

TEST_CASE("an unknown family is FamilyNotFound: ENOENT and a one-line reason") {
    GenlSocket socket(SocketOptions{.receive_buffer_bytes = std::nullopt, .receive_timeout = std::chrono::seconds(5)});
    try {
        socket.resolve_family("hpnotify_absent");
        FAIL("resolved a family that does not exist");
    } catch (const FamilyNotFound& e) {
        CHECK(e.code().value() == ENOENT);
        CHECK(std::string(e.what()) == "generic netlink family \"hpnotify_absent\" not found");
    }
    CHECK(std::string(FamilyNotFound("hpnotify").what()) ==
          "the hpnotify kernel module is not loaded (generic netlink family \"hpnotify\" not found)");
}

TEST_CASE("SO_RCVBUF is applied and nothing queued means no datagram") {
    GenlSocket socket(SocketOptions{.receive_buffer_bytes = 4096, .receive_timeout = std::nullopt});
    int bytes = 0;
    socklen_t length = sizeof bytes;
    REQUIRE(::getsockopt(socket.fd(), SOL_SOCKET, SO_RCVBUF, &bytes, &length) == 0);
    CHECK(bytes == 2 * 4096);  // the kernel doubles it for its bookkeeping
    CHECK_FALSE(socket.try_receive().has_value());
}
