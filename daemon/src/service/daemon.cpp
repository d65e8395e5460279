#include "service/daemon.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <exception>
#include <iostream>
#include <system_error>
#include <unordered_set>

#include "control/protocol.hpp"
#include "control/status.hpp"
#include "core/log.hpp"
#include "service/control_socket.hpp"
#include "service/status.hpp"
#include "core/file_descriptor.hpp"
#include "core/quoted.hpp"
#include "sources/kernel_source.hpp"
#include "sources/udev_source.hpp"

namespace hpplace {

namespace {

// Why path, below root lexically, resolves outside it; nullopt when it stays
// below (or does not exist yet: the applier says so when it writes). The
// kernel resolves it, openat2() with RESOLVE_BENEATH from a descriptor of the
// root, which fails any component (a symlink, absolute or with "..") that
// would leave it; a realpath() comparison would resolve it in user space and
// compare strings instead. Kernels before 5.6 (ENOSYS), or a system-call
// filter without openat2 (EPERM), get that comparison.
std::optional<std::string> resolves_outside(const std::filesystem::path& root, const std::filesystem::path& relative) {
    FileDescriptor root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd || relative.empty() || relative == ".") {
        return std::nullopt;  // no root to escape from yet, or the root itself
    }
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const FileDescriptor fd(
        static_cast<int>(::syscall(SYS_openat2, root_fd.get(), relative.c_str(), &how, sizeof(how))));
    if (fd || errno == ENOENT) {
        return std::nullopt;
    }
    if (errno == ENOSYS || errno == EPERM) {
        std::error_code error;
        const auto real = std::filesystem::weakly_canonical(root / relative, error);
        const auto real_root = std::filesystem::canonical(root, error);
        const auto inside = real.lexically_relative(real_root);
        if (error || (!inside.empty() && *inside.begin() != "..")) {
            return std::nullopt;
        }
        return "resolves to " + real.string() + ", outside the cgroup root " + real_root.string();
    }
    if (errno == EXDEV || errno == ELOOP) {
        return "resolves outside the cgroup root " + root.string() + " (through a symlink)";
    }
    if (errno == ENOTDIR) {
        return "is not a directory";
    }
    return std::string("cannot be resolved below the cgroup root: ") + std::strerror(errno);
}

}  // namespace

std::optional<std::string> cgroup_outside_root(const Workload& workload, const std::filesystem::path& cgroup_root) {
    if (!workload.cgroup) {
        return std::nullopt;
    }
    // workload_problem() has made sure it is absolute, without "." or "..".
    const auto root = cgroup_root.lexically_normal();
    const auto cgroup = std::filesystem::path(*workload.cgroup).lexically_normal();
    const auto relative = cgroup.lexically_relative(root);
    if (relative.empty() || *relative.begin() == "..") {
        return "cgroup " + quoted_text(*workload.cgroup) + " is not below the cgroup root " + root.string();
    }
    if (const auto problem = resolves_outside(root, relative)) {
        return "cgroup " + quoted_text(*workload.cgroup) + " " + *problem;
    }
    return std::nullopt;
}

Config load_daemon_config(const DaemonOptions& options) {
    std::error_code error;
    if (!options.config_explicit && !std::filesystem::exists(options.config_path, error)) {
        return Config{};
    }
    Config config = load_config(options.config_path);
    for (const auto& workload : config.workloads) {
        if (const auto problem = cgroup_outside_root(workload, options.cgroup_root)) {
            throw ConfigError(options.config_path.string() + ": workload " + quoted_text(workload.name) + ": " +
                              *problem);
        }
    }
    return config;
}

TrackerEnvironment system_environment(boost::asio::io_context& io, const DaemonOptions& options) {
    return TrackerEnvironment{
        .read_topology = [root = options.sysfs_root] { return read_topology(root); },
        .open_kernel_source = [&io, rcvbuf = options.receive_buffer_bytes] {
            return KernelSource::open_if_loaded(io, rcvbuf);
        },
        .open_udev_source = [&io, options]() -> std::unique_ptr<HotplugSource> {
            return std::make_unique<UdevSource>(
                io, UdevSourceOptions{.kernel_uevents = true,
                                      .receive_buffer_bytes = options.receive_buffer_bytes.value_or(0),
                                      .sysfs_root = options.sysfs_root});
        },
        .open_family_watcher = [&io]() -> std::unique_ptr<FamilyWatcher> {
            return std::make_unique<KernelFamilyWatcher>(io);
        },
    };
}

Daemon::Daemon(boost::asio::io_context& io, DaemonOptions options, Notify notify, LogLine log,
               std::optional<TrackerEnvironment> environment, PlanFunction plan)
    : io_(io)
    , options_(std::move(options))
    , notify_(std::move(notify))
    , log_(std::move(log))
    , metrics_([this] { return tracker_ ? current_status() : control::Status{}; })
    , system_bus_(io_.get_executor(), [this](const std::string& line) { this->log(line); })
    , replanner_(load_daemon_config(options_), std::move(plan))
    , onliner_(io_.get_executor(), replanner_.config().auto_online, options_.sysfs_root,
               [this](const std::string& line) { this->log(line); },
               [this](unsigned errors) { count_apply_errors("auto_online", errors); }) {
    metrics_.record_config_load(true, std::chrono::system_clock::now());
    if (options_.metrics_file) {
        metrics_file_.emplace(io_.get_executor(), *options_.metrics_file,
                              [this](const std::string& line) { this->log(line); });
    }
    // The writes run on the applier's thread; their results, retries and
    // latencies come back on the loop.
    auto cgroups = std::make_unique<CgroupPlanApplier>(
        CgroupApplier(options_.cgroup_root, [this](const std::string& line) { this->log(line); }),
        CgroupApplyLoop{.executor = io_.get_executor(),
                        .count_errors = [this](unsigned errors) { count_apply_errors("cgroup", errors); },
                        .applied = [this](std::chrono::nanoseconds took) {
                            metrics_.observe_apply(took);
                            write_metrics_file();
                        }});
    cgroups_ = cgroups.get();
    replanner_.add_applier(std::move(cgroups));
    // The bus is opened on the first unit to set (none without a unit workload).
    auto units = std::make_unique<UnitPlanApplier>(
        system_bus_, UnitApplyLoop{.executor = io_.get_executor(),
                                   .log = [this](const std::string& line) { this->log(line); },
                                   .count_errors = [this](unsigned errors) { count_apply_errors("unit", errors); }});
    units_ = units.get();
    replanner_.add_applier(std::move(units));
    file_config_ = replanner_.config();
    TrackerHooks hooks{
        .replan = [this](const Topology& topology) { on_replan(topology); },
        .event_applied = [this](const Event& event) { on_event_applied(event); },
        .resynced = [this](const Topology&) { heal_next_ = true; },
        .log = [this](const std::string& line) { this->log(line); },
    };
    tracker_ = std::make_unique<TopologyTracker>(io_, environment ? std::move(*environment)
                                                                  : system_environment(io_, options_),
                                                 std::move(hooks));
}

Daemon::~Daemon() {
    stop();
}

void Daemon::count_apply_errors(const std::string& applier, unsigned errors) {
    metrics_.count_apply_errors(applier, errors);
    write_metrics_file();
}

void Daemon::write_metrics_file() {
    if (metrics_file_) {
        metrics_file_->write(metrics_);
    }
}

bool Daemon::applying() const noexcept {
    return cgroups_->in_flight() != 0 || onliner_.in_flight() != 0 || units_->in_flight() != 0;
}

void Daemon::log(const std::string& line) const {
    if (log_) {
        log_(line);
    } else {
        log::to_stderr("hpplaced", line);
    }
}

void Daemon::start() {
    const Config& config = replanner_.config();
    log(log::notice("config: " + std::to_string(config.workloads.size()) + " workload(s), auto_online " +
                    std::string(to_string(config.auto_online))));
    const auto log_line = [this](const std::string& line) { this->log(line); };
    std::optional<ListeningSocket> socket = activated_control_socket();
    if (socket) {
        const bool ignored = config.socket_group || config.socket_mode != 0660;
        log(log::notice("control socket " + socket->path.string() + " from systemd (group " +
                        std::to_string(socket->group) + ")" +
                        (ignored ? "; socket_group and socket_mode are not used, the socket unit sets them" : "")));
    } else {
        const std::optional<gid_t> group =
            config.socket_group ? std::optional<gid_t>(resolve_group(*config.socket_group)) : std::nullopt;
        socket = bind_control_socket({.path = options_.socket_path, .group = group, .mode = config.socket_mode},
                                     options_.control_limits.backlog(), log_line);
    }
    socket_settings_ = {config.socket_group, config.socket_mode};
    server_ = std::make_unique<ControlServer>(io_, std::move(*socket), static_cast<ControlHandler&>(*this),
                                              options_.control_limits, log_line,
                                              PeerAccessOptions{.cgroup_root = options_.cgroup_root});
    heal_next_ = true;  // make the cgroups match the first plan whatever they were
    tracker_->start();
}

void Daemon::reload() {
    if (notify_) {
        notify_("RELOADING=1");
    }
    reloading_ = true;
    try {
        Config config = load_daemon_config(options_);
        if (std::pair(config.socket_group, config.socket_mode) != socket_settings_) {
            log(log::warning("socket_group and socket_mode take effect when hpplaced restarts"));
        }
        onliner_.set_policy(config.auto_online);
        file_config_ = std::move(config);
        replanner_.set_config(with_registered(file_config_));
        metrics_.record_config_load(true, std::chrono::system_clock::now());
        log(log::notice("config reloaded from " + options_.config_path.string()));
    } catch (const std::exception& error) {
        metrics_.record_config_load(false, std::chrono::system_clock::now());
        log(log::err(std::string("config reload failed, keeping the current one: ") + error.what()));
    }
    heal_next_ = true;
    // The replan after the resync writes the metrics file, reload gauges included.
    tracker_->resync("reload");
}

Config Daemon::with_registered(Config config) const {
    // Linear in the workloads: this runs on every register and unregister.
    std::unordered_set<std::string> names;
    names.reserve(config.workloads.size());
    for (const auto& workload : config.workloads) {
        names.insert(workload.name);
    }
    config.workloads.reserve(config.workloads.size() + registered_.size());
    for (const auto& workload : registered_) {
        if (!names.contains(workload.name)) {
            config.workloads.push_back(workload);
        }
    }
    return config;
}

bool Daemon::file_has(const std::string& name) const {
    return std::any_of(file_config_.workloads.begin(), file_config_.workloads.end(),
                       [&](const Workload& w) { return w.name == name; });
}

void Daemon::registered_changed() {
    replanner_.set_config(with_registered(file_config_));
    if (tracker_) {
        tracker_->request_replan();
    }
}

control::Registration Daemon::register_workload(const Workload& workload) {
    if (const auto problem = cgroup_outside_root(workload, options_.cgroup_root)) {
        throw control::ProtocolError("workload.cgroup: " + *problem);
    }
    if (file_has(workload.name)) {
        return {.workload = workload.name, .configured = true};
    }
    if (workload.unit) {
        // Two plans for one unit would overwrite each other's AllowedCPUs=.
        for (const auto& other : replanner_.config().workloads) {
            if (other.name != workload.name && other.unit == workload.unit) {
                throw control::ProtocolError("workload.unit: unit " + quoted_text(*workload.unit) + " is workload " +
                                             quoted_text(other.name) + "'s");
            }
        }
    }
    const auto same = std::find_if(registered_.begin(), registered_.end(),
                                   [&](const Workload& w) { return w.name == workload.name; });
    if (same != registered_.end()) {
        registered_.erase(same);
    }
    registered_.push_back(workload);
    registered_changed();
    log(log::info("workload " + quoted_text(workload.name) + " registered"));
    return {.workload = workload.name, .configured = false};
}

void Daemon::unregister_workload(const std::string& name) {
    const auto it = std::find_if(registered_.begin(), registered_.end(), [&](const Workload& w) { return w.name == name; });
    if (it == registered_.end()) {
        throw control::ProtocolError("no registered workload " + quoted_text(name));
    }
    registered_.erase(it);
    trim_after_replan_ = true;
    // A name the config file has (since a reload) stays the file's.
    registered_changed();
    log(log::info("workload " + quoted_text(name) + " unregistered"));
}

void Daemon::stop() {
    if (tracker_) {
        tracker_->stop();
    }
    if (server_) {
        server_->stop();
        server_.reset();
    }
}

void Daemon::on_event_applied(const Event& event) {
    metrics_.count_event(event.type);
    if (server_) {
        server_->publish_event(event);
    }
    onliner_.on_event(event);
}

void Daemon::on_replan(const Topology& topology) {
    try {
        const bool heal = std::exchange(heal_next_, false);
        const auto outcome = replanner_.replan(topology, heal);
        metrics_.observe_recompute(outcome.plan_time);
        // The apply latency comes from the cgroup applier once its writes are done.
        metrics_.set_plan_generation(replanner_.plan().generation);
        if (outcome.apply_errors != 0) {
            metrics_.count_apply_errors("cgroup", outcome.apply_errors);
        }
        if (outcome.new_generation) {
            log(log::info("plan generation " + std::to_string(replanner_.plan().generation) + ": " +
                          std::to_string(outcome.actions.size()) + " action(s)"));
            // The plan document is O(threads): built only for someone who reads it.
            if (server_ && server_->has_plan_subscribers()) {
                if (plan_fits_an_answer()) {
                    server_->publish_plan(replanner_.plan());
                } else {
                    log(log::warning("plan generation " + std::to_string(replanner_.plan().generation) +
                                     " is too large to push (more than " +
                                     std::to_string(options_.control_limits.max_answer) + " bytes)"));
                }
            }
        }
    } catch (const std::exception& error) {
        log(log::err(std::string("planning failed, the previous plan stays: ") + error.what()));
    }
    if (std::exchange(trim_after_replan_, false)) {
        // A workload that went may have left megabytes of freed plan (2^20
        // threads) in the heap; glibc keeps them unless asked.
        ::malloc_trim(0);
    }
    write_metrics_file();
    if (notify_ && (!ready_ || reloading_)) {
        notify_("READY=1\nSTATUS=source " + std::string(to_string(tracker_->source())) + ", plan generation " +
                std::to_string(replanner_.plan().generation));
    }
    ready_ = true;
    reloading_ = false;
}

control::Status Daemon::current_status() const {
    return make_status(tracker_->source(), tracker_->topology(), tracker_->counters(),
                                replanner_.plan().generation);
}

nlohmann::json Daemon::status_json() const { return control::to_json(current_status()); }

namespace {

// The fewest bytes one planned thread takes in the plan document:
// {"cpu":0,"index":0,"node":0} and a comma.
constexpr std::size_t min_thread_json_bytes = 29;

}  // namespace

bool Daemon::plan_fits_an_answer() const {
    std::size_t threads = 0;
    for (const auto& workload : replanner_.plan().workloads) {
        threads += workload.threads.size();
    }
    return threads <= options_.control_limits.max_answer / min_thread_json_bytes;
}

const Plan& Daemon::plan() {
    if (!plan_fits_an_answer()) {
        // Building the document of a million threads takes seconds and
        // hundreds of MiB, only to be refused by the size limit.
        throw control::ProtocolError("the plan has more threads than an answer of at most " +
                                     std::to_string(options_.control_limits.max_answer) + " bytes can carry");
    }
    return replanner_.plan();
}

}  // namespace hpplace
