#pragma once

// The daemon's TOML configuration (docs/contract.md, "Configuration file"):
//
//   auto_online = "off"            # "off" | "online" | "online_movable" | "online_kernel"
//   reserved_cpus = "0"            # cpulist of CPUs no planned thread runs on (kept free)
//   max_memory_share = 0.5         # buffers of all workloads together take at most this
//                                  # share of a node's memory (0 < share <= 1; default 1)
//   [[workload]]
//   name = "web"                   # unique
//   threads_per_cpu = 2            # or: threads = 12 (spread over the nodes by their CPUs)
//   nodes = "all"                  # or a list of node ids, e.g. [0, 1]
//   buffer_per_cpu = "64MiB"       # bytes or a size string
//   cgroup = "/sys/fs/cgroup/web"  # optional: cgroup v2 directory kept in line with the plan
//
// Unknown keys are errors. Every error names the file, the line and the key.
//
// Adding a top-level key (the daemon's own settings): add a field to Config and
// one entry to top_level_keys in config.cpp.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/cpu_set.hpp"
#include "service/auto_online.hpp"

namespace hpplace {

using AutoOnline = AutoOnlinePolicy;

struct Workload {
    std::string name;
    // Exactly one of the two: per-CPU threads (default 1) or a fixed count.
    unsigned threads_per_cpu = 1;
    std::optional<unsigned> threads;
    // The nodes whose CPUs and memory the workload uses; nullopt = "all".
    std::optional<std::vector<unsigned>> nodes;
    std::uint64_t buffer_per_cpu = 0;
    std::optional<std::string> cgroup;

    bool fixed_thread_count() const noexcept { return threads.has_value(); }
    bool uses_node(unsigned node) const noexcept;

    friend bool operator==(const Workload&, const Workload&) = default;
};

struct Config {
    AutoOnline auto_online = AutoOnline::off;
    CpuSet reserved_cpus;
    double max_memory_share = 1.0;
    std::vector<Workload> workloads;

    friend bool operator==(const Config&, const Config&) = default;
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
// "." or ".." components or control characters, at most 4096 bytes.
std::optional<WorkloadProblem> workload_problem(const Workload& workload);

// A bad configuration; what() is one line "FILE:LINE: key \"K\": problem".
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// `path` is only used in messages.
Config parse_config(std::string_view text, std::string_view path);
// Reads and parses the file; an unreadable file is a ConfigError naming it.
Config load_config(const std::filesystem::path& path);

}  // namespace hpplace
