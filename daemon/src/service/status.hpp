#pragma once

// The daemon's status (control/status.hpp) from its topology and counters.

#include <cstdint>

#include "control/status.hpp"
#include "core/event.hpp"
#include "topology/topology.hpp"

namespace hpplace {

control::Status make_status(EventSource source, const Topology& topology, const control::EventCounters& counters,
                            std::uint64_t plan_generation);

}  // namespace hpplace
