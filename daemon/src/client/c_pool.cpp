// The C API's worker pool and node buffers (hpplace.h): hpp_pool over
// hpplace::WorkerPool, hpp_buffers over hpplace::NodeBuffers.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include "client/c_boundary.hpp"
#include "hpplace/hpplace.h"
#include "hpplace/node_buffers.hpp"
#include "hpplace/worker_pool.hpp"

struct hpp_pool {
    std::unique_ptr<hpplace::WorkerPool> pool;
};

// Lives on its worker's stack for as long as the worker function runs.
struct hpp_worker {
    const hpplace::Worker& worker;
    std::stop_token stop;
    std::mutex mutex;
    std::condition_variable_any wake;
};

struct hpp_buffers {
    std::unique_ptr<hpplace::NodeBuffers> buffers;
};

struct hpp_chunks {
    std::vector<std::shared_ptr<hpplace::BufferChunk>> held;
    std::vector<hpp_chunk> chunks;
};

namespace hpplace::c_api {

Assignment assignment_of(const hpp_assignment& in) {
    hpp_assignment assignment;
    if (read_input(&in, assignment) != 0 || (assignment.thread_count != 0 && assignment.threads == nullptr) ||
        (assignment.buffer_count != 0 && assignment.buffers == nullptr)) {
        throw std::invalid_argument("hpp_assignment");
    }
    Assignment out;
    out.generation = assignment.generation;
    out.workload = assignment.workload != nullptr ? assignment.workload : "";
    for (std::size_t i = 0; i < assignment.thread_count; ++i) {
        const hpp_thread& thread = assignment.threads[i];
        out.threads.push_back({thread.index, thread.cpu, thread.node});
    }
    for (std::size_t i = 0; i < assignment.buffer_count; ++i) {
        out.buffers.push_back({assignment.buffers[i].node, assignment.buffers[i].bytes});
    }
    out.cpuset = assignment.cpuset != nullptr ? assignment.cpuset : "";
    out.mems = assignment.mems != nullptr ? assignment.mems : "";
    return out;
}

namespace {

void count_into(const PoolChanges& changes, hpp_pool_changes* out) noexcept {
    if (out == nullptr) {
        return;
    }
    *out = hpp_pool_changes{};
    out->struct_size = sizeof(*out);
    out->started = changes.started.size();
    out->moved = changes.moved.size();
    out->stopped = changes.stopped.size();
    out->retrying = changes.retrying.size();
    out->errors = changes.errors.size();
}

}  // namespace

}  // namespace hpplace::c_api

using namespace hpplace;
using namespace hpplace::c_api;

extern "C" {

hpp_pool* hpp_pool_new(hpp_worker_function fn, void* context, const hpp_pool_options* in, int* error) {
    hpp_pool_options options;
    if (fn == nullptr || read_input(in, options) != 0 ||
        (options.flags & ~HPP_POOL_KEEP_ON_CPU_GOING_OFFLINE) != 0) {
        return fail(error, -EINVAL);
    }
    return create(error, [&] {
        WorkerPoolOptions cxx;
        cxx.log = log_function(options.log, options.log_context);
        using std::chrono::milliseconds;
        if (options.pin_retry_first_ms != 0) {
            cxx.pin_retry_first = milliseconds(options.pin_retry_first_ms);
        }
        if (options.pin_retry_max_ms != 0) {
            cxx.pin_retry_max = milliseconds(options.pin_retry_max_ms);
        }
        if (options.pin_retry_budget_ms != 0) {
            cxx.pin_retry_budget = milliseconds(options.pin_retry_budget_ms);
        }
        cxx.stop_on_cpu_going_offline = (options.flags & HPP_POOL_KEEP_ON_CPU_GOING_OFFLINE) == 0;
        auto pool = std::make_unique<hpp_pool>();
        pool->pool = std::make_unique<WorkerPool>(
            [fn, context](std::stop_token stop, const Worker& me) {
                hpp_worker worker{me, stop, {}, {}};
                fn(&worker, context);
            },
            std::move(cxx));
        return pool;
    });
}

void hpp_pool_free(hpp_pool* pool) { delete pool; }

int hpp_pool_apply(hpp_pool* pool, const hpp_assignment* assignment, hpp_pool_changes* changes) {
    if (pool == nullptr || assignment == nullptr) {
        return -EINVAL;
    }
    return guarded([&] {
        count_into(pool->pool->apply(assignment_of(*assignment)), changes);
        return 0;
    });
}

int hpp_pool_stop_all(hpp_pool* pool, hpp_pool_changes* changes) {
    if (pool == nullptr) {
        return -EINVAL;
    }
    return guarded([&] {
        count_into(pool->pool->stop_all(), changes);
        return 0;
    });
}

size_t hpp_pool_threads(const hpp_pool* pool, hpp_thread* threads, size_t max) {
    if (pool == nullptr) {
        return 0;
    }
    try {
        const auto running = pool->pool->threads();
        for (std::size_t i = 0; i < std::min(max, running.size()) && threads != nullptr; ++i) {
            threads[i] = {running[i].index, running[i].cpu, running[i].node, 0};
        }
        return running.size();
    } catch (...) {
        return 0;
    }
}

unsigned hpp_worker_index(const hpp_worker* worker) { return worker->worker.index(); }
unsigned hpp_worker_cpu(const hpp_worker* worker) { return worker->worker.cpu(); }
unsigned hpp_worker_node(const hpp_worker* worker) { return worker->worker.node(); }
int hpp_worker_stop_requested(const hpp_worker* worker) { return worker->stop.stop_requested() ? 1 : 0; }

int hpp_worker_wait(hpp_worker* worker, unsigned timeout_ms) {
    std::unique_lock lock(worker->mutex);
    // Nothing but the stop wakes it: the predicate stays false.
    (void)worker->wake.wait_for(lock, worker->stop, std::chrono::milliseconds(timeout_ms), [] { return false; });
    return worker->stop.stop_requested() ? 1 : 0;
}

hpp_buffers* hpp_buffers_new(const hpp_buffers_options* in, int* error) {
    hpp_buffers_options options;
    if (read_input(in, options) != 0) {
        return fail(error, -EINVAL);
    }
    return create(error, [&] {
        NodeBuffersOptions cxx;
        if (options.chunk_bytes != 0) {
            cxx.chunk_bytes = options.chunk_bytes;
        }
        cxx.log = log_function(options.log, options.log_context);
        auto buffers = std::make_unique<hpp_buffers>();
        buffers->buffers = std::make_unique<NodeBuffers>(std::move(cxx));
        return buffers;
    });
}

void hpp_buffers_free(hpp_buffers* buffers) { delete buffers; }

int hpp_buffers_apply(hpp_buffers* buffers, const hpp_assignment* assignment) {
    if (buffers == nullptr || assignment == nullptr) {
        return -EINVAL;
    }
    return guarded([&] {
        buffers->buffers->apply(assignment_of(*assignment));
        return 0;
    });
}

int hpp_buffers_resize(hpp_buffers* buffers, unsigned node, uint64_t bytes) {
    if (buffers == nullptr) {
        return -EINVAL;
    }
    return guarded([&] {
        buffers->buffers->resize(node, bytes);
        return 0;
    });
}

uint64_t hpp_buffers_ready_bytes(const hpp_buffers* buffers, unsigned node) {
    if (buffers == nullptr) {
        return 0;
    }
    try {
        return buffers->buffers->ready_bytes(node);
    } catch (...) {
        return 0;
    }
}

int hpp_buffers_wait_ready(const hpp_buffers* buffers, unsigned timeout_ms) {
    if (buffers == nullptr) {
        return -EINVAL;
    }
    return guarded([&] {
        return buffers->buffers->wait_ready(std::chrono::milliseconds(timeout_ms)) ? 0 : -ETIMEDOUT;
    });
}

int hpp_buffers_numa_enabled(const hpp_buffers* buffers) {
    return buffers != nullptr && buffers->buffers->numa_enabled() ? 1 : 0;
}

int hpp_buffers_chunks(const hpp_buffers* buffers, unsigned node, hpp_chunks** out) {
    if (buffers == nullptr || out == nullptr) {
        return -EINVAL;
    }
    return guarded([&] {
        auto chunks = std::make_unique<hpp_chunks>();
        chunks->held = buffers->buffers->chunks(node);
        for (const auto& chunk : chunks->held) {
            chunks->chunks.push_back({chunk->data(), chunk->size(), chunk->node(), chunk->node_local() ? 1 : 0});
        }
        *out = chunks.release();
        return 0;
    });
}

size_t hpp_chunks_count(const hpp_chunks* chunks) { return chunks != nullptr ? chunks->chunks.size() : 0; }

const hpp_chunk* hpp_chunks_at(const hpp_chunks* chunks, size_t index) {
    return chunks != nullptr && index < chunks->chunks.size() ? &chunks->chunks[index] : nullptr;
}

void hpp_chunks_release(hpp_chunks* chunks) { delete chunks; }

}  // extern "C"
