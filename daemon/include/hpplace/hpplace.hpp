#pragma once

// libhpplace: NUMA-aware placement that follows CPU and memory hotplug.
// `pkg-config --cflags --libs hpplace`, or find_package(hpplace) and hpplace::hpplace.

#include "hpplace/assignment.hpp"
#include "hpplace/client.hpp"
#include "hpplace/node_buffers.hpp"
#include "hpplace/worker_pool.hpp"
