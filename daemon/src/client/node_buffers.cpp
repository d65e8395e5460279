#include "hpplace/node_buffers.hpp"

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include <condition_variable>
#include <stop_token>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "client/log.hpp"

namespace hpplace {

namespace {

std::size_t page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
}

std::uint64_t round_up(std::uint64_t bytes, std::uint64_t unit) noexcept { return (bytes + unit - 1) / unit * unit; }

class MappedChunk final : public BufferChunk {
public:
    MappedChunk(std::byte* data, std::size_t size, unsigned node, bool local) noexcept
        : data_(data), size_(size), node_(node), local_(local) {}
    ~MappedChunk() override { ::munmap(data_, size_); }
    MappedChunk(const MappedChunk&) = delete;
    MappedChunk& operator=(const MappedChunk&) = delete;

    std::byte* data() const noexcept override { return data_; }
    std::size_t size() const noexcept override { return size_; }
    unsigned node() const noexcept override { return node_; }
    bool node_local() const noexcept override { return local_; }

private:
    std::byte* data_;
    std::size_t size_;
    unsigned node_;
    bool local_;
};

// Whether libnuma works here; the answer is logged once per process when it is no.
bool numa_usable(const client::LogFunction& log) {
    static const bool usable = ::numa_available() >= 0;
    static std::once_flag logged;
    if (!usable) {
        std::call_once(logged, [&] { log("NUMA is unavailable: node buffers use plain memory"); });
    }
    return usable;
}

// Anonymous memory bound to the node (mbind MPOL_BIND, as numa_alloc_onnode does)
// when NUMA is usable and the node has memory; plain otherwise. Not yet touched.
std::shared_ptr<MappedChunk> map_chunk(std::size_t size, unsigned node, bool numa, const client::LogFunction& log) {
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        throw std::system_error(errno, std::generic_category(),
                                "cannot map " + std::to_string(size) + " bytes for node " + std::to_string(node));
    }
    bool local = false;
    if (numa) {
        const bool node_has_memory =
            static_cast<int>(node) <= ::numa_max_node() && ::numa_bitmask_isbitset(::numa_all_nodes_ptr, node) != 0;
        if (node_has_memory) {
            struct bitmask* mask = ::numa_allocate_nodemask();
            ::numa_bitmask_setbit(mask, node);
            local = ::mbind(memory, size, MPOL_BIND, mask->maskp, mask->size + 1, 0) == 0;
            const int error = errno;
            ::numa_free_nodemask(mask);
            if (!local) {
                log("cannot bind memory to node " + std::to_string(node) + ": " +
                    std::generic_category().message(error) + "; using unbound memory");
            }
        } else {
            log("node " + std::to_string(node) + " has no memory this process may use; using unbound memory");
        }
    }
    return std::make_shared<MappedChunk>(static_cast<std::byte*>(memory), size, node, local);
}

// Writes one byte per page so that the kernel allocates every page now.
void prefault(const BufferChunk& chunk) noexcept {
    volatile std::byte* bytes = chunk.data();
    for (std::size_t offset = 0; offset < chunk.size(); offset += page_size()) {
        bytes[offset] = std::byte{0};
    }
}

struct NodeState {
    std::uint64_t target = 0;
    std::vector<std::shared_ptr<BufferChunk>> ready;
    std::uint64_t ready_bytes = 0;
    std::uint64_t pending_bytes = 0;
    std::uint64_t epoch = 0;  // bumped by a shrink: pending growth of an older epoch is dropped
};

struct Growth {
    unsigned node = 0;
    std::size_t bytes = 0;
    std::uint64_t epoch = 0;
};

}  // namespace

struct NodeBuffers::Impl {
    std::size_t chunk_bytes = 0;
    client::LogFunction log;
    bool numa = false;

    mutable std::mutex mutex;
    mutable std::condition_variable_any changed;
    std::map<unsigned, NodeState> nodes;
    std::deque<Growth> queue;
    std::jthread prefaulter;  // last member: joined before the rest goes

    void resize_locked(unsigned node, std::uint64_t bytes) {
        NodeState& state = nodes[node];
        state.target = round_up(bytes, page_size());
        if (state.target < state.ready_bytes + state.pending_bytes) {
            // Shrink: cancel pending growth, hand back ready chunks from the end.
            // Readers holding a chunk keep it alive until they drop it.
            ++state.epoch;
            state.pending_bytes = 0;
            while (state.ready_bytes > state.target) {
                state.ready_bytes -= state.ready.back()->size();
                state.ready.pop_back();
            }
        }
        std::uint64_t missing = state.target - state.ready_bytes - state.pending_bytes;
        while (missing > 0) {
            const std::size_t bytes_now = static_cast<std::size_t>(std::min<std::uint64_t>(missing, chunk_bytes));
            queue.push_back({node, bytes_now, state.epoch});
            state.pending_bytes += bytes_now;
            missing -= bytes_now;
        }
        changed.notify_all();
    }

    void run_prefaulter(std::stop_token stop) {
        std::unique_lock lock(mutex);
        for (;;) {
            changed.wait(lock, stop, [&] { return !queue.empty(); });
            if (stop.stop_requested()) {
                return;
            }
            const Growth growth = queue.front();
            queue.pop_front();
            if (nodes[growth.node].epoch != growth.epoch) {
                continue;
            }
            lock.unlock();
            std::shared_ptr<MappedChunk> chunk;
            try {
                chunk = map_chunk(growth.bytes, growth.node, numa, log);
                prefault(*chunk);
            } catch (const std::exception& e) {
                log(e.what());
            }
            lock.lock();
            NodeState& state = nodes[growth.node];
            if (state.epoch != growth.epoch) {
                continue;  // shrunk meanwhile; the chunk is freed here
            }
            state.pending_bytes -= growth.bytes;
            if (chunk) {
                state.ready.push_back(std::move(chunk));
                state.ready_bytes += growth.bytes;
            }
            changed.notify_all();
        }
    }
};

NodeBuffers::NodeBuffers(NodeBuffersOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->log = client::log_or_stderr(std::move(options.log));
    impl_->chunk_bytes = static_cast<std::size_t>(round_up(std::max<std::size_t>(options.chunk_bytes, 1), page_size()));
    impl_->numa = numa_usable(impl_->log);
    impl_->prefaulter = std::jthread([impl = impl_.get()](std::stop_token stop) {
        client::name_this_thread("hpplace-fault");
        impl->run_prefaulter(stop);
    });
}

NodeBuffers::~NodeBuffers() {
    impl_->prefaulter.request_stop();
    impl_->prefaulter.join();
}

void NodeBuffers::apply(const Assignment& assignment) {
    std::lock_guard lock(impl_->mutex);
    std::map<unsigned, std::uint64_t> wanted;
    for (const auto& buffer : assignment.buffers) {
        wanted[buffer.node] += buffer.bytes;
    }
    for (const auto& [node, state] : impl_->nodes) {
        wanted.emplace(node, 0);
    }
    for (const auto& [node, bytes] : wanted) {
        impl_->resize_locked(node, bytes);
    }
}

void NodeBuffers::resize(unsigned node, std::uint64_t bytes) {
    std::lock_guard lock(impl_->mutex);
    impl_->resize_locked(node, bytes);
}

std::vector<std::shared_ptr<BufferChunk>> NodeBuffers::chunks(unsigned node) const {
    std::lock_guard lock(impl_->mutex);
    const auto it = impl_->nodes.find(node);
    return it == impl_->nodes.end() ? std::vector<std::shared_ptr<BufferChunk>>{} : it->second.ready;
}

std::uint64_t NodeBuffers::ready_bytes(unsigned node) const {
    std::lock_guard lock(impl_->mutex);
    const auto it = impl_->nodes.find(node);
    return it == impl_->nodes.end() ? 0 : it->second.ready_bytes;
}

std::vector<NodeBufferStatus> NodeBuffers::status() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<NodeBufferStatus> out;
    for (const auto& [node, state] : impl_->nodes) {
        out.push_back({node, state.target, state.ready_bytes, state.ready.size()});
    }
    return out;
}

bool NodeBuffers::wait_ready(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] {
        for (const auto& [node, state] : impl_->nodes) {
            if (state.pending_bytes != 0) {
                return false;
            }
        }
        return true;
    });
}

bool NodeBuffers::numa_enabled() const noexcept { return impl_->numa; }

}  // namespace hpplace
