#include "service/status.hpp"

namespace hpplace {

control::Status make_status(EventSource source, const Topology& topology, const control::EventCounters& counters,
                            std::uint64_t plan_generation) {
    control::Status status{.source = source, .events = counters, .plan_generation = plan_generation};
    for (const auto& node : topology.nodes) {
        status.online |= node.cpus;
        status.present |= node.cpus;
        status.present |= node.offline_cpus;
        status.nodes.push_back({.id = node.id, .cpus = node.cpus, .memory_bytes = node.memory_bytes});
    }
    return status;
}

}  // namespace hpplace
