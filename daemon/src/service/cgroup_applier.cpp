#include "service/cgroup_applier.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "core/cpu_set.hpp"
#include "core/file_descriptor.hpp"
#include "core/log.hpp"
#include "core/system_error.hpp"

namespace hpplace {

namespace {

// Small sysfs/cgroupfs files: the whole content, or std::system_error.
std::string read_small_file(const std::filesystem::path& path) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    throw_system_error_on(!fd, "cannot read " + path.string());
    std::string content;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        throw_system_error_on(n < 0, "cannot read " + path.string());
        if (n == 0) {
            return content;
        }
        content.append(buffer, static_cast<std::size_t>(n));
        if (content.size() > (1U << 20)) {
            throw std::runtime_error("cannot read " + path.string() + ": larger than 1 MiB");
        }
    }
}

bool has_word(std::string_view text, std::string_view word) {
    std::istringstream in{std::string(text)};
    std::string w;
    while (in >> w) {
        if (w == word) {
            return true;
        }
    }
    return false;
}

// a is a subset of b
bool subset(const CpuSet& a, const CpuSet& b) { return (a - b).empty(); }

// The kernel's "not yet": a CPU or node missing from the parent's effective set.
bool refused_for_now(const std::system_error& error) {
    return error.code() == std::errc::invalid_argument || error.code() == std::errc::device_or_resource_busy;
}

}  // namespace

// As `echo value > file` does: cgroup files take a value in one write and
// report a refusal as that write's errno.
void write_cgroup_file(const std::filesystem::path& path, const std::string& value) {
    FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    throw_system_error_on(!fd, "cannot open " + path.string() + " for writing");
    const std::string line = value + "\n";
    ssize_t n = 0;
    do {
        n = ::write(fd.get(), line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    throw_system_error_on(n < 0, "cannot write \"" + value + "\" to " + path.string());
    if (static_cast<std::size_t>(n) != line.size()) {
        throw std::runtime_error("short write of \"" + value + "\" to " + path.string());
    }
}

std::vector<CpusetWrite> cpuset_writes(const CpuSet& cpus, const CpuSet& mems, const CpuSet& want_cpus,
                                       const CpuSet& want_mems) {
    std::vector<CpusetWrite> writes;
    const bool mems_change = mems != want_mems;
    const bool cpus_change = cpus != want_cpus;
    // Mems only shrinking: move the CPUs off the nodes first, then the memory.
    const bool mems_shrink = mems_change && subset(want_mems, mems);
    if (mems_change && !mems_shrink) {
        writes.push_back({"cpuset.mems", want_mems.to_list()});
    }
    if (cpus_change) {
        writes.push_back({"cpuset.cpus", want_cpus.to_list()});
    }
    if (mems_shrink) {
        writes.push_back({"cpuset.mems", want_mems.to_list()});
    }
    return writes;
}

CgroupApplier::CgroupApplier(std::filesystem::path root, LogLine log, WriteFile write)
    : root_(std::move(root)), log_(std::move(log)), write_(std::move(write)) {
    if (!log_) {
        log_ = [](const std::string& line) { log::to_stderr("hpplaced", line); };
    }
    if (!write_) {
        write_ = write_cgroup_file;
    }
}

std::filesystem::path CgroupApplier::resolve(const std::filesystem::path& cgroup) const {
    return cgroup.is_absolute() ? cgroup.lexically_normal() : (root_ / cgroup).lexically_normal();
}

bool CgroupApplier::enable_cpuset_controller(const std::filesystem::path& cgroup, const std::string& workload,
                                             const LogLine& log) {
    // The ancestors that are cgroups (they have cgroup.subtree_control), nearest
    // first, up to and including the root.
    std::vector<std::filesystem::path> ancestors;
    const auto root = root_.lexically_normal();
    for (auto dir = cgroup.parent_path(); !dir.empty(); dir = dir.parent_path()) {
        std::error_code ec;
        if (!std::filesystem::exists(dir / "cgroup.subtree_control", ec)) {
            break;
        }
        ancestors.push_back(dir);
        if (dir == root || dir == dir.root_path()) {
            break;
        }
    }
    // The controller must be enabled from the top down.
    for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it) {
        const auto control = *it / "cgroup.subtree_control";
        try {
            if (has_word(read_small_file(control), "cpuset")) {
                continue;
            }
            write_(control, "+cpuset");
            log(log::notice("workload " + workload + ": enabled the cpuset controller in " + control.string()));
        } catch (const std::exception& e) {
            log(log::warning("workload " + workload + ": cannot enable the cpuset controller: " + e.what()));
            return false;
        }
    }
    return true;
}

CgroupApplyResult CgroupApplier::apply(const std::vector<CgroupTarget>& targets) {
    CgroupApplyResult total;
    for (const auto& target : targets) {
        const auto result = apply_one(target);
        total.writes += result.writes;
        total.errors += result.errors;
        total.refused.insert(total.refused.end(), result.refused.begin(), result.refused.end());
    }
    return total;
}

CgroupApplyResult CgroupApplier::apply_one(const CgroupTarget& target) { return apply_one(target, log_); }

CgroupApplyResult CgroupApplier::apply_one(const CgroupTarget& target, const LogLine& log) {
    CgroupApplyResult result;
    const std::string who = "workload " + target.workload + ": ";
    const CpuSet& want_cpus = target.cpus;
    const CpuSet& want_mems = target.mems;
    const auto cgroup = resolve(target.cgroup);
    std::error_code ec;
    if (!std::filesystem::is_directory(cgroup, ec)) {
        log(log::warning(who + "cgroup " + cgroup.string() + " is not a directory (create it, e.g. mkdir " +
                         cgroup.string() + ")"));
        ++result.errors;
        return result;
    }
    if (!enable_cpuset_controller(cgroup, target.workload, log)) {
        ++result.errors;
        return result;
    }

    // A file that cannot be read is left alone (and counted); the other one is
    // still brought in line.
    std::optional<CpuSet> current_cpus;
    std::optional<CpuSet> current_mems;
    for (auto [file, current] : {std::pair{"cpuset.cpus", &current_cpus}, std::pair{"cpuset.mems", &current_mems}}) {
        try {
            *current = CpuSet::parse_list(read_small_file(cgroup / file));
        } catch (const std::exception& e) {
            log(log::warning(who + e.what()));
            ++result.errors;
        }
    }
    const auto writes = cpuset_writes(current_cpus.value_or(want_cpus), current_mems.value_or(want_mems), want_cpus,
                                      want_mems);
    bool refused = false;
    for (const auto& write : writes) {
        try {
            write_(cgroup / write.file, write.value);
            ++result.writes;
        } catch (const std::exception& e) {
            const auto* system = dynamic_cast<const std::system_error*>(&e);
            refused = refused || (system != nullptr && refused_for_now(*system));
            log(log::warning(who + e.what() + " (retried at the next change)"));
            ++result.errors;
        }
    }
    if (refused) {
        result.refused.push_back(target);
    }
    return result;
}

}  // namespace hpplace
