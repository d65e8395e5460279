#pragma once

// hpplace::NodeBuffers: a workload's NUMA-local memory, per node, sized by the
// plan (Assignment::buffers). Memory is held in chunks allocated on their node
// (libnuma numa_alloc_onnode, i.e. mbind MPOL_BIND). Growth is pre-faulted by a
// background thread of the pool before it is handed out, so workers never take
// the page faults of a memory arrival. Shrinking removes chunks from the node's
// list; a chunk's memory is freed only when the last holder of its shared_ptr
// drops it, so a reader may keep using a chunk it holds after a shrink.
// Without NUMA (numa_available() < 0) chunks are plain anonymous memory (logged once).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "hpplace/assignment.hpp"
#include "hpplace/export.hpp"

namespace hpplace {

class HPPLACE_API BufferChunk {
public:
    virtual ~BufferChunk() = default;
    virtual std::byte* data() const noexcept = 0;
    virtual std::size_t size() const noexcept = 0;
    virtual unsigned node() const noexcept = 0;
    // False when the memory could not be bound to node() (NUMA unavailable, node without memory).
    virtual bool node_local() const noexcept = 0;
};

struct NodeBufferStatus {
    unsigned node = 0;
    std::uint64_t target_bytes = 0;  // what the plan asks for
    std::uint64_t ready_bytes = 0;   // pre-faulted and handed out
    std::size_t chunks = 0;          // ready chunks
};

struct NodeBuffersOptions {
    std::size_t chunk_bytes = 2 * 1024 * 1024;  // rounded up to the page size
    // One line per call, no newline. Default: "libhpplace: ..." on stderr.
    std::function<void(std::string_view)> log;
};

class HPPLACE_API NodeBuffers {
public:
    explicit NodeBuffers(NodeBuffersOptions options = {});
    ~NodeBuffers();
    NodeBuffers(const NodeBuffers&) = delete;
    NodeBuffers& operator=(const NodeBuffers&) = delete;

    // Sizes every node to the assignment (a node it does not name shrinks to 0).
    void apply(const Assignment& assignment);
    // Sets one node's target size (rounded up to the page size). Growth becomes
    // ready once pre-faulted; a shrink takes effect at once.
    void resize(unsigned node, std::uint64_t bytes);

    // The ready chunks of a node; holding them keeps their memory alive.
    std::vector<std::shared_ptr<BufferChunk>> chunks(unsigned node) const;
    std::uint64_t ready_bytes(unsigned node) const;
    std::vector<NodeBufferStatus> status() const;  // by node
    // Waits until every pending growth is pre-faulted and handed out.
    bool wait_ready(std::chrono::milliseconds timeout) const;
    // Whether chunks are bound to their node (libnuma usable).
    bool numa_enabled() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hpplace
