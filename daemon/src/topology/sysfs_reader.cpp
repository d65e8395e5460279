// The sysfs topology reader. Pure sysfs under an injectable root, so fixture
// trees test it; libnuma cannot be pointed at another root (and caches its
// node-to-CPU maps until numa_node_to_cpu_update() after CPU hotplug, see
// numa(3)), so it is not used here.
//
// Layout read (Documentation/ABI/stable/sysfs-devices-node, .../sysfs-devices-memory):
//   devices/system/node/{online,possible}      node lists
//   devices/system/node/nodeN/cpulist          the node's online CPUs
//   devices/system/node/nodeN/distance         SLIT row over the online nodes
//   devices/system/node/nodeN/cpuM, memoryM    links to the node's present CPUs / memory blocks
//   devices/system/cpu/{present,online}        CPU lists
//   devices/system/cpu/cpuM/online, nodeK      per CPU state and node link
//   devices/system/memory/block_size_bytes     hex
//   devices/system/memory/memoryM/state        "online", "offline" or "going-offline"
//   devices/system/memory/memoryM/nodeK        node link of the block
//   devices/system/node/nodeN/meminfo          MemTotal, only without memory/
// Links may be real symlinks or plain directories/files: only names are used.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <system_error>

#include "core/file_descriptor.hpp"
#include "core/sysfs_text.hpp"
#include "topology/topology.hpp"

namespace fs = std::filesystem;

namespace hpplace {

namespace {

constexpr unsigned local_distance = 10;

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
    throw TopologyError(path.string() + ": " + problem);
}

// Reads a whole (small) sysfs file.
std::string read_file(const fs::path& path) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        fail(path, std::string("cannot open: ") + std::strerror(errno));
    }
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(path, std::string("cannot read: ") + std::strerror(errno));
        }
        if (n == 0) {
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > (1U << 20)) {
            fail(path, "larger than 1 MiB, not a sysfs attribute");
        }
    }
    return text;
}

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\n");
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(" \t\n") - first + 1);
}

CpuSet read_list(const fs::path& path) {
    const std::string text = read_file(path);
    try {
        return CpuSet::parse_list(text);
    } catch (const std::invalid_argument& error) {
        fail(path, error.what());
    }
}

// The numbers of the entries `<prefix><number>` in a directory (links or not).
std::vector<unsigned> numbered_entries(const fs::path& directory, std::string_view prefix) {
    std::vector<unsigned> numbers;
    std::error_code error;
    fs::directory_iterator it(directory, error);
    if (error) {
        fail(directory, "cannot list: " + error.message());
    }
    for (; it != fs::directory_iterator(); it.increment(error)) {
        if (const auto number = sysname_number(it->path().filename().native(), prefix)) {
            numbers.push_back(*number);
        }
    }
    if (error) {
        fail(directory, "cannot list: " + error.message());
    }
    std::sort(numbers.begin(), numbers.end());
    return numbers;
}

bool path_exists(const fs::path& path) {
    std::error_code error;
    return fs::exists(path, error);
}

std::uint64_t read_block_size(const fs::path& path) {
    const std::string text = read_file(path);
    try {
        return parse_memory_block_size(text);
    } catch (const std::invalid_argument&) {
        fail(path, "expected a non-zero hexadecimal block size, got \"" + std::string(trim(text)) + "\"");
    }
}

// Whether memory block `block` counts as online memory. "going-offline" still
// does: the mem_offline event that follows subtracts it.
bool block_is_online(const fs::path& memory_dir, unsigned block) {
    const fs::path path = memory_dir / ("memory" + std::to_string(block)) / "state";
    const std::string text = read_file(path);
    const std::string_view state = trim(text);
    if (state == "online" || state == "going-offline") {
        return true;
    }
    if (state == "offline") {
        return false;
    }
    fail(path, "unknown memory block state \"" + std::string(state) + "\"");
}

std::vector<unsigned> read_distances(const fs::path& path, std::size_t count) {
    const std::string text = read_file(path);
    std::vector<unsigned> row;
    std::string_view rest = trim(text);
    while (!rest.empty()) {
        const auto space = rest.find_first_of(" \t");
        const std::string_view word = rest.substr(0, space);
        unsigned value = 0;
        const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
        if (error != std::errc{} || end != word.data() + word.size()) {
            fail(path, "bad distance \"" + std::string(word) + "\"");
        }
        row.push_back(value);
        rest = space == std::string_view::npos ? std::string_view{} : trim(rest.substr(space));
    }
    if (row.size() != count) {
        fail(path, "expected " + std::to_string(count) + " distances (one per online node), got " +
                       std::to_string(row.size()));
    }
    return row;
}

struct CpuState {
    CpuSet present;
    CpuSet online;
};

CpuState read_cpu_state(const fs::path& cpu_dir) {
    CpuState state;
    if (path_exists(cpu_dir / "present")) {
        state.present = read_list(cpu_dir / "present");
    } else {
        for (const unsigned cpu : numbered_entries(cpu_dir, "cpu")) {
            state.present.set(cpu);
        }
    }
    if (path_exists(cpu_dir / "online")) {
        state.online = read_list(cpu_dir / "online");
    } else {
        // Per-CPU files; a CPU without one (often the boot CPU) cannot go offline.
        state.present.for_each([&](unsigned cpu) {
            const fs::path path = cpu_dir / ("cpu" + std::to_string(cpu)) / "online";
            if (!path_exists(path)) {
                state.online.set(cpu);
                return;
            }
            const std::string text = read_file(path);
            const std::string_view value = trim(text);
            if (value != "0" && value != "1") {
                fail(path, "expected 0 or 1, got \"" + std::string(value) + "\"");
            }
            if (value == "1") {
                state.online.set(cpu);
            }
        });
    }
    // An online CPU is present, whatever a racing reader saw.
    state.present |= state.online;
    return state;
}

// The online node ids that have a directory.
std::vector<unsigned> read_node_ids(const fs::path& node_dir) {
    const std::vector<unsigned> directories = numbered_entries(node_dir, "node");
    for (const char* list_name : {"online", "possible"}) {
        const fs::path list_path = node_dir / list_name;
        if (!path_exists(list_path)) {
            continue;
        }
        const CpuSet listed = read_list(list_path);
        std::vector<unsigned> ids;
        for (const unsigned id : directories) {
            if (listed.test(id)) {
                ids.push_back(id);
            }
        }
        if (std::string_view(list_name) == "online") {
            listed.for_each([&](unsigned id) {
                if (!std::binary_search(directories.begin(), directories.end(), id)) {
                    fail(list_path, "node " + std::to_string(id) + " is listed but has no directory node" +
                                        std::to_string(id));
                }
            });
        }
        return ids;
    }
    return directories;
}

void check_node_ids(const fs::path& node_dir, const std::vector<unsigned>& ids) {
    for (const unsigned id : ids) {
        if (id > max_node_id) {
            fail(node_dir / ("node" + std::to_string(id)), "node id beyond " + std::to_string(max_node_id));
        }
    }
}

// "Node 1 MemTotal:  524288 kB" from nodeN/meminfo, in bytes: the node's memory
// when the kernel has no memory block devices (no CONFIG_MEMORY_HOTPLUG).
std::uint64_t read_meminfo_total(const fs::path& path) {
    const std::string text = read_file(path);
    const auto key = text.find("MemTotal:");
    if (key == std::string::npos) {
        fail(path, "no MemTotal line");
    }
    const auto line_end = text.find('\n', key);
    std::string_view value = trim(std::string_view(text).substr(key + 9, line_end == std::string::npos
                                                                              ? std::string::npos
                                                                              : line_end - key - 9));
    std::uint64_t kib = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), kib);
    if (error != std::errc{} || trim(std::string_view(end, value.data() + value.size() - end)) != "kB" ||
        kib > UINT64_MAX / 1024) {
        fail(path, "bad MemTotal \"" + std::string(value) + "\"");
    }
    return kib * 1024;
}

// Which node each memory block belongs to: nodeN/memoryM entries first, then
// memoryM/nodeK links for blocks no node directory lists.
std::map<unsigned, unsigned> memory_block_nodes(const fs::path& node_dir, const std::vector<unsigned>& node_ids,
                                                const fs::path& memory_dir, const std::vector<unsigned>& blocks) {
    std::map<unsigned, unsigned> owner;
    for (const unsigned id : node_ids) {
        for (const unsigned block : numbered_entries(node_dir / ("node" + std::to_string(id)), "memory")) {
            const auto [it, inserted] = owner.emplace(block, id);
            if (!inserted && it->second != id) {
                fail(node_dir / ("node" + std::to_string(id)) / ("memory" + std::to_string(block)),
                     "memory block also belongs to node " + std::to_string(it->second));
            }
        }
    }
    for (const unsigned block : blocks) {
        if (owner.contains(block)) {
            continue;
        }
        const auto links = numbered_entries(memory_dir / ("memory" + std::to_string(block)), "node");
        if (!links.empty()) {
            owner.emplace(block, links.front());
        }
    }
    return owner;
}

Topology read_single_node(const CpuState& cpus, const fs::path& memory_dir) {
    NumaNode node;
    node.id = 0;
    node.cpus = cpus.online;
    node.offline_cpus = cpus.present - cpus.online;
    node.distances = {local_distance};
    if (path_exists(memory_dir / "block_size_bytes")) {
        const std::uint64_t block_size = read_block_size(memory_dir / "block_size_bytes");
        for (const unsigned block : numbered_entries(memory_dir, "memory")) {
            if (block_is_online(memory_dir, block)) {
                node.memory_bytes += block_size;
            }
        }
    }
    Topology topology;
    topology.nodes.push_back(std::move(node));
    return topology;
}

}  // namespace

Topology read_topology(const fs::path& sysfs_root) {
    const fs::path system = sysfs_root / "devices" / "system";
    const fs::path cpu_dir = system / "cpu";
    const fs::path node_dir = system / "node";
    const fs::path memory_dir = system / "memory";

    const CpuState cpus = read_cpu_state(cpu_dir);
    const std::vector<unsigned> node_ids = path_exists(node_dir) ? read_node_ids(node_dir) : std::vector<unsigned>{};
    check_node_ids(node_dir, node_ids);
    if (node_ids.empty()) {
        // A kernel without NUMA: one node 0 holding everything, as oneTBB's
        // tbbbind falls back to one node instead of failing.
        return read_single_node(cpus, memory_dir);
    }

    Topology topology;
    topology.nodes.reserve(node_ids.size());
    CpuSet placed;
    for (const unsigned id : node_ids) {
        const fs::path dir = node_dir / ("node" + std::to_string(id));
        NumaNode node;
        node.id = id;
        const CpuSet listed = read_list(dir / "cpulist");
        if (const CpuSet twice = listed & placed; !twice.empty()) {
            fail(dir / "cpulist", "CPUs " + twice.to_list() + " are already on another node");
        }
        node.cpus = listed & cpus.online;
        node.offline_cpus = listed & cpus.present;
        node.offline_cpus -= cpus.online;
        placed |= node.cpus | node.offline_cpus;
        node.distances = read_distances(dir / "distance", node_ids.size());
        topology.nodes.push_back(std::move(node));
    }

    // Present CPUs the cpulists do not show (offline ones: the kernel's cpulist
    // is the node's CPUs AND the online mask) go by their node links.
    const CpuSet unplaced = cpus.present - placed;
    for (auto& node : topology.nodes) {
        for (const unsigned cpu : numbered_entries(node_dir / ("node" + std::to_string(node.id)), "cpu")) {
            if (unplaced.test(cpu) && !placed.test(cpu)) {
                (cpus.online.test(cpu) ? node.cpus : node.offline_cpus).set(cpu);
                placed.set(cpu);
            }
        }
    }
    (cpus.present - placed).for_each([&](unsigned cpu) {
        const auto links = numbered_entries(cpu_dir / ("cpu" + std::to_string(cpu)), "node");
        NumaNode* node = links.empty() ? nullptr : topology.find_node(links.front());
        // No link at all: the kernel's default cpu_to_node() is the first node.
        if (node == nullptr) {
            node = &topology.nodes.front();
        }
        (cpus.online.test(cpu) ? node->cpus : node->offline_cpus).set(cpu);
    });

    // The rules topology_from_json() applies, so that a read snapshot is valid JSON.
    for (std::size_t i = 0; i < topology.nodes.size(); ++i) {
        const fs::path path = node_dir / ("node" + std::to_string(topology.nodes[i].id)) / "distance";
        const auto& row = topology.nodes[i].distances;
        for (std::size_t j = 0; j < row.size(); ++j) {
            if (j == i && row[j] != local_distance) {
                fail(path, "distance to itself is " + std::to_string(row[j]) + ", expected 10");
            }
            if (j != i && (row[j] <= local_distance || row[j] > 255)) {
                fail(path, "distance to node " + std::to_string(topology.nodes[j].id) + " is " +
                               std::to_string(row[j]) + ", expected 11..255");
            }
        }
    }

    if (path_exists(memory_dir / "block_size_bytes")) {
        const std::uint64_t block_size = read_block_size(memory_dir / "block_size_bytes");
        const std::vector<unsigned> blocks = numbered_entries(memory_dir, "memory");
        for (const auto& [block, id] : memory_block_nodes(node_dir, node_ids, memory_dir, blocks)) {
            NumaNode* node = topology.find_node(id);
            if (node != nullptr && path_exists(memory_dir / ("memory" + std::to_string(block))) &&
                block_is_online(memory_dir, block)) {
                node->memory_bytes += block_size;
            }
        }
    } else {
        for (auto& node : topology.nodes) {
            const fs::path meminfo = node_dir / ("node" + std::to_string(node.id)) / "meminfo";
            if (path_exists(meminfo)) {
                node.memory_bytes = read_meminfo_total(meminfo);
            }
        }
    }
    return topology;
}

}  // namespace hpplace
