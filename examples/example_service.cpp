// hpplace-example-service: a service that places itself with libhpplace. It
// registers a workload with hpplaced, runs one pinned worker per planned thread
// (WorkerPool) and keeps node-local buffers of the planned sizes (NodeBuffers);
// when CPUs or memory arrive or leave, the daemon's new plan starts, moves or
// stops workers and grows or shrinks buffers. It prints its threads and buffers
// after each change, every --interval seconds, and on SIGUSR1, as lines
//   threads: 0@cpu0/node0 1@cpu1/node0
//   buffers: node0=64MiB/64MiB
// that a test or a demo can match. Workers are named worker<index> (pthread
// names, shown in /proc/PID/task/*/comm and by top -H) so that a look from the
// outside tells them from the library's own threads.
//
//   hpplace-example-service [--socket PATH] [--name NAME] [--threads-per-cpu N | --threads N]
//                           [--buffer-per-cpu BYTES] [--nodes all|0,1] [--interval SECONDS]
// Stops on SIGINT or SIGTERM.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <hpplace/hpplace.hpp>

namespace {

std::atomic<bool> stop_requested{false};
std::atomic<bool> report_requested{false};

extern "C" void on_signal(int signal) {
    if (signal == SIGUSR1) {
        report_requested = true;
    } else {
        stop_requested = true;
    }
}

[[noreturn]] void usage(const char* program, const std::string& problem) {
    if (!problem.empty()) {
        std::fprintf(stderr, "%s: %s\n", program, problem.c_str());
    }
    std::fprintf(stderr,
                 "usage: %s [--socket PATH] [--name NAME] [--threads-per-cpu N | --threads N]\n"
                 "          [--buffer-per-cpu BYTES] [--nodes all|LIST] [--interval SECONDS]\n",
                 program);
    std::exit(2);
}

unsigned long long number(const char* program, const std::string& option, const char* text) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        usage(program, option + " needs a non-negative integer, not \"" + text + "\"");
    }
    return value;
}

std::string mebibytes(std::uint64_t bytes) { return std::to_string(bytes >> 20) + "MiB"; }

}  // namespace

int main(int argc, char** argv) {
    const char* program = argv[0];
    hpplace::ClientOptions options;
    hpplace::WorkloadSpec workload;
    workload.name = "example";
    workload.threads_per_cpu = 1;
    workload.buffer_per_cpu = 16ULL << 20;
    unsigned interval = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) {
            usage(program, arg == "--help" ? "" : "unknown or incomplete option " + arg);
        }
        const char* value = argv[++i];
        if (arg == "--socket") {
            options.socket_path = value;
        } else if (arg == "--name") {
            workload.name = value;
        } else if (arg == "--threads-per-cpu") {
            workload.threads_per_cpu = static_cast<unsigned>(number(program, arg, value));
            workload.threads.reset();
        } else if (arg == "--threads") {
            workload.threads = static_cast<unsigned>(number(program, arg, value));
            workload.threads_per_cpu.reset();
        } else if (arg == "--buffer-per-cpu") {
            workload.buffer_per_cpu = number(program, arg, value);
        } else if (arg == "--nodes") {
            workload.nodes.clear();
            if (std::string(value) != "all") {
                std::stringstream list(value);
                std::string item;
                while (std::getline(list, item, ',')) {
                    workload.nodes.push_back(static_cast<unsigned>(number(program, arg, item.c_str())));
                }
            }
        } else if (arg == "--interval") {
            interval = static_cast<unsigned>(number(program, arg, value));
        } else {
            usage(program, "unknown option " + arg);
        }
    }
    if (workload.name.empty()) {
        usage(program, "--name must not be empty");
    }
    options.workload = workload;

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGUSR1, &action, nullptr);

    std::atomic<unsigned long long> iterations{0};
    std::mutex print_mutex;
    hpplace::NodeBuffers buffers;
    // What the pool does on its own: a pin it retried (a new CPU's cpuset lags
    // behind its arrival), a retry that gave up, workers of a CPU going offline.
    hpplace::WorkerPoolOptions pool_options;
    pool_options.on_background_change = [&](const hpplace::PoolChanges& changes) {
        {
            std::lock_guard lock(print_mutex);
            std::printf("pool: %zu started, %zu moved, %zu stopped\n", changes.started.size(), changes.moved.size(),
                        changes.stopped.size());
            for (const auto& error : changes.errors) {
                std::printf("error: %s\n", error.c_str());
            }
            std::fflush(stdout);
        }
        report_requested = true;
    };
    hpplace::WorkerPool pool([&](std::stop_token stop, const hpplace::Worker& me) {
        const std::string name = "worker" + std::to_string(me.index());
        ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
        while (!stop.stop_requested()) {
            // A real service would serve requests from me.node()'s buffers here.
            for (const auto& chunk : buffers.chunks(me.node())) {
                chunk->data()[0] = std::byte{1};
            }
            iterations.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }, pool_options);

    auto report = [&] {
        std::lock_guard lock(print_mutex);
        std::string threads = "threads:";
        for (const auto& thread : pool.threads()) {
            threads += " " + std::to_string(thread.index) + "@cpu" + std::to_string(thread.cpu) + "/node" +
                       std::to_string(thread.node);
        }
        std::string nodes = "buffers:";
        for (const auto& node : buffers.status()) {
            nodes += " node" + std::to_string(node.node) + "=" + mebibytes(node.ready_bytes) + "/" +
                     mebibytes(node.target_bytes);
        }
        std::printf("%s\n%s\n", threads.c_str(), nodes.c_str());
        std::fflush(stdout);
    };

    hpplace::Client client(options);
    auto on_connection = client.on_connection([](bool connected) {
        std::printf("hpplaced %s\n", connected ? "connected" : "disconnected");
        std::fflush(stdout);
    });
    auto on_assignment = client.on_assignment(
        [&](const hpplace::Assignment& assignment) {
            const auto changes = pool.apply(assignment);
            buffers.apply(assignment);
            {
                std::lock_guard lock(print_mutex);
                std::printf("plan %llu: %zu started, %zu moved, %zu stopped\n",
                            static_cast<unsigned long long>(assignment.generation), changes.started.size(),
                            changes.moved.size(), changes.stopped.size());
                for (const auto& error : changes.errors) {
                    std::printf("error: %s\n", error.c_str());
                }
                for (const auto& thread : changes.retrying) {
                    std::printf("retrying: thread %u on cpu%u\n", thread.index, thread.cpu);
                }
            }
            buffers.wait_ready(std::chrono::seconds(10));
            report();
        },
        hpplace::Replay::existing);
    auto on_processor = client.on_processor_change([](const hpplace::ProcessorChange& change) {
        std::printf("processor %u: %s, %u active\n", change.cpu, std::string(hpplace::to_string(change.state)).c_str(),
                    change.active_count);
        std::fflush(stdout);
    });
    auto on_memory = client.on_memory_change([](const hpplace::MemoryChange& change) {
        std::printf("memory on node %s: %s, %llu MiB\n", change.node ? std::to_string(*change.node).c_str() : "?",
                    std::string(hpplace::to_string(change.state)).c_str(),
                    static_cast<unsigned long long>(change.size >> 20));
        std::fflush(stdout);
    });

    auto next_report = std::chrono::steady_clock::now() + std::chrono::seconds(interval);
    while (!stop_requested) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (report_requested.exchange(false) || (interval != 0 && std::chrono::steady_clock::now() >= next_report)) {
            next_report = std::chrono::steady_clock::now() + std::chrono::seconds(interval);
            report();
        }
    }
    on_assignment.reset();
    pool.stop_all();
    std::printf("stopped\n");
    return 0;
}
