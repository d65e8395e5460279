// The cgroup v2 applier against a temp directory standing in for /sys/fs/cgroup,
// and its retries of refused writes (CgroupPlanApplier).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "service/cgroup_applier.hpp"
#include "service/replanner.hpp"

using namespace hpplace;

namespace {

CgroupTarget target(const std::string& workload, const std::filesystem::path& cgroup, const std::string& cpus,
                    const std::string& mems) {
    return {workload, cgroup, CpuSet::parse_list(cpus), CpuSet::parse_list(mems)};
}

struct FakeCgroupFs {
    std::filesystem::path root;
    std::vector<std::string> log;

    FakeCgroupFs() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-cgroup-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        root = pattern;
        write(root / "cgroup.subtree_control", "memory pids\n");
    }
    ~FakeCgroupFs() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }

    static void write(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }
    static std::string read(const std::filesystem::path& path) {
        std::ifstream in(path);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    // A cgroup dir with cpuset files (as the kernel makes them once the
    // controller is enabled in the parent).
    std::filesystem::path make_cgroup(const std::string& relative, const std::string& cpus, const std::string& mems,
                                      bool is_parent = false) {
        const auto dir = root / relative;
        std::filesystem::create_directories(dir);
        write(dir / "cpuset.cpus", cpus);
        write(dir / "cpuset.mems", mems);
        if (is_parent) {
            write(dir / "cgroup.subtree_control", "");
        }
        return dir;
    }

    CgroupApplier applier() {
        return CgroupApplier(root, [this](const std::string& line) { log.push_back(line); });
    }
};

}  // namespace

TEST_CASE("cgroup applier writes what differs and enables cpuset up the tree") {
    FakeCgroupFs fs;
    fs.make_cgroup("apps", "", "", /*is_parent=*/true);
    const auto web = fs.make_cgroup("apps/web", "", "");
    auto applier = fs.applier();

    const auto result = applier.apply({target("web", "apps/web", "0-3", "0")});
    CHECK(result.writes == 2);
    CHECK(result.errors == 0);
    CHECK(FakeCgroupFs::read(web / "cpuset.cpus") == "0-3\n");
    CHECK(FakeCgroupFs::read(web / "cpuset.mems") == "0\n");
    // "+cpuset" written to the root and to apps, and said so.
    CHECK(FakeCgroupFs::read(fs.root / "cgroup.subtree_control") == "+cpuset\n");
    CHECK(FakeCgroupFs::read(fs.root / "apps" / "cgroup.subtree_control") == "+cpuset\n");
    REQUIRE(fs.log.size() == 2);
    CHECK(fs.log[0] == "<5>workload web: enabled the cpuset controller in " +
                           (fs.root / "cgroup.subtree_control").string());
    CHECK(fs.log[1].find("apps/cgroup.subtree_control") != std::string::npos);
}

TEST_CASE("cgroup applier: equal sets are not rewritten, whatever their spelling") {
    FakeCgroupFs fs;
    FakeCgroupFs::write(fs.root / "cgroup.subtree_control", "cpuset memory\n");
    const auto db = fs.make_cgroup("db", "0,1,2,3\n", "0-1\n");
    auto applier = fs.applier();
    // Absolute paths work as well as relative ones.
    const auto result = applier.apply({target("db", db, "0-3", "0,1")});
    CHECK(result.writes == 0);
    CHECK(result.errors == 0);
    CHECK(FakeCgroupFs::read(db / "cpuset.cpus") == "0,1,2,3\n");
    CHECK(fs.log.empty());

    const auto changed = applier.apply({target("db", db, "0-5", "0,1")});
    CHECK(changed.writes == 1);
    CHECK(FakeCgroupFs::read(db / "cpuset.cpus") == "0-5\n");
    CHECK(FakeCgroupFs::read(db / "cpuset.mems") == "0-1\n");
}

TEST_CASE("cgroup applier: a failing write is logged, counted, and retried at the next apply") {
    FakeCgroupFs fs;
    FakeCgroupFs::write(fs.root / "cgroup.subtree_control", "cpuset\n");
    const auto web = fs.make_cgroup("web", "0-1", "0");
    // Root ignores file modes: a directory in place of the file makes the
    // write fail the way a refused cgroup write does.
    std::filesystem::remove(web / "cpuset.cpus");
    std::filesystem::create_directory(web / "cpuset.cpus");
    FakeCgroupFs::write(web / "cpuset.cpus" / "x", "");
    auto applier = fs.applier();

    const auto failed = applier.apply({target("web", "web", "0-3", "0-1")});
    CHECK(failed.errors == 1);
    CHECK(failed.writes == 1);  // mems still applied
    CHECK(FakeCgroupFs::read(web / "cpuset.mems") == "0-1\n");
    REQUIRE(fs.log.size() == 1);
    CHECK(fs.log[0].starts_with("<4>workload web: cannot read " + (web / "cpuset.cpus").string()));
    CHECK(fs.log[0].find('\n') == std::string::npos);

    // Fixed behind our back: the next apply catches up.
    std::filesystem::remove_all(web / "cpuset.cpus");
    FakeCgroupFs::write(web / "cpuset.cpus", "0-1\n");
    const auto retried = applier.apply({target("web", "web", "0-3", "0-1")});
    CHECK(retried.errors == 0);
    CHECK(retried.writes == 1);
    CHECK(FakeCgroupFs::read(web / "cpuset.cpus") == "0-3\n");
}

TEST_CASE("cgroup applier: a read-only cpuset file fails the write, not the daemon") {
    FakeCgroupFs fs;
    FakeCgroupFs::write(fs.root / "cgroup.subtree_control", "cpuset\n");
    const auto web = fs.make_cgroup("web", "0", "0");
    std::string refused_value;
    if (::geteuid() == 0) {
        // root writes any mode-0444 file of a normal file system; a read-only
        // sysfs attribute refuses even root (EACCES) and reads as a CPU list.
        std::filesystem::remove(web / "cpuset.cpus");
        std::filesystem::create_symlink("/sys/devices/system/cpu/possible", web / "cpuset.cpus");
        refused_value = "0-4095";
    } else {
        std::filesystem::permissions(web / "cpuset.cpus", std::filesystem::perms::owner_read);
        refused_value = "1";
    }
    auto applier = fs.applier();
    const auto result = applier.apply({target("web", "web", refused_value, "0")});
    CHECK(result.errors == 1);
    CHECK(result.writes == 0);
    REQUIRE(fs.log.size() == 1);
    CHECK(fs.log[0] == "<4>workload web: cannot open " + (web / "cpuset.cpus").string() +
                           " for writing: Permission denied (retried at the next change)");
    // Counted again at the next apply: it is retried, never given up on.
    CHECK(applier.apply({target("web", "web", refused_value, "0")}).errors == 1);
}

TEST_CASE("cpuset_writes: only what differs, widening before narrowing") {
    const auto set = [](const char* list) { return CpuSet::parse_list(list); };
    using W = std::vector<CpusetWrite>;
    // Nothing to do.
    CHECK(cpuset_writes(set("0-3"), set("0"), set("0-3"), set("0")).empty());
    // One file each.
    CHECK(cpuset_writes(set("0-3"), set("0"), set("0-5"), set("0")) == W{{"cpuset.cpus", "0-5"}});
    CHECK(cpuset_writes(set("0-3"), set("0"), set("0-3"), set("0-1")) == W{{"cpuset.mems", "0-1"}});
    // Growing onto a new node: memory first, then the CPUs that use it.
    CHECK(cpuset_writes(set("0-1"), set("0"), set("0-3"), set("0-1")) ==
          W{{"cpuset.mems", "0-1"}, {"cpuset.cpus", "0-3"}});
    // Leaving a node: CPUs first, then the memory.
    CHECK(cpuset_writes(set("0-3"), set("0-1"), set("0-1"), set("0")) ==
          W{{"cpuset.cpus", "0-1"}, {"cpuset.mems", "0"}});
    // Moving from node 0 to node 1 (neither grows nor only shrinks): mems first.
    CHECK(cpuset_writes(set("0-1"), set("0"), set("2-3"), set("1")) ==
          W{{"cpuset.mems", "1"}, {"cpuset.cpus", "2-3"}});
    // Empty current files (a fresh cgroup) are filled in.
    CHECK(cpuset_writes({}, {}, set("0-3"), set("0")) == W{{"cpuset.mems", "0"}, {"cpuset.cpus", "0-3"}});
}

TEST_CASE("cgroup applier: both files change in the order of cpuset_writes") {
    FakeCgroupFs fs;
    FakeCgroupFs::write(fs.root / "cgroup.subtree_control", "cpuset\n");
    const auto grow = fs.make_cgroup("grow", "0-1", "0");
    const auto shrink = fs.make_cgroup("shrink", "0-3", "0-1");
    auto applier = fs.applier();
    CHECK(applier.apply({target("grow", "grow", "0-3", "0-1"), target("shrink", "shrink", "0-1", "0")}).writes == 4);
    CHECK(FakeCgroupFs::read(grow / "cpuset.cpus") == "0-3\n");
    CHECK(FakeCgroupFs::read(grow / "cpuset.mems") == "0-1\n");
    CHECK(FakeCgroupFs::read(shrink / "cpuset.cpus") == "0-1\n");
    CHECK(FakeCgroupFs::read(shrink / "cpuset.mems") == "0\n");
}

TEST_CASE("cgroup applier: a missing cgroup is an error with a reason") {
    FakeCgroupFs fs;
    auto applier = fs.applier();
    const auto missing = applier.apply({target("ghost", "no/such/group", "0", "0")});
    CHECK(missing.errors == 1);
    REQUIRE(fs.log.size() == 1);
    CHECK(fs.log[0].starts_with("<4>workload ghost: cgroup " + (fs.root / "no/such/group").string() +
                                " is not a directory"));
}

// CgroupPlanApplier: its jobs run on its worker thread, their results and the
// retry timers on a local io_context, which run() drives until no job or retry
// is left (a job holds the loop's work count). The kernel's refusals are made
// by a write function that throws EINVAL for chosen values.
namespace {

struct RefusingWrites {
    std::map<std::string, int> refusals;  // value -> how many more writes of it to refuse (-1: all)
    std::vector<std::string> attempts;    // values tried, in order (on the worker; read once it is idle)

    CgroupApplier::WriteFile function() {
        return [this](const std::filesystem::path& path, const std::string& value) {
            attempts.push_back(value);
            auto it = refusals.find(value);
            if (it != refusals.end() && it->second != 0) {
                if (it->second > 0) {
                    --it->second;
                }
                throw std::system_error(EINVAL, std::system_category(), "cannot write \"" + value + "\" to " +
                                                                            path.string());
            }
            write_cgroup_file(path, value);
        };
    }
};

// A write that waits, as one waiting for the CPU hotplug lock does, until the
// test opens the gate; the test learns that a job is inside it.
struct GatedWrites {
    std::mutex mutex;
    std::condition_variable changed;
    bool open = false;
    unsigned inside = 0;                // writes that reached the gate
    std::vector<std::string> attempts;  // under mutex

    CgroupApplier::WriteFile function() {
        return [this](const std::filesystem::path& path, const std::string& value) {
            {
                std::unique_lock lock(mutex);
                attempts.push_back(value);
                ++inside;
                changed.notify_all();
                changed.wait(lock, [this] { return open; });
            }
            write_cgroup_file(path, value);
        };
    }
    // Until `count` writes have reached the gate (false after 5 s).
    bool wait_inside(unsigned count) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, std::chrono::seconds(5), [&] { return inside >= count; });
    }
    void release() {
        const std::lock_guard lock(mutex);
        open = true;
        changed.notify_all();
    }
    std::vector<std::string> tried() {
        const std::lock_guard lock(mutex);
        return attempts;
    }
};

struct RetryRig {
    FakeCgroupFs fs;
    RefusingWrites writes;
    boost::asio::io_context io;
    unsigned counted_errors = 0;
    unsigned applied = 0;
    std::vector<std::thread::id> callback_threads;
    std::filesystem::path web;
    Config config;

    RetryRig() {
        FakeCgroupFs::write(fs.root / "cgroup.subtree_control", "cpuset\n");
        web = fs.make_cgroup("web", "0-1\n", "0\n");
        Workload workload;
        workload.name = "web";
        workload.cgroup = web.string();
        config.workloads = {workload};
    }

    CgroupPlanApplier applier(BackoffPolicy backoff = {}, CgroupApplier::WriteFile write = {}) {
        return CgroupPlanApplier(
            CgroupApplier(fs.root, [this](const std::string& line) { fs.log.push_back(line); },
                          write ? std::move(write) : writes.function()),
            CgroupApplyLoop{.executor = io.get_executor(),
                            .backoff = backoff,
                            .count_errors =
                                [this](unsigned errors) {
                                    counted_errors += errors;
                                    callback_threads.push_back(std::this_thread::get_id());
                                },
                            .applied =
                                [this](std::chrono::nanoseconds) {
                                    ++applied;
                                    callback_threads.push_back(std::this_thread::get_id());
                                }});
    }

    static Plan plan(std::uint64_t generation, const std::string& cpus) {
        WorkloadPlan workload;
        workload.name = "web";
        workload.cpuset = CpuSet::parse_list(cpus);
        workload.mems = CpuSet::parse_list("0");
        return Plan{.generation = generation, .workloads = {workload}};
    }

    // Runs the loop until the next result or timer (the first run after run() returned restarts it).
    void run_one() {
        io.restart();
        REQUIRE(io.run_one_for(std::chrono::seconds(5)) == 1);
    }
    void run() {
        io.restart();
        io.run();
    }
    // Runs the loop until every job's result is back (a cancelled timer's handler may come first).
    void results(const CgroupPlanApplier& applier) {
        while (applier.in_flight() != 0) {
            run_one();
        }
    }

    std::size_t log_lines_with(std::string_view text) const {
        return static_cast<std::size_t>(std::count_if(fs.log.begin(), fs.log.end(), [&](const std::string& line) {
            return line.find(text) != std::string::npos;
        }));
    }
};

}  // namespace

TEST_CASE("cgroup plan applier: a refused cpuset.cpus write is retried until the cpuset equals the plan") {
    RetryRig rig;
    rig.writes.refusals["0-3"] = 2;  // the new CPUs reach the parent's effective set two tries later
    auto applier = rig.applier();
    CHECK(applier.apply(RetryRig::plan(2, "0-3"), {}, rig.config) == 0);  // its errors come back later
    CHECK(applier.in_flight() == 1);
    rig.results(applier);
    CHECK(applier.in_flight() == 0);
    CHECK(FakeCgroupFs::read(rig.web / "cpuset.cpus") == "0-1\n");
    CHECK(applier.retrying() == std::vector<std::string>{"web"});
    CHECK(rig.counted_errors == 1);

    rig.run();  // returns when no job or timer is left
    CHECK(FakeCgroupFs::read(rig.web / "cpuset.cpus") == "0-3\n");
    CHECK(applier.retrying().empty());
    CHECK(applier.retries() == 2);
    CHECK(applier.give_ups() == 0);
    CHECK(rig.counted_errors == 2);  // the plan's refusal and the first retry's
    CHECK(rig.applied == 1);
    CHECK(rig.writes.attempts == std::vector<std::string>{"0-3", "0-3", "0-3"});
    CHECK(rig.log_lines_with("workload web: retrying its cpuset for up to 3000 ms") == 1);
    CHECK(rig.log_lines_with("workload web: cpuset applied after 2 retries") == 1);
}

TEST_CASE("cgroup plan applier: a newer plan replaces a pending retry") {
    RetryRig rig;
    rig.writes.refusals["0-3"] = -1;
    auto applier = rig.applier();
    applier.apply(RetryRig::plan(2, "0-3"), {}, rig.config);
    rig.results(applier);
    REQUIRE(applier.retrying() == std::vector<std::string>{"web"});
    // The CPUs left again before the kernel took them: the next plan wants 0.
    CHECK(applier.apply(RetryRig::plan(3, "0"), {}, rig.config) == 0);
    CHECK(applier.retrying().empty());
    rig.run();  // the cancelled timer's handler runs and does nothing
    CHECK(FakeCgroupFs::read(rig.web / "cpuset.cpus") == "0\n");
    CHECK(applier.retries() == 0);
    CHECK(rig.writes.attempts == std::vector<std::string>{"0-3", "0"});

    // A retry pending for the same plan is replaced by its heal, not doubled.
    applier.apply(RetryRig::plan(4, "0-3"), {}, rig.config);
    rig.results(applier);
    REQUIRE(applier.retrying() == std::vector<std::string>{"web"});
    applier.apply(RetryRig::plan(4, "0-3"), {}, rig.config);
    rig.results(applier);
    CHECK(applier.retrying() == std::vector<std::string>{"web"});
    rig.writes.refusals["0-3"] = 1;
    rig.run();
    CHECK(FakeCgroupFs::read(rig.web / "cpuset.cpus") == "0-3\n");
    CHECK(applier.retries() == 2);
}

TEST_CASE("cgroup plan applier: retries give up after the budget, logged once; other errors are not retried") {
    RetryRig rig;
    rig.writes.refusals["0-3"] = -1;
    auto applier = rig.applier(BackoffPolicy{.first = std::chrono::milliseconds(1),
                                             .max = std::chrono::milliseconds(4),
                                             .budget = std::chrono::milliseconds(40)});
    applier.apply(RetryRig::plan(2, "0-3"), {}, rig.config);
    rig.run();
    CHECK(applier.retrying().empty());
    CHECK(applier.give_ups() == 1);
    CHECK(applier.retries() >= 2);
    CHECK(rig.counted_errors == applier.retries() + 1);  // the plan and every retry were refused
    CHECK(FakeCgroupFs::read(rig.web / "cpuset.cpus") == "0-1\n");
    REQUIRE(rig.log_lines_with("cpuset still refused after") == 1);
    CHECK(rig.fs.log.back().starts_with("<4>workload web: cpuset still refused after"));
    CHECK(rig.fs.log.back().find("retried at the next change: workload web: cannot write \"0-3\"") !=
          std::string::npos);

    // A file that is not there is no "not yet": nothing to retry.
    std::filesystem::remove(rig.web / "cpuset.mems");
    std::filesystem::create_directory(rig.web / "cpuset.mems");
    const unsigned before = rig.counted_errors;
    applier.apply(RetryRig::plan(3, "0-1"), {}, rig.config);
    rig.run();
    CHECK(rig.counted_errors >= before + 1);
    CHECK(applier.retrying().empty());
}

TEST_CASE("cgroup plan applier: while a write waits, the loop runs; plans queued meanwhile end in the newest") {
    RetryRig rig;
    GatedWrites gate;
    const auto loop_thread = std::this_thread::get_id();
    {
        auto applier = rig.applier({}, gate.function());
        applier.apply(RetryRig::plan(2, "0-3"), {}, rig.config);
        REQUIRE(gate.wait_inside(1));  // the worker waits in the write: apply() has returned all the same
        // The loop is free: more plans come, each replacing the one not yet started.
        applier.apply(RetryRig::plan(3, "0"), {}, rig.config);
        applier.apply(RetryRig::plan(4, "0,2"), {}, rig.config);
        applier.apply(RetryRig::plan(5, "0-2"), {}, rig.config);
        CHECK(applier.in_flight() == 2);  // the waiting write and one job for the newest plan
        bool ran = false;
        boost::asio::post(rig.io, [&] { ran = true; });
        rig.run_one();  // the loop's other work goes on
        CHECK(ran);
        CHECK(rig.applied == 0);

        gate.release();
        rig.run();
        CHECK(applier.in_flight() == 0);
        CHECK(gate.tried() == std::vector<std::string>{"0-3", "0-2"});  // in order, the overtaken ones never
        CHECK(FakeCgroupFs::read(rig.web / "cpuset.cpus") == "0-2\n");
        CHECK(rig.applied == 2);  // plans 2 and 5: 3 and 4 were overtaken before they started
        CHECK(rig.counted_errors == 0);
    }
    CHECK_FALSE(rig.callback_threads.empty());
    for (const auto& thread : rig.callback_threads) {
        CHECK(thread == loop_thread);
    }
}

TEST_CASE("cgroup plan applier: destroyed while a write waits, it waits for that write and drops the rest") {
    RetryRig rig;
    GatedWrites gate;
    std::jthread opener;
    {
        auto applier = rig.applier({}, gate.function());
        applier.apply(RetryRig::plan(2, "0-3"), {}, rig.config);
        REQUIRE(gate.wait_inside(1));
        applier.apply(RetryRig::plan(3, "0-2"), {}, rig.config);
        opener = std::jthread([&gate] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            gate.release();
        });
    }  // joins the worker once the write is through
    CHECK(FakeCgroupFs::read(rig.web / "cpuset.cpus") == "0-3\n");
    CHECK(gate.tried() == std::vector<std::string>{"0-3"});
    rig.run();  // the completion posted meanwhile finds no applier: it does nothing
    CHECK(rig.applied == 0);
    CHECK(rig.fs.log.empty());
}
