#pragma once

// libhpplace's connection to hpplaced: Windows-style processor and memory change
// callbacks (KeRegisterProcessorChangeCallback, GUID_DEVICE_MEMORY arrival) and
// the daemon's plan for the workload this process registered.
//
//   hpplace::Client client({.workload = hpplace::WorkloadSpec{.name = "db", .threads_per_cpu = 1}});
//   auto cpu_watch = client.on_processor_change([](const hpplace::ProcessorChange& change) { ... },
//                                               hpplace::Replay::existing);
//
// The client connects in the background and keeps reconnecting (with backoff)
// when the daemon is not there or restarts; after each connection it registers
// the workload again and resynchronises: the CPUs and memory that came or went
// while it was away are reported as synthesized changes, and the plan is fetched.
// Callbacks run one at a time on a thread of the library, never on the thread
// that reads the socket; a Registration's destruction waits for a running call.
// A cpu_going_offline (or cpu_offline) that arrives also makes every WorkerPool of
// the process stop its workers on that CPU, without waiting for the callbacks or
// the next plan (see worker_pool.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpplace/assignment.hpp"
#include "hpplace/export.hpp"

namespace hpplace {

// The processor change states of Windows' KE_PROCESSOR_CHANGE_NOTIFY_STATE, plus the
// Linux hot-remove ones.
enum class ProcessorState : std::uint8_t {
    add_start,      // KeProcessorAddStartNotify: bring-up begins (event cpu_add_start)
    add_complete,   // KeProcessorAddCompleteNotify: the CPU runs tasks (cpu_online)
    add_failed,     // KeProcessorAddFailureNotify (cpu_add_failed)
    going_offline,  // the CPU is leaving (cpu_going_offline)
    offline,        // the CPU is down (cpu_offline)
    removed,        // the CPU device is gone (cpu_removed)
};

enum class MemoryState : std::uint8_t {
    going_online,
    online,  // GUID_DEVICE_MEMORY arrival
    online_canceled,
    going_offline,
    offline,
    offline_canceled,
};

HPPLACE_API std::string_view to_string(ProcessorState state) noexcept;
HPPLACE_API std::string_view to_string(MemoryState state) noexcept;

struct ProcessorChange {
    ProcessorState state = ProcessorState::add_complete;
    unsigned cpu = 0;
    std::optional<unsigned> node;        // NUMA node of the CPU, when known
    unsigned active_count = 0;           // KeQueryActiveProcessorCount after the change
    std::vector<unsigned> active_cpus;   // the active-CPU set after the change
    std::uint64_t seq = 0;               // event sequence number; 0 when synthesized
    bool synthesized = false;            // replayed existing state or found at a resync
    std::uint64_t time_ns = 0;           // CLOCK_BOOTTIME of the event; 0 when synthesized
};

struct MemoryChange {
    MemoryState state = MemoryState::online;
    std::uint64_t start = 0;  // physical start (0 when synthesized: unknown)
    std::uint64_t size = 0;   // bytes
    std::optional<unsigned> node;
    std::uint64_t seq = 0;
    bool synthesized = false;
    std::uint64_t time_ns = 0;  // CLOCK_BOOTTIME of the event; 0 when synthesized
};

// A workload as the config file's [[workload]] table describes it (docs/contract.md).
struct WorkloadSpec {
    std::string name;
    std::optional<unsigned> threads_per_cpu;  // or
    std::optional<unsigned> threads;          // a fixed count
    std::vector<unsigned> nodes;              // empty: "all"
    std::uint64_t buffer_per_cpu = 0;         // bytes
    std::string cgroup;                       // empty: none
};

// Windows' KE_PROCESSOR_CHANGE_ADD_EXISTING: on registration, report what already
// exists (add_complete for every active CPU; one memory online per node with memory;
// the current assignment).
enum class Replay : std::uint8_t { none, existing };

struct ClientOptions {
    std::string socket_path = "/run/hpplaced.sock";
    std::optional<WorkloadSpec> workload;  // none: events only
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5000};
    std::size_t max_message_bytes = 4 * 1024 * 1024;
    // One line per call, no newline. Default: "libhpplace: ..." on stderr.
    std::function<void(std::string_view)> log;
};

struct ClientStats {
    std::uint64_t connects = 0;           // successful connections (first one included)
    std::uint64_t events = 0;             // event messages received
    std::uint64_t bad_messages = 0;       // lines that were not understood (skipped)
    std::uint64_t dropped_connections = 0;
};

namespace detail {
class CallbackRegistry;
}

// Keeps a callback registered; destroying or reset() unregisters it and waits
// until a call of it that is running on the callback thread has returned (unless
// called from that very callback).
class HPPLACE_API Registration {
public:
    Registration() noexcept = default;
    Registration(std::shared_ptr<detail::CallbackRegistry> registry, std::uint64_t id) noexcept;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration();

    void reset() noexcept;
    bool active() const noexcept { return registry_ != nullptr; }

private:
    std::shared_ptr<detail::CallbackRegistry> registry_;
    std::uint64_t id_ = 0;
};

class HPPLACE_API Client {
public:
    using ProcessorCallback = std::function<void(const ProcessorChange&)>;
    using MemoryCallback = std::function<void(const MemoryChange&)>;
    using AssignmentCallback = std::function<void(const Assignment&)>;
    using ConnectionCallback = std::function<void(bool connected)>;

    // Starts the library's threads; connects in the background. Throws
    // std::invalid_argument on bad options (empty socket path, workload without a name).
    explicit Client(ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    [[nodiscard]] Registration on_processor_change(ProcessorCallback callback, Replay replay = Replay::none);
    [[nodiscard]] Registration on_memory_change(MemoryCallback callback, Replay replay = Replay::none);
    // Called when the workload's assignment changes (and, with Replay::existing, at once with the current one).
    [[nodiscard]] Registration on_assignment(AssignmentCallback callback, Replay replay = Replay::none);
    [[nodiscard]] Registration on_connection(ConnectionCallback callback);

    bool connected() const;
    // The latest assignment of the registered workload, if the daemon sent one.
    std::optional<Assignment> assignment() const;
    // The active CPUs as the daemon reported them (empty before the first connection).
    std::vector<unsigned> active_processors() const;
    unsigned active_processor_count() const;
    ClientStats stats() const;

    // For programs and tests that need the first picture before going on.
    bool wait_connected(std::chrono::milliseconds timeout) const;
    bool wait_assignment(std::chrono::milliseconds timeout) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// KeQueryActiveProcessorCount: the number of online CPUs of the system, read
// from /sys/devices/system/cpu/online (sysconf as a fallback). Needs no daemon.
HPPLACE_API unsigned active_processor_count();

}  // namespace hpplace
