#pragma once

// Keeps workload cgroups (v2) in line with the plan: each configured workload's
// cgroup gets cpuset.cpus = the plan's "cpuset" and cpuset.mems = its "mems".
//
// Used directly: build one CgroupTarget per workload that has a `cgroup` in
// its config, then
//   auto result = applier.apply(targets);
//   metrics.count_apply_errors("cgroup", result.errors);
// These calls wait on the kernel (a cpuset write takes the CPU hotplug lock, for
// as long as a CPU takes to come or go), so the daemon makes them through
// CgroupPlanApplier (replanner.hpp), on a thread of its own, with a log that
// keeps the lines for the loop; the calls only read the applier's members.
// Nothing is fatal: a failing write is logged (one line) and counted, and since
// apply() compares the files with the wanted values every time, the next call
// retries it. Call apply() again with the same targets after a resync to heal
// changes made behind the daemon's back. A write the kernel refuses with EINVAL
// or EBUSY (a CPU or node not yet in the parent's effective set, which it gains
// shortly after the hotplug event) is also listed in the result's `refused`, for
// a caller that retries sooner than the next change (CgroupPlanApplier does).
//
// Per cgroup: make sure "cpuset" is in cgroup.subtree_control of every ancestor
// below the root (writing "+cpuset" top-down, logged), read cpuset.cpus and
// cpuset.mems, write only what differs. Order when both change: the widening
// one first; when mems grows (or stays) mems is written before cpus, when mems
// shrinks cpus is written first, so that the cgroup never has CPUs whose
// memory it may not use and the kernel accepts every step.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/cpu_set.hpp"

namespace hpplace {

// One write into a cgroup: file "cpuset.cpus" or "cpuset.mems", value a list.
struct CpusetWrite {
    std::string file;
    std::string value;
    friend bool operator==(const CpusetWrite&, const CpusetWrite&) = default;
};

// Pure: the writes that turn (cpus, mems) into (want_cpus, want_mems), only
// what differs, in an order the kernel accepts (widening first: mems before
// cpus unless mems only shrinks).
std::vector<CpusetWrite> cpuset_writes(const CpuSet& cpus, const CpuSet& mems, const CpuSet& want_cpus,
                                       const CpuSet& want_mems);

struct CgroupTarget {
    std::string workload;            // for log lines
    std::filesystem::path cgroup;    // absolute, or relative to the cgroup root
    CpuSet cpus;
    CpuSet mems;                     // node ids
};

struct CgroupApplyResult {
    unsigned writes = 0;  // files written successfully
    unsigned errors = 0;  // failed reads/writes
    std::vector<CgroupTarget> refused;  // targets with a write refused with EINVAL or EBUSY
};

// One write(2) of value + "\n" into a cgroup file; std::system_error on failure.
void write_cgroup_file(const std::filesystem::path& path, const std::string& value);

class CgroupApplier {
public:
    using LogLine = std::function<void(const std::string&)>;
    using WriteFile = std::function<void(const std::filesystem::path&, const std::string& value)>;

    // root: the cgroup2 mount ("/sys/fs/cgroup"; a temp dir in tests). write:
    // how files are written (default write_cgroup_file; tests make the kernel's refusals).
    explicit CgroupApplier(std::filesystem::path root = "/sys/fs/cgroup", LogLine log = {}, WriteFile write = {});

    CgroupApplyResult apply(const std::vector<CgroupTarget>& targets);
    CgroupApplyResult apply_one(const CgroupTarget& target);
    // The same, with its lines going to `log` instead (a retry keeps them quiet).
    CgroupApplyResult apply_one(const CgroupTarget& target, const LogLine& log);

    const std::filesystem::path& root() const noexcept { return root_; }
    const LogLine& log() const noexcept { return log_; }
    // The cgroup's directory: `cgroup` itself when absolute, else below root().
    std::filesystem::path resolve(const std::filesystem::path& cgroup) const;

private:
    bool enable_cpuset_controller(const std::filesystem::path& cgroup, const std::string& workload,
                                  const LogLine& log);

    std::filesystem::path root_;
    LogLine log_;
    WriteFile write_;
};

}  // namespace hpplace
