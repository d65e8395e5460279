// Processor arrival, the Linux way: the Windows sample's KeRegisterProcessorChangeCallback
// callback that starts a per-processor thread on a new CPU and rebalances, written
// against libhpplace. Replay::existing is KE_PROCESSOR_CHANGE_ADD_EXISTING: the
// CPUs already online arrive first, so one code path starts every thread.
//
//   hpplace-example-processor-arrival [--socket PATH] [--seconds N]

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <hpplace/hpplace.hpp>

namespace {

// One thread per active CPU: the per-processor threads of the Windows sample.
// Threads are keyed by CPU number, so applying the set again starts only the new
// CPU's thread and stops only the one of a CPU that left (the rebalance).
hpplace::Assignment per_processor_threads(const std::vector<unsigned>& cpus,
                                          const std::vector<std::optional<unsigned>>& nodes) {
    hpplace::Assignment assignment;
    for (std::size_t i = 0; i < cpus.size(); ++i) {
        assignment.threads.push_back({cpus[i], cpus[i], nodes[i].value_or(0)});
    }
    return assignment;
}

}  // namespace

int main(int argc, char** argv) {
    hpplace::ClientOptions options;
    int seconds = 0;  // 0: run until killed
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--socket" && i + 1 < argc) {
            options.socket_path = argv[++i];
        } else if (arg == "--seconds" && i + 1 < argc) {
            seconds = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--socket PATH] [--seconds N]\n", argv[0]);
            return 2;
        }
    }

    std::atomic<unsigned long> work{0};
    hpplace::WorkerPool pool([&](std::stop_token stop, const hpplace::Worker& me) {
        std::printf("thread for CPU %u (node %u) started\n", me.cpu(), me.node());
        std::fflush(stdout);
        while (!stop.stop_requested()) {
            work.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });

    std::mutex mutex;  // the CPUs we run threads for, and their nodes
    std::vector<unsigned> cpus;
    std::vector<std::optional<unsigned>> nodes;

    hpplace::Client client(options);
    auto registration = client.on_processor_change(
        [&](const hpplace::ProcessorChange& change) {
            std::printf("processor %u (node %s): %s%s, %u active\n", change.cpu,
                        change.node ? std::to_string(*change.node).c_str() : "?",
                        std::string(hpplace::to_string(change.state)).c_str(),
                        change.synthesized ? " (existing)" : "", change.active_count);
            std::lock_guard lock(mutex);
            if (change.state == hpplace::ProcessorState::add_complete) {
                cpus.push_back(change.cpu);
                nodes.push_back(change.node);
            } else if (change.state == hpplace::ProcessorState::going_offline ||
                       change.state == hpplace::ProcessorState::offline) {
                for (std::size_t i = 0; i < cpus.size(); ++i) {
                    if (cpus[i] == change.cpu) {
                        cpus.erase(cpus.begin() + static_cast<std::ptrdiff_t>(i));
                        nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(i));
                        break;
                    }
                }
            } else {
                return;
            }
            const auto changes = pool.apply(per_processor_threads(cpus, nodes));
            for (const auto& error : changes.errors) {
                std::fprintf(stderr, "%s\n", error.c_str());
            }
            std::printf("rebalanced: %zu started, %zu stopped, %zu threads\n", changes.started.size(),
                        changes.stopped.size(), pool.size());
            std::fflush(stdout);
        },
        hpplace::Replay::existing);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (seconds == 0 || std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    registration.reset();
    return 0;
}
