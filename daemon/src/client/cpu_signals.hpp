#pragma once

// How a Client's read path tells the process's WorkerPools about CPUs leaving
// or coming back. A CPU is the whole system's, so every pool hears it, whichever
// client saw the event. Posting never blocks on a pool's apply() and never runs
// application code: it queues the CPU for each pool's own thread.

#include <optional>

#include "core/cpu_set.hpp"

namespace hpplace::client {

void post_cpu_going_offline(unsigned cpu);
void post_cpu_online(unsigned cpu);

// /sys/devices/system/cpu/online, or nothing when it cannot be read or parsed.
std::optional<CpuSet> system_online_cpus();

}  // namespace hpplace::client
