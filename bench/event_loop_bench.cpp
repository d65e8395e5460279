// The daemon's cost per hotplug event on its event loop, on the host: a
// CPU-hotplug storm as bench/vm/bench_vm.py makes it in the guest (cpu1 of a
// two-node machine offline and online again, the kernel's four events per
// round trip: cpu_going_offline, cpu_offline, cpu_add_start, cpu_online),
// through the real Daemon (tracker, metrics, event pushes, replan timer,
// planner, cgroup applier on a scratch cgroup tree, logging) with the guest's
// configuration (auto_online, workload "work" in a cgroup) and one libhpplace
// client in this process that registers workload "svc" and subscribes, as the
// example service does. Only the event source is a stand-in: events enter
// where the kernel source hands them over, after netlink decoding.
//
// Prints the CPU time of the loop thread and of every other thread (the
// client library's, the applier's) per event. Run it under
// `valgrind --tool=callgrind --separate-threads=yes` to see where it goes.
// Results: docs/benchmarks.md.
//
// usage: event_loop_bench [--events N] [--interval-us N] [--no-client]
// (--interval-us: between two toggles, 16 ms by default: the guest's storm
// made a toggle every 32 ms, this one a little faster.)
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <hpplace/client.hpp>

#include "service/daemon.hpp"
#include "fake_sources.hpp"  // tests/unit: the sources the tests drive by hand
#include "sources/hotplug_source.hpp"

namespace {

using namespace hpplace;
using namespace std::chrono_literals;

// The guest of bench/vm: node 0 with CPUs 0-1, node 1 with memory only.
Topology guest_machine() {
    Topology topology = testing::two_node_machine();
    topology.nodes[0].cpus = CpuSet::range(0, 1);
    topology.nodes[1].cpus = CpuSet{};
    topology.nodes[1].offline_cpus = CpuSet{};
    return topology;
}

std::chrono::nanoseconds cpu_time(clockid_t clock) {
    timespec now{};
    ::clock_gettime(clock, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

// User and system CPU time of the calling thread.
std::pair<std::chrono::microseconds, std::chrono::microseconds> thread_times() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    const auto micros = [](const timeval& t) { return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec); };
    return {micros(usage.ru_utime), micros(usage.ru_stime)};
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

// The kernel's events of storm step `step` (four per round trip of cpu1).
Event storm_event(std::uint64_t step) {
    static constexpr EventType cycle[] = {EventType::cpu_going_offline, EventType::cpu_offline,
                                          EventType::cpu_add_start, EventType::cpu_online};
    Event event;
    event.seq = 1000 + step;
    event.type = cycle[step % 4];
    event.source = EventSource::kernel;
    event.time_ns = step * 1000;
    event.cpu = 1;
    event.node = 0;
    const bool active = event.type == EventType::cpu_going_offline || event.type == EventType::cpu_online;
    event.online_mask = active ? CpuSet::range(0, 1) : CpuSet::range(0, 0);
    event.online_cpus = static_cast<unsigned>(event.online_mask->count());
    return event;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t events = 400;
    std::chrono::microseconds interval{16000};
    bool with_client = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--events" && i + 1 < argc) {
            events = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--interval-us" && i + 1 < argc) {
            interval = std::chrono::microseconds(std::strtoull(argv[++i], nullptr, 10));
        } else if (arg == "--no-client") {
            with_client = false;
        } else {
            std::cerr << "usage: event_loop_bench [--events N] [--interval-us N] [--no-client]\n";
            return 2;
        }
    }

    char scratch_template[] = "/tmp/hpplace-evbench-XXXXXX";
    if (::mkdtemp(scratch_template) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::filesystem::path scratch(scratch_template);
    const auto cgroup_root = scratch / "cgroup";
    std::filesystem::create_directories(cgroup_root / "work");
    write_text(cgroup_root / "cgroup.subtree_control", "cpuset\n");
    write_text(cgroup_root / "work/cpuset.cpus", "0-1\n");
    write_text(cgroup_root / "work/cpuset.mems", "0-1\n");
    write_text(scratch / "hpplaced.conf", "auto_online = \"online_movable\"\n"
                                          "[[workload]]\n"
                                          "name = \"work\"\n"
                                          "threads_per_cpu = 1\n"
                                          "nodes = \"all\"\n"
                                          "buffer_per_cpu = \"8MiB\"\n"
                                          "cgroup = \"" + (cgroup_root / "work").string() + "\"\n");

    int status = 0;
    {
        boost::asio::io_context io;
        SourceListener* kernel = nullptr;
        FamilyWatcherListener* watcher = nullptr;
        DaemonOptions options;
        options.config_path = scratch / "hpplaced.conf";
        options.config_explicit = true;
        options.socket_path = scratch / "hpplaced.sock";
        options.sysfs_root = scratch / "sys";  // auto_online writes go nowhere: no cpu_arrived in the storm
        options.cgroup_root = cgroup_root;
        TrackerEnvironment environment{
            .read_topology = [] { return guest_machine(); },
            .open_kernel_source = [&kernel]() -> std::unique_ptr<HotplugSource> {
                return std::make_unique<testing::FakeSource>(EventSource::kernel, &kernel);
            },
            .open_udev_source = {},
            .open_family_watcher = [&watcher]() -> std::unique_ptr<FamilyWatcher> {
                return std::make_unique<testing::FakeWatcher>(&watcher);
            },
        };
        Daemon daemon(io, options, {}, {}, std::move(environment));
        daemon.start();

        std::optional<Client> client;
        std::optional<Registration> on_assignment;
        std::optional<Registration> on_processor;
        std::uint64_t assignments = 0;
        std::uint64_t processor_changes = 0;
        if (with_client) {
            ClientOptions client_options;
            client_options.socket_path = options.socket_path.string();
            WorkloadSpec workload;
            workload.name = "svc";
            workload.threads_per_cpu = 1;
            workload.buffer_per_cpu = 8u << 20;
            client_options.workload = workload;
            client.emplace(client_options);
            on_assignment = client->on_assignment([&](const Assignment&) { ++assignments; }, Replay::existing);
            on_processor = client->on_processor_change([&](const ProcessorChange&) { ++processor_changes; });
        }

        // Until the client registered and has its first assignment, then the storm.
        boost::asio::steady_timer timer(io);
        std::uint64_t sent = 0;
        std::chrono::nanoseconds loop_start{};
        std::chrono::nanoseconds process_start{};
        std::pair<std::chrono::microseconds, std::chrono::microseconds> loop_times_start;
        std::chrono::steady_clock::time_point wall_start;
        std::function<void()> step;
        step = [&] {
            if (kernel == nullptr) {
                status = 1;
                io.stop();
                return;
            }
            // A toggle: its two events come together, as the kernel sends them.
            for (int i = 0; i < 2 && sent < events && kernel != nullptr; ++i) {
                kernel->on_event(storm_event(sent++));
            }
            if (sent == events) {
                // Let the last replan and pushes go out, then stop.
                timer.expires_after(300ms);
                timer.async_wait([&](const boost::system::error_code&) { io.stop(); });
                return;
            }
            timer.expires_after(interval);
            timer.async_wait([&](const boost::system::error_code&) { step(); });
        };
        std::function<void()> wait_ready;
        wait_ready = [&] {
            if (!daemon.ready() || (client && !client->wait_assignment(0ms))) {
                timer.expires_after(10ms);
                timer.async_wait([&](const boost::system::error_code&) { wait_ready(); });
                return;
            }
            loop_start = cpu_time(CLOCK_THREAD_CPUTIME_ID);
            process_start = cpu_time(CLOCK_PROCESS_CPUTIME_ID);
            loop_times_start = thread_times();
            wall_start = std::chrono::steady_clock::now();
            step();
        };
        wait_ready();
        io.run();
        const auto loop = cpu_time(CLOCK_THREAD_CPUTIME_ID) - loop_start;
        const auto loop_times = thread_times();
        const auto others = cpu_time(CLOCK_PROCESS_CPUTIME_ID) - process_start - loop;
        const auto wall = std::chrono::steady_clock::now() - wall_start;
        const auto per_event = [&](std::chrono::nanoseconds took) {
            return std::chrono::duration<double, std::micro>(took).count() / static_cast<double>(sent);
        };
        const auto& metrics = daemon.metrics();
        std::printf("events %llu in %.1f ms (a toggle every %lld us); plan generation %llu; client: %llu assignments, "
                    "%llu processor changes\n",
                    static_cast<unsigned long long>(sent), std::chrono::duration<double, std::milli>(wall).count(),
                    static_cast<long long>(interval.count()),
                    static_cast<unsigned long long>(daemon.current_plan().generation),
                    static_cast<unsigned long long>(assignments), static_cast<unsigned long long>(processor_changes));
        std::printf("CPU per event (us): event loop %.1f (user %.1f, system %.1f), other threads %.1f; recomputes %llu\n",
                    per_event(loop), per_event(loop_times.first - loop_times_start.first),
                    per_event(loop_times.second - loop_times_start.second), per_event(others),
                    static_cast<unsigned long long>(metrics.recomputes()));
        if (sent != events) {
            std::fprintf(stderr, "the storm did not run: no event source\n");
            status = 1;
        }
        on_processor.reset();
        on_assignment.reset();
        client.reset();
        daemon.stop();
    }
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    return status;
}
