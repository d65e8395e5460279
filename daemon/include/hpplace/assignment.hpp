#pragma once

// What hpplaced planned for one workload: the part of the daemon's plan
// (docs/contract.md, `hpctl plan --json`) that concerns the workload a client
// registered. Plain values, no library types.

#include <cstdint>
#include <string>
#include <vector>

namespace hpplace {

// One thread of the workload: its stable index and the CPU (and its node) it is pinned to.
struct AssignedThread {
    unsigned index = 0;
    unsigned cpu = 0;
    unsigned node = 0;
    friend bool operator==(const AssignedThread&, const AssignedThread&) = default;
};

// The buffer the workload keeps on one node.
struct AssignedBuffer {
    unsigned node = 0;
    std::uint64_t bytes = 0;
    friend bool operator==(const AssignedBuffer&, const AssignedBuffer&) = default;
};

struct Assignment {
    std::uint64_t generation = 0;  // the daemon's plan generation
    std::string workload;
    std::vector<AssignedThread> threads;
    std::vector<AssignedBuffer> buffers;
    std::string cpuset;  // cpulist, e.g. "0-3,8"
    std::string mems;    // nodelist
    friend bool operator==(const Assignment&, const Assignment&) = default;
};

}  // namespace hpplace
