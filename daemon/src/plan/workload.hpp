#pragma once

// A workload: what the planner places (threads on CPUs, buffers on nodes),
// read from the config file's [[workload]] tables or registered by a client
// over the control socket, and held to the same limits either way.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hpplace {

struct Workload {
    std::string name;
    // Exactly one of the two: per-CPU threads (default 1) or a fixed count.
    unsigned threads_per_cpu = 1;
    std::optional<unsigned> threads;
    // The nodes whose CPUs and memory the workload uses; nullopt = "all".
    std::optional<std::vector<unsigned>> nodes;
    std::uint64_t buffer_per_cpu = 0;
    std::optional<std::string> cgroup;
    // Or a systemd unit (service, slice, scope) whose AllowedCPUs= and
    // AllowedMemoryNodes= the daemon sets; not both.
    std::optional<std::string> unit;

    bool fixed_thread_count() const noexcept { return threads.has_value(); }
    bool uses_node(unsigned node) const noexcept;

    friend bool operator==(const Workload&, const Workload&) = default;
};


// The limits every workload is held to, from the config file or registered
// over the control socket (one check, workload_problem(), for both).
inline constexpr unsigned max_threads_per_cpu = 1024;
inline constexpr unsigned max_fixed_threads = 1U << 20;
inline constexpr unsigned max_workload_node_id = 65535;
// Keeps buffer_per_cpu x CPUs x workloads far from 64-bit overflow.
inline constexpr std::uint64_t max_buffer_per_cpu = std::uint64_t{1} << 40;
// Names reach log lines, plans and error messages.
inline constexpr std::size_t max_workload_name_bytes = 128;
inline constexpr std::size_t max_cgroup_path_bytes = 4096;
// systemd's own limit on a unit name (UNIT_NAME_MAX less its NUL).
inline constexpr std::size_t max_unit_name_bytes = 255;

// What is wrong with a workload: the key ("threads_per_cpu"), the position in
// a list when one element is at fault (a node listed twice), and a one-line
// problem ("expected an integer in 1..1024, got 2000").
struct WorkloadProblem {
    std::string key;
    std::optional<std::size_t> item;
    std::string problem;
};

// nullopt when the workload keeps every limit above: a name of 1..128 bytes of
// UTF-8 without control characters; threads_per_cpu in 1..1024 or threads in
// 0..2^20; nodes "all" or a non-empty list of distinct ids in 0..65535;
// buffer_per_cpu at most 1 TiB; a cgroup that is an absolute path without
// "." or ".." components or control characters, at most 4096 bytes; a unit
// (not beside a cgroup) named as systemd names units: at most 255 bytes of
// ASCII letters, digits and ":-_.\\@", ending in ".service", ".slice" or
// ".scope", not a template ("name@.service").
std::optional<WorkloadProblem> workload_problem(const Workload& workload);

// What is wrong with a unit name (workload_problem()'s rule); nullopt when nothing.
std::optional<std::string> unit_name_problem(std::string_view unit);

}  // namespace hpplace
