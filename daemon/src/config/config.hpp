#pragma once

// The daemon's TOML configuration (docs/contract.md, "Configuration file"):
//
//   auto_online = "off"            # "off" | "online" | "online_movable" | "online_kernel"
//   reserved_cpus = "0"            # cpulist of CPUs no planned thread runs on (kept free)
//   max_memory_share = 0.5         # buffers of all workloads together take at most this
//                                  # share of a node's memory (0 < share <= 1; default 1)
//   socket_group = "hpplace"       # group (name or id) of the control socket the daemon binds
//   socket_mode = 0o660            # its mode (TOML octal, or a string "0660"; default 0660)
//   [[workload]]
//   name = "web"                   # unique
//   threads_per_cpu = 2            # or: threads = 12 (spread over the nodes by their CPUs)
//   nodes = "all"                  # or a list of node ids, e.g. [0, 1]
//   buffer_per_cpu = "64MiB"       # bytes or a size string
//   cgroup = "/sys/fs/cgroup/web"  # optional: cgroup v2 directory kept in line with the plan
//   unit = "nginx.service"         # or: a systemd unit whose AllowedCPUs=/AllowedMemoryNodes= follow it
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
#include "config/auto_online_policy.hpp"
#include "plan/workload.hpp"

namespace hpplace {

using AutoOnline = AutoOnlinePolicy;

struct Config {
    AutoOnline auto_online = AutoOnline::off;
    CpuSet reserved_cpus;
    double max_memory_share = 1.0;
    // When the daemon binds the control socket itself (not socket-activated):
    // its group, a name or a decimal id (nullopt: the daemon's own group), and
    // its mode, permission bits only. Its group's members are the control
    // socket's members (service/peer_access.hpp).
    std::optional<std::string> socket_group;
    unsigned socket_mode = 0660;
    std::vector<Workload> workloads;

    friend bool operator==(const Config&, const Config&) = default;
};


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
