#pragma once

// hpplaced as a library class: the event sources and topology tracker, the
// re-planning step with its appliers, the auto-online policy, metrics and the
// control server, on one io_context thread. The appliers' kernel calls (cgroup
// writes, sysfs onlining), which wait on the kernel's hotplug locks, run on
// threads of their own and post their results back to it. hpplaced_main.cpp
// only parses the command line, handles signals and talks to systemd.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "service/auto_online.hpp"
#include "service/control_server.hpp"
#include "service/metrics.hpp"
#include "service/replanner.hpp"
#include "service/topology_tracker.hpp"
#include "service/unit_applier.hpp"
#include "systemd/sd_bus_manager.hpp"

namespace hpplace {

inline constexpr std::string_view default_config_path = "/etc/hpplaced/hpplaced.conf";

struct DaemonOptions {
    std::filesystem::path config_path{default_config_path};
    // Given on the command line: then a missing file is an error.
    bool config_explicit = false;
    std::filesystem::path socket_path = "/run/hpplaced.sock";
    // SO_RCVBUF of the event sockets (tests use a small one to provoke loss).
    std::optional<int> receive_buffer_bytes;
    std::optional<std::filesystem::path> metrics_file;
    std::filesystem::path sysfs_root = "/sys";
    std::filesystem::path cgroup_root = "/sys/fs/cgroup";
    // Connections, timeouts and registered workloads of the control socket.
    ControlServerLimits control_limits;
};

// Why a workload's cgroup is not one the daemon may write (not below
// cgroup_root, lexically or once resolved: a symlink out of it); nullopt when
// it is, or there is none. Checked for the config file's workloads and for
// registered ones alike.
std::optional<std::string> cgroup_outside_root(const Workload& workload, const std::filesystem::path& cgroup_root);

// The configuration the options name: the default file may be missing (no
// workloads, auto_online off); an explicit one may not. Throws ConfigError,
// also for a workload cgroup outside options.cgroup_root.
Config load_daemon_config(const DaemonOptions& options);

// The real sources: hpnotify family, udev, nlctrl watcher, sysfs.
TrackerEnvironment system_environment(boost::asio::io_context& io, const DaemonOptions& options);

class Daemon final : private ControlHandler {
public:
    using LogLine = std::function<void(const std::string&)>;
    // systemd notifications ("READY=1", "RELOADING=1", "STATUS=..."); may be empty.
    using Notify = std::function<void(const std::string&)>;

    // Loads the configuration (throws ConfigError). Nothing runs before start().
    Daemon(boost::asio::io_context& io, DaemonOptions options, Notify notify = {}, LogLine log = {},
           std::optional<TrackerEnvironment> environment = std::nullopt, PlanFunction plan = default_plan_function());
    ~Daemon() override;
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Opens the control socket and the sources, reads the topology; READY=1
    // follows the first plan. Throws when any of that fails.
    void start();
    // SIGHUP: reread the configuration (a bad one is logged and the old one
    // kept), resync from sysfs, re-plan, heal the cgroups.
    void reload();
    // SIGTERM/SIGINT: stop sources and the control server; io.run() returns
    // once what is in flight has finished.
    void stop();

    nlohmann::json status_json() const;
    const Plan& current_plan() const noexcept { return replanner_.plan(); }
    const TopologyTracker& tracker() const noexcept { return *tracker_; }
    const Metrics& metrics() const noexcept { return metrics_; }
    bool ready() const noexcept { return ready_; }
    // A cgroup or auto-online job's result, or a unit's reply, has not come back to the loop yet.
    bool applying() const noexcept;

private:
    control::Status status() override { return current_status(); }
    control::Status current_status() const;
    // The plan answer; a ProtocolError, without building it, when its threads
    // alone are more than an answer may carry.
    const Plan& plan() override;
    bool plan_fits_an_answer() const;
    std::string metrics_text() override { return metrics_.render(); }
    // {"op":"register"} / {"op":"unregister"} from libhpplace: workloads kept
    // beside the config file's (a name the file has stays the file's) and
    // planned with them; they survive reloads, not restarts, and are
    // unregistered when the last connection that registered them closes
    // (ControlServer).
    control::Registration register_workload(const Workload& workload) override;
    void unregister_workload(const std::string& name) override;
    Config with_registered(Config config) const;
    bool file_has(const std::string& name) const;
    // Re-plans with the registered workloads as they are now.
    void registered_changed();

    void on_replan(const Topology& topology);
    void on_event_applied(const Event& event);
    void count_apply_errors(const std::string& applier, unsigned errors);
    void write_metrics_file();
    void log(const std::string& line) const;

    boost::asio::io_context& io_;
    DaemonOptions options_;
    Notify notify_;
    LogLine log_;
    Metrics metrics_;
    std::optional<MetricsFile> metrics_file_;
    SdBusManager system_bus_;  // before replanner_: its unit applier uses it
    Replanner replanner_;
    AutoOnlineApplier onliner_;
    CgroupPlanApplier* cgroups_ = nullptr;  // owned by replanner_
    UnitPlanApplier* units_ = nullptr;      // owned by replanner_
    std::unique_ptr<TopologyTracker> tracker_;
    std::unique_ptr<ControlServer> server_;
    bool ready_ = false;
    bool reloading_ = false;
    bool heal_next_ = false;
    bool trim_after_replan_ = false;  // a registered workload left: return freed memory
    Config file_config_;                // as the config file has it (last good load)
    // socket_group and socket_mode as the socket was bound with (changes wait for a restart).
    std::pair<std::optional<std::string>, unsigned> socket_settings_;
    std::vector<Workload> registered_;  // from clients; planned unless the file has the name
};

}  // namespace hpplace
