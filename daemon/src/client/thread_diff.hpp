#pragma once

// Which threads of a workload to start, move or stop to go from the threads
// that run to the planned ones (threads are identified by their index).

#include <vector>

#include "hpplace/assignment.hpp"

namespace hpplace::client {

struct ThreadActions {
    std::vector<AssignedThread> start;  // planned, not running
    std::vector<AssignedThread> move;   // running elsewhere: the planned place
    std::vector<AssignedThread> stop;   // running, no longer planned: where it runs
    friend bool operator==(const ThreadActions&, const ThreadActions&) = default;
};

// Pure. Throws std::invalid_argument when an index appears twice in planned.
ThreadActions diff_threads(const std::vector<AssignedThread>& running, const std::vector<AssignedThread>& planned);

}  // namespace hpplace::client
