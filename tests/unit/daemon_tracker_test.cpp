#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "fake_sources.hpp"
#include "service/topology_tracker.hpp"

using namespace hpplace;
using hpplace::testing::cpu_event;
using hpplace::testing::FakeSource;
using hpplace::testing::FakeWatcher;
using hpplace::testing::two_node_machine;

namespace {

// A tracker on fakes, with everything the test wants to look at.
struct Rig {
    boost::asio::io_context io;
    Topology sysfs = two_node_machine();  // what "sysfs" says now
    unsigned sysfs_reads = 0;
    bool family_present = true;
    bool sysfs_fails = false;
    SourceListener* kernel = nullptr;
    SourceListener* udev = nullptr;
    // What the sources counted (a new kernel source starts from zero).
    StreamCounters kernel_stream;
    StreamCounters udev_stream;
    bool udev_memory_blocks_only = false;  // as the tracker last set it
    FamilyWatcherListener* watcher = nullptr;
    std::vector<Topology> plans;  // the topology each replan saw
    std::vector<Event> applied;
    std::vector<std::string> log;
    std::unique_ptr<TopologyTracker> tracker;

    explicit Rig(ReplanTiming timing = {}) {
        TrackerEnvironment environment{
            .read_topology =
                [this] {
                    ++sysfs_reads;
                    if (sysfs_fails) {
                        throw TopologyError("/sys/devices/system/node: gone");
                    }
                    return sysfs;
                },
            .open_kernel_source = [this]() -> std::unique_ptr<HotplugSource> {
                if (!family_present) {
                    return nullptr;
                }
                kernel_stream = {};
                return std::make_unique<FakeSource>(EventSource::kernel, &kernel, &kernel_stream);
            },
            .open_udev_source = [this] { return std::make_unique<FakeSource>(EventSource::udev, &udev, &udev_stream,
                                                                             &udev_memory_blocks_only); },
            .open_family_watcher = [this] { return std::make_unique<FakeWatcher>(&watcher); },
        };
        TrackerHooks hooks{
            .replan = [this](const Topology& topology) { plans.push_back(topology); },
            .event_applied = [this](const Event& event) { applied.push_back(event); },
            .resynced = {},
            .log = [this](const std::string& line) { log.push_back(line); },
        };
        tracker = std::make_unique<TopologyTracker>(io, environment, hooks, timing);
    }

    void run() {
        io.restart();
        io.run();
    }

    // An event from the kernel source, counted as its decoder counts it.
    void kernel_event(const Event& event) {
        ++kernel_stream.received;
        kernel_stream.last_seq = event.seq;
        kernel->on_event(event);
    }
};

}  // namespace

TEST_CASE("tracker: starts from sysfs on the kernel source and plans once") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    CHECK(rig.sysfs_reads == 1);
    CHECK(rig.tracker->source() == EventSource::kernel);
    REQUIRE(rig.kernel != nullptr);
    REQUIRE(rig.udev != nullptr);
    REQUIRE(rig.plans.size() == 1);
    CHECK(rig.plans[0] == two_node_machine());
}

TEST_CASE("tracker: without the family it runs on udev") {
    Rig rig;
    rig.family_present = false;
    rig.tracker->start();
    rig.run();
    CHECK(rig.tracker->source() == EventSource::udev);
    CHECK(rig.kernel == nullptr);
    CHECK(rig.plans.size() == 1);
}

TEST_CASE("tracker: events are applied to the topology before the replan") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    rig.kernel_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    rig.run();
    REQUIRE(rig.plans.size() == 2);
    CHECK(rig.plans[1].find_node(1)->cpus == CpuSet::range(2, 3));
    CHECK(rig.tracker->topology().online_cpus() == CpuSet::range(0, 3));
    CHECK(rig.tracker->counters().received == 1);
    CHECK(rig.tracker->counters().last_seq == 1);
    CHECK(rig.applied.size() == 1);
    CHECK(rig.sysfs_reads == 1);  // no resync needed
}

TEST_CASE("tracker: a burst of 1000 queued events is planned once") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    const auto before = rig.plans.size();
    // As a source does: one completion handler per event, all queued first.
    for (std::uint64_t seq = 1; seq <= 1000; ++seq) {
        const auto type = seq % 2 == 1 ? EventType::cpu_online : EventType::cpu_offline;
        boost::asio::post(rig.io, [&rig, type, seq] { rig.kernel->on_event(cpu_event(type, 3, 1, seq)); });
    }
    rig.run();
    CHECK(rig.tracker->counters().received == 1000);
    CHECK(rig.plans.size() - before <= 2);
    CHECK(rig.plans.size() - before >= 1);
    // 500 onlines and 500 offlines: cpu 3 ends offline, as sysfs says.
    CHECK(rig.plans.back() == two_node_machine());
    CHECK(rig.tracker->counters().lost == 0);
}

TEST_CASE("tracker: a burst delivered one event per handler, each posting the next, is planned once") {
    // The shape of kernel::EventChannel: a completion handler per notification,
    // the next receive posted from inside the previous handler.
    Rig rig;
    rig.tracker->start();
    rig.run();
    const auto before = rig.plans.size();
    std::function<void(std::uint64_t)> deliver = [&](std::uint64_t seq) {
        const auto type = seq % 2 == 1 ? EventType::cpu_online : EventType::cpu_offline;
        rig.kernel->on_event(cpu_event(type, 3, 1, seq));
        if (seq < 1000) {
            boost::asio::post(rig.io, [&deliver, seq] { deliver(seq + 1); });
        }
    };
    boost::asio::post(rig.io, [&deliver] { deliver(1); });
    rig.run();
    CHECK(rig.tracker->counters().received == 1000);
    CHECK(rig.plans.size() - before >= 1);
    CHECK(rig.plans.size() - before <= 3);
    CHECK(rig.plans.back() == two_node_machine());
}

TEST_CASE("tracker: bursts farther apart than the quiet period are planned each") {
    using namespace std::chrono_literals;
    Rig rig(ReplanTiming{.quiet = 10ms, .max_delay = 100ms});
    rig.tracker->start();
    rig.run();
    const auto before = rig.plans.size();
    rig.kernel->on_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    CHECK(rig.tracker->replan_pending());
    // The second burst comes after the first one's replan was due.
    boost::asio::steady_timer later(rig.io, 60ms);
    later.async_wait([&](boost::system::error_code) { rig.kernel->on_event(cpu_event(EventType::cpu_offline, 3, 1, 2)); });
    rig.run();
    CHECK_FALSE(rig.tracker->replan_pending());
    REQUIRE(rig.plans.size() - before == 2);
    CHECK(rig.plans[before].find_node(1)->cpus == CpuSet::range(2, 3));
    CHECK(rig.plans.back() == two_node_machine());
}

TEST_CASE("tracker: a storm that never goes quiet is still planned every max_delay") {
    using namespace std::chrono_literals;
    const ReplanTiming timing{.quiet = 20ms, .max_delay = 60ms};
    Rig rig(timing);
    rig.tracker->start();
    rig.run();
    const auto before = rig.plans.size();
    // An event every 2 ms for 300 ms: never 20 ms without one.
    boost::asio::steady_timer tick(rig.io);
    const auto storm_end = std::chrono::steady_clock::now() + 300ms;
    std::uint64_t seq = 0;
    std::size_t plans_during_storm = 0;
    std::function<void()> next = [&] {
        const auto type = ++seq % 2 == 1 ? EventType::cpu_online : EventType::cpu_offline;
        rig.kernel->on_event(cpu_event(type, 3, 1, seq));
        if (std::chrono::steady_clock::now() >= storm_end) {
            plans_during_storm = rig.plans.size() - before;
            return;
        }
        tick.expires_after(2ms);
        tick.async_wait([&](boost::system::error_code) { next(); });
    };
    next();
    rig.run();
    // 300 ms of storm, bounded waits of 60 ms: several replans while it
    // lasted (more if the machine is slow to fire timers), far fewer than events.
    CHECK(plans_during_storm >= 2);
    CHECK(rig.plans.size() - before <= seq / 5);
    CHECK(rig.plans.size() - before > plans_during_storm);  // and one after it
    CHECK(rig.plans.back() == rig.tracker->topology());
}

TEST_CASE("tracker: a requested replan does not wait for the burst to go quiet") {
    using namespace std::chrono_literals;
    // Quiet periods far longer than the test: only request_replan() can make it in time.
    Rig rig(ReplanTiming{.quiet = 30s, .max_delay = 60s});
    rig.tracker->start();
    rig.tracker->request_replan();
    rig.io.run_for(5s);  // returns once nothing is left to run
    REQUIRE(rig.plans.size() == 1);
    rig.kernel->on_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    rig.tracker->request_replan();  // a workload registered meanwhile
    rig.io.restart();
    rig.io.run_for(5s);
    REQUIRE(rig.plans.size() == 2);
    CHECK(rig.plans[1].find_node(1)->cpus == CpuSet::range(2, 3));
    CHECK_FALSE(rig.tracker->replan_pending());
}

TEST_CASE("tracker: stop() cancels a scheduled replan; destroying a stopped tracker leaves nothing to run") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    const auto before = rig.plans.size();
    rig.kernel->on_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    REQUIRE(rig.tracker->replan_pending());
    rig.tracker->stop();
    CHECK_FALSE(rig.tracker->replan_pending());
    rig.tracker.reset();
    rig.run();  // the cancelled wait completes without touching the tracker
    CHECK(rig.plans.size() == before);
}

TEST_CASE("tracker: a source's loss verdict resyncs from sysfs once; the source's count is reported") {
    // The counting itself is the decoder's (hpnotify_decoder_test.cpp): here
    // the source says a gap was seen and how many it has counted lost.
    Rig rig;
    rig.tracker->start();
    rig.run();
    rig.kernel_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    // Events 2..9 lost; meanwhile sysfs saw CPU 3 go offline and CPU 2 too.
    rig.sysfs.find_node(1)->cpus = CpuSet();
    rig.sysfs.find_node(1)->offline_cpus = CpuSet::range(2, 3);
    rig.kernel_stream.lost = 8;
    rig.kernel->on_loss("hpnotify: sequence gap: 8 events lost (seq 2..9)");
    rig.kernel_event(cpu_event(EventType::cpu_offline, 3, 1, 10));
    rig.kernel_event(cpu_event(EventType::cpu_offline, 2, 1, 11));
    rig.run();
    CHECK(rig.tracker->counters().lost == 8);
    CHECK(rig.tracker->counters().last_seq == 11);
    CHECK(rig.tracker->counters().resyncs == 1);
    CHECK(rig.sysfs_reads == 2);
    CHECK(rig.tracker->topology() == rig.sysfs);
    CHECK(rig.plans.back() == rig.sysfs);
    CHECK(std::count(rig.log.begin(), rig.log.end(),
                     "<6>resynced from sysfs (hpnotify: sequence gap: 8 events lost (seq 2..9))") == 1);
}

TEST_CASE("tracker: ENOBUFS on a source resyncs, many overruns in a burst resync once") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    rig.sysfs.find_node(1)->memory_bytes = 640ull << 20;
    rig.kernel_stream.lost = 1;
    rig.kernel_stream.overruns = 2;
    rig.kernel->on_loss("hpnotify: the receive buffer overran, the kernel dropped events");
    rig.kernel->on_loss("hpnotify: the receive buffer overran, the kernel dropped events");
    rig.run();
    CHECK(rig.tracker->counters().resyncs == 1);
    CHECK(rig.tracker->topology().find_node(1)->memory_bytes == 640ull << 20);
    CHECK(rig.plans.back() == rig.sysfs);
    CHECK(rig.tracker->counters().lost == 1);
    CHECK(rig.tracker->counters().overruns == 2);
    // udev's verdict resyncs too; both sources' counts add up.
    rig.udev_stream.lost = 1;
    rig.udev_stream.overruns = 1;
    rig.udev->on_loss("udev monitor: receive buffer overrun (ENOBUFS)");
    rig.run();
    CHECK(rig.tracker->counters().lost == 2);
    CHECK(rig.tracker->counters().overruns == 3);
    CHECK(rig.tracker->counters().resyncs == 2);
}

TEST_CASE("tracker: udev events other than memory blocks are ignored while the kernel feeds us") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    rig.udev->on_event(cpu_event(EventType::cpu_online, 3, 1, 5000, EventSource::udev));
    Event block;
    block.type = EventType::mem_block_added;
    block.source = EventSource::udev;
    block.start = 40 * (128ull << 20);
    block.size = 128ull << 20;
    rig.udev->on_event(block);
    rig.run();
    CHECK(rig.tracker->topology() == two_node_machine());
    REQUIRE(rig.applied.size() == 1);
    CHECK(rig.applied[0].type == EventType::mem_block_added);
    CHECK(rig.tracker->counters().received == 1);
}

TEST_CASE("tracker: the udev source is told to keep memory blocks alone while the kernel source runs") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    CHECK(rig.udev_memory_blocks_only);
    rig.family_present = false;
    rig.watcher->on_family_vanished();
    rig.run();
    CHECK_FALSE(rig.udev_memory_blocks_only);
    rig.family_present = true;
    rig.watcher->on_family_appeared();
    rig.run();
    CHECK(rig.udev_memory_blocks_only);
    rig.kernel->on_gone("family unregistered");
    rig.run();
    CHECK_FALSE(rig.udev_memory_blocks_only);
}

TEST_CASE("tracker: without the family the udev source reports everything") {
    Rig rig;
    rig.family_present = false;
    rig.tracker->start();
    rig.run();
    CHECK_FALSE(rig.udev_memory_blocks_only);
}

TEST_CASE("tracker: switches to udev when the family vanishes and back when it returns") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    REQUIRE(rig.watcher != nullptr);
    rig.kernel_event(cpu_event(EventType::cpu_offline, 2, 1, 7));
    rig.kernel_stream.lost = 3;  // counted by the source that goes
    rig.run();

    rig.family_present = false;
    rig.watcher->on_family_vanished();
    rig.run();
    CHECK(rig.tracker->source() == EventSource::udev);
    CHECK(rig.kernel == nullptr);
    CHECK(rig.tracker->counters().resyncs == 1);
    // A closed source's counts stay in the totals.
    CHECK(rig.tracker->counters().last_seq == 7);
    CHECK(rig.tracker->counters().lost == 3);
    // udev now feeds CPU events.
    rig.udev->on_event(cpu_event(EventType::cpu_online, 3, 1, 9000, EventSource::udev));
    rig.run();
    CHECK(rig.tracker->topology().find_node(1)->cpus.test(3));

    rig.family_present = true;
    rig.watcher->on_family_appeared();
    rig.run();
    CHECK(rig.tracker->source() == EventSource::kernel);
    REQUIRE(rig.kernel != nullptr);
    CHECK(rig.tracker->counters().resyncs == 2);
    // A reloaded module numbers from 1 again: not a loss.
    rig.kernel_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    rig.run();
    CHECK(rig.tracker->counters().lost == 3);
    CHECK(rig.tracker->counters().last_seq == 1);
}

TEST_CASE("tracker: the kernel source going away falls back to udev") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    rig.kernel->on_gone("family unregistered");
    rig.run();
    CHECK(rig.tracker->source() == EventSource::udev);
    CHECK(rig.tracker->counters().resyncs == 1);
}

TEST_CASE("tracker: a failing resync keeps the previous picture") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    rig.kernel->on_event(cpu_event(EventType::cpu_online, 3, 1, 1));
    rig.run();
    const Topology before = rig.tracker->topology();
    rig.sysfs_fails = true;
    rig.kernel->on_loss("receive buffer overrun (ENOBUFS)");
    rig.run();
    CHECK(rig.tracker->topology() == before);
    CHECK(rig.tracker->counters().resyncs == 1);
    CHECK(rig.log.back().starts_with("<3>resync failed"));
}

TEST_CASE("tracker: an event the topology rejects is counted, logged once and resynced, never thrown") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    // Meanwhile sysfs knows better: node 1 has 640 MiB.
    rig.sysfs.find_node(1)->memory_bytes = 640ull << 20;
    Event no_size;  // mem_offline without its size: apply_event throws TopologyError
    no_size.type = EventType::mem_offline;
    no_size.source = EventSource::kernel;
    no_size.seq = 1;
    no_size.node = 1;
    CHECK_NOTHROW(rig.kernel->on_event(no_size));
    // A CPU id no kernel has, in the same burst: one resync for both.
    CHECK_NOTHROW(rig.kernel->on_event(cpu_event(EventType::cpu_online, 1u << 30, 1, 2)));
    CHECK_NOTHROW(rig.run());
    CHECK(rig.tracker->counters().rejected == 2);
    CHECK(rig.tracker->counters().received == 2);
    CHECK(rig.tracker->counters().lost == 0);
    CHECK(rig.tracker->counters().resyncs == 1);
    CHECK(rig.sysfs_reads == 2);
    CHECK(rig.tracker->topology() == rig.sysfs);
    CHECK(rig.plans.back() == rig.sysfs);
    CHECK(rig.applied.empty());  // nothing downstream sees a rejected event
    const auto rejected_lines = std::count_if(rig.log.begin(), rig.log.end(), [](const std::string& line) {
        return line.starts_with("<4>event rejected, resyncing from sysfs: mem_offline event #1 has no size");
    });
    CHECK(rejected_lines == 1);
    // The tracker goes on taking events.
    rig.kernel->on_event(cpu_event(EventType::cpu_online, 3, 1, 3));
    rig.run();
    CHECK(rig.tracker->topology().find_node(1)->cpus.test(3));
    CHECK(rig.applied.size() == 1);
}

TEST_CASE("tracker: memory going offline that the picture does not have resyncs; the event still goes on") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    // sysfs: node 1 really had 768 MiB (a DIMM onlined while we were not looking), 640 MiB after.
    rig.sysfs.find_node(1)->memory_bytes = 640ull << 20;
    Event offline;
    offline.type = EventType::mem_offline;
    offline.source = EventSource::kernel;
    offline.seq = 1;
    offline.node = 1;
    offline.start = 1ull << 32;
    offline.size = 1024ull << 20;  // more than the 512 MiB node 1 has in the picture
    CHECK_NOTHROW(rig.kernel->on_event(offline));
    rig.run();
    CHECK(rig.tracker->counters().rejected == 1);
    CHECK(rig.tracker->counters().resyncs == 1);
    CHECK(rig.tracker->topology() == rig.sysfs);
    REQUIRE(rig.applied.size() == 1);  // a real event: clients and auto_online see it
    CHECK(std::count_if(rig.log.begin(), rig.log.end(), [](const std::string& line) {
              return line == "<4>event inconsistent with the picture, resyncing from sysfs: mem_offline event #1 takes "
                             "1073741824 bytes off node 1, which has 536870912";
          }) == 1);
    // Node 7 is not in the picture at all.
    offline.seq = 2;
    offline.node = 7;
    offline.size = 128ull << 20;
    rig.kernel->on_event(offline);
    rig.run();
    CHECK(rig.tracker->counters().rejected == 2);
    CHECK(rig.tracker->counters().resyncs == 2);
    // Memory the picture has goes offline quietly.
    offline.seq = 3;
    offline.node = 0;
    rig.kernel->on_event(offline);
    rig.run();
    CHECK(rig.tracker->counters().rejected == 2);
    CHECK(rig.tracker->counters().resyncs == 2);
    CHECK(rig.tracker->topology().find_node(0)->memory_bytes == 384ull << 20);
}

TEST_CASE("tracker: a hotplug operation the kernel refused is logged once and changes nothing") {
    Rig rig;
    rig.tracker->start();
    rig.run();
    const Topology before = rig.tracker->topology();
    const std::size_t lines_before = rig.log.size();
    const auto event_on_node1 = [](EventType type, std::uint64_t seq) {
        Event event;
        event.type = type;
        event.seq = seq;
        event.node = 1;
        return event;
    };
    Event going = event_on_node1(EventType::mem_going_offline, 1);
    going.start = 5ull << 30;
    going.size = 128ull << 20;
    Event canceled = going;
    canceled.type = EventType::mem_offline_canceled;
    canceled.seq = 2;
    Event failed = event_on_node1(EventType::cpu_add_failed, 3);
    failed.cpu = 3;
    for (const Event& event : {going, canceled, failed}) {
        rig.kernel->on_event(event);
        rig.run();
    }
    CHECK(rig.tracker->topology() == before);
    CHECK(rig.tracker->counters().rejected == 0);
    CHECK(rig.applied.size() == 3);
    const auto count = [&](std::string_view needle) {
        return std::count_if(rig.log.begin(), rig.log.end(),
                             [&](const std::string& line) { return line.find(needle) != std::string::npos; });
    };
    CHECK(count("refused to offline memory") == 1);
    CHECK(count("failed to bring up a CPU") == 1);
    CHECK(count("mem_offline_canceled") == 1);
    CHECK(rig.log.size() == lines_before + 2);
}
