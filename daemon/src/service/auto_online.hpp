#pragma once

// The auto-onliner: carries out the config's auto_online policy
// (config/auto_online_policy.hpp) on CPUs and memory blocks that arrive offline.
// What the kernel (or anyone) already onlined is left alone.
//
// AutoOnliner does it there and then:
//   AutoOnliner onliner(config.auto_online);       // sysfs root "/sys"
//   on each event:  auto r = onliner.on_event(event);  // cpu_arrived, mem_block_added
//   metrics.count_apply_errors("auto_online", r.errors);
// The daemon acts on arrivals only; on_resync() (every present-but-offline CPU
// and offline block) is not called by it.
// Its calls wait on kernel locks: reading or writing cpuN/online takes the
// CPU's device lock (held while that CPU comes or goes), a write the device
// hotplug lock, then the CPU hotplug lock; onlining memory takes the memory
// hotplug lock. The daemon therefore uses AutoOnlineApplier, which makes the
// same calls on a thread of their own and brings the results to the loop.
// Writing "1" to cpuN/online makes the kernel emit cpu_add_start / cpu_online
// as usual: the daemon learns about the new CPU through its event sources.
// Failures are logged (one line) and counted, never fatal.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>

#include "config/auto_online_policy.hpp"
#include "core/event.hpp"
#include "service/blocking_worker.hpp"

namespace hpplace {

struct AutoOnlineResult {
    unsigned onlined = 0;  // CPUs and memory blocks we onlined
    unsigned errors = 0;   // failed reads/writes
};

class AutoOnliner {
public:
    using LogLine = std::function<void(const std::string&)>;

    explicit AutoOnliner(AutoOnlinePolicy policy, std::filesystem::path sysfs_root = "/sys", LogLine log = {});

    // cpu_arrived (event.cpu) onlines that CPU; mem_block_added (event.start and
    // event.size, physical) onlines the blocks of that range that are offline.
    // Other events: nothing.
    AutoOnlineResult on_event(const Event& event);
    // Onlines every present-but-offline CPU and every offline memory block.
    AutoOnlineResult on_resync();

    AutoOnlineResult online_cpu(unsigned cpu);
    AutoOnlineResult online_memory_block(unsigned block);

    AutoOnlinePolicy policy() const noexcept { return policy_; }

private:
    std::filesystem::path cpu_dir() const;
    std::filesystem::path memory_dir() const;
    std::optional<std::uint64_t> memory_block_size();

    AutoOnlinePolicy policy_;
    std::filesystem::path root_;
    LogLine log_;
};

// The policy off the event loop: each event that may need onlining is a job of
// a BlockingWorker (an AutoOnliner's on_event() there), keyed by the CPU or the
// memory range, so a second event for one whose job has not started yet makes
// no second job. Log lines and error counts come back to the loop.
class AutoOnlineApplier {
public:
    using LogLine = AutoOnliner::LogLine;
    using CountErrors = std::function<void(unsigned errors)>;

    AutoOnlineApplier(boost::asio::any_io_executor loop, AutoOnlinePolicy policy,
                      std::filesystem::path sysfs_root = "/sys", LogLine log = {}, CountErrors count_errors = {});

    void on_event(const Event& event);
    // For the events from now on (a job already submitted keeps its policy).
    void set_policy(AutoOnlinePolicy policy) noexcept { policy_ = policy; }
    AutoOnlinePolicy policy() const noexcept { return policy_; }
    // Jobs whose result has not come back yet.
    std::size_t in_flight() const noexcept { return worker_.in_flight(); }

private:
    AutoOnlinePolicy policy_;
    std::filesystem::path root_;
    LogLine log_;
    CountErrors count_errors_;
    BlockingWorker worker_;  // last: joins before the rest goes
};

}  // namespace hpplace
