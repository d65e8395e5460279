#pragma once

// The daemon's picture of the machine, kept up to date from the event sources:
//
//   - the initial picture and every resync come from sysfs (read_topology);
//   - events come from the hpnotify kernel family when it is there ("kernel"),
//     else from udev ("udev"); udev always runs, for memory-block arrival
//     (mem_block_added/removed) and as the fallback;
//   - the family watcher switches on the fly: module loaded -> kernel source,
//     module unloaded (or its source gone) -> udev; each switch resyncs;
//   - a source's verdict that events were lost (sequence gap, ENOBUFS: the
//     source checks and counts, the tracker only acts) resyncs, so the
//     topology is never silently wrong; so does an event that does not fit the picture
//     (counted in counters().rejected, logged): one apply_event rejects (a
//     field missing, an id out of range: not applied, not passed on, never
//     thrown out of the event loop) or memory going offline that the picture
//     does not have (applied, clamped at zero, and passed on);
//   - re-planning is coalesced on a timer: a change arms it, every event
//     moves it on, and it fires once no event came for ReplanTiming::quiet,
//     or at the latest ReplanTiming::max_delay after the burst's first
//     change, so a burst is planned once and a storm that never ends is
//     still planned every max_delay. request_replan() does not wait.
//
// Everything OS-bound is injected (TrackerEnvironment), so tests drive the
// tracker with fake sources on a plain io_context.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/status.hpp"
#include "core/event.hpp"
#include "sources/hotplug_source.hpp"
#include "topology/topology.hpp"

namespace hpplace {

struct TrackerEnvironment {
    // The full picture (sysfs). Throws on failure: the old picture is kept.
    std::function<Topology()> read_topology;
    // The hpnotify family source, or nullptr when the family is absent.
    std::function<std::unique_ptr<HotplugSource>()> open_kernel_source;
    // The udev source; may throw (no udev): the tracker runs without it.
    std::function<std::unique_ptr<HotplugSource>()> open_udev_source;
    // Watches the family's (re)appearance; nullptr or empty: not watched.
    std::function<std::unique_ptr<FamilyWatcher>()> open_family_watcher;
};

struct TrackerHooks {
    // The coalesced re-planning step: called once per batch of changes.
    std::function<void(const Topology&)> replan;
    // Every event taken in, after it was applied to the topology (not for
    // events the topology rejected: those resync instead).
    std::function<void(const Event&)> event_applied;
    // After each resync from sysfs (switch or loss).
    std::function<void(const Topology&)> resynced;
    // One log line (no newline).
    std::function<void(const std::string&)> log;
};

// How long a replan waits for a burst to end. A hotplug operation's events
// come within a few milliseconds of each other (cpu_add_start, cpu_online).
struct ReplanTiming {
    std::chrono::milliseconds quiet{10};       // no event for this long: the burst is over
    std::chrono::milliseconds max_delay{100};  // after the burst's first change, at the latest
};

class TopologyTracker final : private FamilyWatcherListener {
public:
    TopologyTracker(boost::asio::io_context& io, TrackerEnvironment environment, TrackerHooks hooks,
                    ReplanTiming timing = {});
    ~TopologyTracker() override;
    TopologyTracker(const TopologyTracker&) = delete;
    TopologyTracker& operator=(const TopologyTracker&) = delete;

    // Reads the initial picture, opens the sources, schedules the first replan.
    // Throws when the initial picture cannot be read.
    void start();
    // Stops the sources and the replan timer; no hook is called after it.
    void stop() noexcept;

    // Rereads sysfs (once, at the coming replan) and replans.
    void resync(const std::string& reason);
    // Replans at once (on the loop) even though nothing changed: a workload
    // registered, the config changed.
    void request_replan();
    // A replan is scheduled and has not run yet.
    bool replan_pending() const noexcept { return replan_scheduled_; }

    const Topology& topology() const noexcept { return topology_; }
    // "kernel" while the hpnotify family feeds us, else "udev".
    EventSource source() const noexcept { return kernel_ ? EventSource::kernel : EventSource::udev; }
    // Sampled now: the sources' counts (those of sources gone included) and the tracker's.
    control::EventCounters counters() const noexcept;
    std::uint64_t replans() const noexcept { return replans_; }

private:
    class Slot;

    void on_family_appeared() override;
    void on_family_vanished() override;

    void take_event(EventSource from, const Event& event);
    void take_loss(EventSource from, const std::string& reason);
    void take_gone(EventSource from, const std::string& reason);

    bool open_kernel();
    // Tells the udev source whether the kernel source reports CPUs and memory state for it.
    void udev_memory_blocks_only() noexcept;
    // Keeps the counts of a source about to be closed.
    void retire(const HotplugSource& source) noexcept;
    void drop_kernel(const std::string& reason);
    void schedule_replan();
    void resync_now();
    void wait_for_replan(std::chrono::steady_clock::time_point at);
    void replan_due();
    void log(const std::string& line) const;

    boost::asio::io_context& io_;
    TrackerEnvironment environment_;
    TrackerHooks hooks_;
    Topology topology_;
    std::uint64_t taken_in_ = 0;  // events taken in (not those of udev the kernel reports)
    std::uint64_t resyncs_ = 0;
    std::uint64_t rejected_ = 0;
    StreamCounters retired_;  // of the sources closed so far; last_seq: the last kernel source's
    std::uint64_t replans_ = 0;
    ReplanTiming timing_;
    boost::asio::steady_timer replan_timer_;
    bool replan_scheduled_ = false;
    bool replan_asap_ = false;  // request_replan(): without waiting for quiet
    std::chrono::steady_clock::time_point burst_started_;  // the first change since the last replan
    std::chrono::steady_clock::time_point last_activity_;  // the last event, loss or change
    std::string pending_resync_;  // reasons; empty: no resync pending
    bool stopped_ = false;
    std::unique_ptr<Slot> kernel_slot_;
    std::unique_ptr<Slot> udev_slot_;
    std::unique_ptr<HotplugSource> kernel_;
    std::unique_ptr<HotplugSource> udev_;
    std::unique_ptr<FamilyWatcher> watcher_;
};

}  // namespace hpplace
