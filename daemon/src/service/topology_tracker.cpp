#include "service/topology_tracker.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "core/log.hpp"

namespace hpplace {

namespace {

// Why a well-formed event contradicts the picture, if it does: memory going
// offline that the picture never had (apply_event clamps it to zero; sysfs
// tells what is really there).
std::optional<std::string> contradiction(const Topology& topology, const Event& event) {
    if (event.type != EventType::mem_offline || !event.node || !event.size || *event.size == 0) {
        return std::nullopt;
    }
    const NumaNode* node = topology.find_node(*event.node);
    const std::uint64_t has = node != nullptr ? node->memory_bytes : 0;
    if (has >= *event.size) {
        return std::nullopt;
    }
    return "mem_offline event #" + std::to_string(event.seq) + " takes " + std::to_string(*event.size) +
           " bytes off node " + std::to_string(*event.node) + ", which has " + std::to_string(has);
}

// A hotplug operation the kernel refused (a notifier vetoed it, or the CPU did
// not come up): nothing changed, but the operator who asked needs to know.
std::optional<std::string> refusal(const Event& event) {
    switch (event.type) {
        case EventType::cpu_add_failed:
            return "the kernel failed to bring up a CPU, it stays offline: " + to_text(event);
        case EventType::mem_online_canceled:
            return "the kernel refused to online memory, it stays offline: " + to_text(event);
        case EventType::mem_offline_canceled:
            return "the kernel refused to offline memory (unmovable pages or a veto), it stays online and a "
                   "removal that needed it did not happen: " +
                   to_text(event);
        default:
            return std::nullopt;
    }
}

}  // namespace

// Forwards one source's reports to the tracker, tagged with the source.
class TopologyTracker::Slot final : public SourceListener {
public:
    Slot(TopologyTracker& tracker, EventSource which) : tracker_(tracker), which_(which) {}
    void on_event(const Event& event) override { tracker_.take_event(which_, event); }
    void on_loss(const std::string& reason) override { tracker_.take_loss(which_, reason); }
    void on_gone(const std::string& reason) override { tracker_.take_gone(which_, reason); }

private:
    TopologyTracker& tracker_;
    EventSource which_;
};

TopologyTracker::TopologyTracker(boost::asio::io_context& io, TrackerEnvironment environment, TrackerHooks hooks,
                                 ReplanTiming timing)
    : io_(io)
    , environment_(std::move(environment))
    , hooks_(std::move(hooks))
    , timing_(timing)
    , replan_timer_(io)
    , kernel_slot_(std::make_unique<Slot>(*this, EventSource::kernel))
    , udev_slot_(std::make_unique<Slot>(*this, EventSource::udev)) {}

TopologyTracker::~TopologyTracker() {
    stop();
}

void TopologyTracker::log(const std::string& line) const {
    if (hooks_.log) {
        hooks_.log(line);
    } else {
        log::to_stderr("hpplaced", line);
    }
}

void TopologyTracker::start() {
    stopped_ = false;
    topology_ = environment_.read_topology();
    if (environment_.open_udev_source) {
        try {
            udev_ = environment_.open_udev_source();
            if (udev_) {
                udev_->start(*udev_slot_);
            }
        } catch (const std::exception& error) {
            log(log::warning(std::string("udev source unavailable: ") + error.what()));
        }
    }
    if (open_kernel()) {
        log(log::notice("event source: kernel (hpnotify family)"));
    } else {
        log(log::notice("event source: udev (hpnotify family absent)"));
    }
    if (environment_.open_family_watcher) {
        try {
            watcher_ = environment_.open_family_watcher();
            if (watcher_) {
                watcher_->start(*this);
            }
        } catch (const std::exception& error) {
            log(log::warning(std::string("cannot watch the hpnotify family, no switching on module load: ") +
                             error.what()));
        }
    }
    schedule_replan();
}

void TopologyTracker::stop() noexcept {
    stopped_ = true;
    replan_scheduled_ = false;
    replan_asap_ = false;
    try {
        replan_timer_.cancel();
    } catch (const std::exception&) {
        // Nothing outstanding to cancel.
    }
    if (watcher_) {
        watcher_->stop();
    }
    if (kernel_) {
        kernel_->stop();
    }
    if (udev_) {
        udev_->stop();
    }
}

bool TopologyTracker::open_kernel() {
    if (!environment_.open_kernel_source) {
        return false;
    }
    try {
        kernel_ = environment_.open_kernel_source();
    } catch (const std::exception& error) {
        log(log::warning(std::string("hpnotify family present but unusable: ") + error.what()));
        kernel_.reset();
    }
    if (!kernel_) {
        return false;
    }
    kernel_->start(*kernel_slot_);
    udev_memory_blocks_only();
    return true;
}

void TopologyTracker::udev_memory_blocks_only() noexcept {
    if (udev_) {
        udev_->set_memory_blocks_only(kernel_ != nullptr);
    }
}

void TopologyTracker::drop_kernel(const std::string& reason) {
    if (!kernel_) {
        return;
    }
    kernel_->stop();
    retire(*kernel_);
    // We may be inside the source's own handler: destroy it later.
    boost::asio::post(io_, [source = std::shared_ptr<HotplugSource>(std::move(kernel_))] {});
    udev_memory_blocks_only();
    log(log::notice("event source: udev (" + reason + ")"));
    resync("switched to udev");
}

void TopologyTracker::retire(const HotplugSource& source) noexcept {
    const StreamCounters gone = source.counters();
    retired_.received += gone.received;
    retired_.lost += gone.lost;
    retired_.overruns += gone.overruns;
    if (source.kind() == EventSource::kernel) {
        retired_.last_seq = gone.last_seq;
    }
}

control::EventCounters TopologyTracker::counters() const noexcept {
    control::EventCounters out{.received = taken_in_,
                               .last_seq = kernel_ ? kernel_->counters().last_seq : retired_.last_seq,
                               .lost = retired_.lost,
                               .resyncs = resyncs_,
                               .rejected = rejected_,
                               .overruns = retired_.overruns};
    for (const auto* source : {kernel_.get(), udev_.get()}) {
        if (source != nullptr) {
            const StreamCounters now = source->counters();
            out.lost += now.lost;
            out.overruns += now.overruns;
        }
    }
    return out;
}

void TopologyTracker::on_family_appeared() {
    if (stopped_ || kernel_) {
        return;
    }
    if (open_kernel()) {
        log(log::notice("event source: kernel (hpnotify family appeared)"));
        resync("switched to kernel");
    }
}

void TopologyTracker::on_family_vanished() {
    if (stopped_) {
        return;
    }
    drop_kernel("hpnotify family vanished");
}

void TopologyTracker::take_event(EventSource from, const Event& event) {
    if (stopped_) {
        return;
    }
    if (from == EventSource::udev && kernel_ && event.type != EventType::mem_block_added &&
        event.type != EventType::mem_block_removed) {
        return;  // the kernel family reports these, with sequence numbers
    }
    ++taken_in_;
    // Even an event that changes nothing says the burst goes on.
    last_activity_ = std::chrono::steady_clock::now();
    if (const auto why = refusal(event)) {
        log(log::warning(*why));
    }
    if (const auto why = contradiction(topology_, event)) {
        // Applied all the same (clamped) and passed on: the event is real, our
        // picture is what is off.
        ++rejected_;
        log(log::warning("event inconsistent with the picture, resyncing from sysfs: " + *why));
        resync("inconsistent " + std::string(to_string(event.type)) + " event #" + std::to_string(event.seq));
    }
    try {
        if (apply_event(topology_, event)) {
            schedule_replan();
        }
    } catch (const TopologyError& error) {
        // The event does not fit our picture (a field missing, an id out of
        // range): the picture or the event is wrong, sysfs tells which. The
        // event is not passed on: nothing downstream sees what was not applied.
        ++rejected_;
        log(log::warning(std::string("event rejected, resyncing from sysfs: ") + error.what()));
        resync("rejected " + std::string(to_string(event.type)) + " event #" + std::to_string(event.seq));
        return;
    }
    if (hooks_.event_applied) {
        hooks_.event_applied(event);
    }
}

void TopologyTracker::take_loss(EventSource from, const std::string& reason) {
    if (stopped_) {
        return;
    }
    if (from == EventSource::udev && kernel_) {
        log(log::warning("udev: " + reason + " (memory block arrivals may be missed; resyncing)"));
    }
    // A gap's verdict comes before the event that shows it: that event is
    // applied before the resync rereads sysfs, which may or may not show it
    // yet; applying it again is harmless for the picture.
    resync(reason);
}

void TopologyTracker::take_gone(EventSource from, const std::string& reason) {
    if (stopped_) {
        return;
    }
    if (from == EventSource::kernel) {
        drop_kernel(reason);
        return;
    }
    log(log::warning("udev source stopped: " + reason));
    if (udev_) {
        udev_->stop();
        retire(*udev_);
        boost::asio::post(io_, [source = std::shared_ptr<HotplugSource>(std::move(udev_))] {});
    }
}

void TopologyTracker::resync(const std::string& reason) {
    // Deferred to the coming replan: a burst with several overruns rereads
    // sysfs once, after the burst.
    if (!pending_resync_.empty()) {
        pending_resync_ += "; ";
    }
    pending_resync_ += reason;
    schedule_replan();
}

void TopologyTracker::resync_now() {
    const std::string reason = std::exchange(pending_resync_, std::string());
    ++resyncs_;
    try {
        topology_ = environment_.read_topology();
        log(log::info("resynced from sysfs (" + reason + ")"));
    } catch (const std::exception& error) {
        log(log::err("resync failed, keeping the previous picture (" + reason + "): " + error.what()));
    }
    if (hooks_.resynced) {
        hooks_.resynced(topology_);
    }
}

void TopologyTracker::request_replan() {
    // Asked for (a workload registered, the config changed), not an event:
    // no burst to wait for, and the asker reads the plan next.
    const auto now = std::chrono::steady_clock::now();
    replan_asap_ = true;
    if (!replan_scheduled_) {
        replan_scheduled_ = true;
        burst_started_ = now;
    }
    wait_for_replan(now);
}

void TopologyTracker::schedule_replan() {
    const auto now = std::chrono::steady_clock::now();
    last_activity_ = now;
    if (replan_scheduled_) {
        return;  // the timer looks at last_activity_ when it fires
    }
    replan_scheduled_ = true;
    burst_started_ = now;
    wait_for_replan(now + timing_.quiet);
}

// Armed once per burst and re-armed only when it fires early: an event costs
// a clock read, not a timer operation.
void TopologyTracker::wait_for_replan(std::chrono::steady_clock::time_point at) {
    replan_timer_.expires_at(at);
    replan_timer_.async_wait([this](const boost::system::error_code& error) {
        // operation_aborted: stop() or the destructor cancelled it (*this may
        // be gone), or request_replan() moved it to now (its own wait follows).
        if (error != boost::asio::error::operation_aborted) {
            replan_due();
        }
    });
}

void TopologyTracker::replan_due() {
    if (stopped_ || !replan_scheduled_) {
        return;
    }
    const auto due = std::min(last_activity_ + timing_.quiet, burst_started_ + timing_.max_delay);
    if (!replan_asap_ && std::chrono::steady_clock::now() < due) {
        wait_for_replan(due);
        return;
    }
    replan_scheduled_ = false;
    replan_asap_ = false;
    if (!pending_resync_.empty()) {
        resync_now();
    }
    ++replans_;
    if (hooks_.replan) {
        hooks_.replan(topology_);
    }
}

}  // namespace hpplace
