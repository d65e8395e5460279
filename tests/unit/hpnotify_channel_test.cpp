// EventChannel and FamilyWatcher on real netlink sockets of the running kernel
// (nlctrl is always there; the hpnotify module need not be). Events from the
// module itself are proven in the VM (tests/vm/).
#include <doctest/doctest.h>

#include <linux/genetlink.h>

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "kernel/event_channel.hpp"

using namespace hpplace::kernel;
namespace asio = boost::asio;

namespace {

EventChannel::Options waiting_options() {
    return EventChannel::Options{.receive_buffer_bytes = std::nullopt, .wait_for_module = true};
}

}  // namespace

TEST_CASE("channel: a receive never completes inline, and cancel() aborts it") {
    asio::io_context io;
    EventChannel channel(io.get_executor(), waiting_options());
    bool called = false;
    boost::system::error_code result;
    channel.async_receive([&](boost::system::error_code ec, Notification) {
        called = true;
        result = ec;
    });
    CHECK_FALSE(called);
    io.poll();
    CHECK_FALSE(called);  // nothing to report without hotplug or module news
    channel.cancel();
    io.run_for(std::chrono::seconds(2));
    CHECK(called);
    CHECK(result == asio::error::operation_aborted);
}

TEST_CASE("channel: destroying it with a receive outstanding completes the receive with operation_aborted") {
    asio::io_context io;
    auto channel = std::make_unique<EventChannel>(io.get_executor(), waiting_options());
    bool called = false;
    boost::system::error_code result;
    channel->async_receive([&](boost::system::error_code ec, Notification) {
        called = true;
        result = ec;
    });
    channel.reset();
    io.run_for(std::chrono::seconds(2));
    CHECK(called);
    CHECK(result == asio::error::operation_aborted);
}

TEST_CASE("family watcher: knows whether a family is registered") {
    asio::io_context io;
    const FamilyWatcher control(io.get_executor(), "nlctrl");
    REQUIRE(control.present());
    CHECK(control.family()->id == GENL_ID_CTRL);

    FamilyWatcher absent(io.get_executor(), "hpnotify_absent");
    CHECK_FALSE(absent.present());
    bool called = false;
    absent.async_wait_change([&](boost::system::error_code ec, FamilyChange) {
        called = true;
        CHECK(ec == asio::error::operation_aborted);
    });
    io.poll();
    absent.cancel();
    io.run_for(std::chrono::seconds(2));
    CHECK(called);
}
