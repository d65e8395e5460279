#pragma once

#include <string>
#include <vector>

#include "topology/topology.hpp"

namespace hpplace {

// An optional cross-check of a snapshot read from the live /sys against
// libnuma's view of the running system: node set, each node's online CPUs and
// the distances. Returns one line per difference (empty when they agree or when
// libnuma reports NUMA unavailable, as on a non-NUMA kernel). Memory is not
// compared: libnuma's node size is meminfo's MemTotal, not online blocks.
//
// read_topology() does not use libnuma: libnuma reads the fixed /sys and caches
// node-to-CPU maps, which numa(3) says must be refreshed with
// numa_node_to_cpu_update() after CPU hotplug; this check calls it first. Its
// distance table is cached from the first numa_distance() call and does not
// follow node hot-add.
std::vector<std::string> libnuma_differences(const Topology& live);

}  // namespace hpplace
