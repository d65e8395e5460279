// Memory arrival: the Windows sample's GUID_DEVICE_MEMORY arrival handler that
// grows its buffers, written against libhpplace. Each node keeps a buffer of a
// share of the node's memory (1/64 by default); memory that arrives on a node
// grows that node's buffer, pre-faulted by NodeBuffers' background thread.
//
//   hpplace-example-memory-arrival [--socket PATH] [--share N] [--seconds N]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <hpplace/hpplace.hpp>

int main(int argc, char** argv) {
    hpplace::ClientOptions options;
    std::uint64_t share = 64;
    int seconds = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--socket" && i + 1 < argc) {
            options.socket_path = argv[++i];
        } else if (arg == "--share" && i + 1 < argc) {
            share = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--seconds" && i + 1 < argc) {
            seconds = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--socket PATH] [--share N] [--seconds N]\n", argv[0]);
            return 2;
        }
    }
    if (share == 0) {
        std::fprintf(stderr, "%s: --share must be positive\n", argv[0]);
        return 2;
    }

    hpplace::NodeBuffers buffers;
    std::mutex mutex;
    std::map<unsigned, std::uint64_t> node_memory;

    hpplace::Client client(options);
    auto registration = client.on_memory_change(
        [&](const hpplace::MemoryChange& change) {
            if (!change.node) {
                return;
            }
            std::lock_guard lock(mutex);
            auto& memory = node_memory[*change.node];
            if (change.state == hpplace::MemoryState::online) {
                memory += change.size;
            } else if (change.state == hpplace::MemoryState::offline) {
                memory -= std::min(memory, change.size);
            } else {
                return;
            }
            buffers.resize(*change.node, memory / share);
            std::printf("memory %s on node %u: %llu MiB at 0x%llx%s; buffer target %llu MiB\n",
                        std::string(hpplace::to_string(change.state)).c_str(), *change.node,
                        static_cast<unsigned long long>(change.size >> 20),
                        static_cast<unsigned long long>(change.start), change.synthesized ? " (existing)" : "",
                        static_cast<unsigned long long>((memory / share) >> 20));
            std::fflush(stdout);
        },
        hpplace::Replay::existing);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    std::vector<std::uint64_t> printed;  // ready bytes per node last printed
    while (seconds == 0 || std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const auto status = buffers.status();
        std::vector<std::uint64_t> ready;
        for (const auto& node : status) {
            ready.push_back(node.ready_bytes);
        }
        if (ready != printed && buffers.wait_ready(std::chrono::milliseconds(0))) {
            printed = ready;
            for (const auto& node : status) {
                std::printf("node %u: %llu MiB ready in %zu chunks\n", node.node,
                            static_cast<unsigned long long>(node.ready_bytes >> 20), node.chunks);
            }
        }
    }
    registration.reset();
    return 0;
}
