#pragma once
// Small pieces shared by the generators of the planner's randomized tests
// (planner_property_test.cpp, planner_reference_test.cpp). Each test keeps its
// own random_topology()/random_config(): their distributions differ on purpose.
#include <algorithm>
#include <random>

#include "topology/topology.hpp"

namespace hpplace::test {

inline unsigned pick(std::mt19937& rng, unsigned low, unsigned high) {
    return std::uniform_int_distribution<unsigned>(low, high)(rng);
}

inline bool chance(std::mt19937& rng, double p) { return std::bernoulli_distribution(p)(rng); }

// One past the highest CPU, online or offline, of any node.
inline unsigned cpu_end(const Topology& topology) {
    unsigned end = 0;
    for (const auto& node : topology.nodes) {
        end = std::max({end, node.cpus.end(), node.offline_cpus.end()});
    }
    return end;
}

// A symmetric SLIT: 10 on the diagonal, next_distance() for each pair (i, j < i) in that order.
template <typename NextDistance>
void fill_distances(Topology& topology, NextDistance next_distance) {
    const auto count = topology.nodes.size();
    for (std::size_t i = 0; i < count; ++i) {
        topology.nodes[i].distances.resize(count);
        topology.nodes[i].distances[i] = 10;
        for (std::size_t j = 0; j < i; ++j) {
            const unsigned d = next_distance();
            topology.nodes[i].distances[j] = d;
            topology.nodes[j].distances[i] = d;
        }
    }
}

}  // namespace hpplace::test
