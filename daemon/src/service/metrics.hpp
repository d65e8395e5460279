#pragma once

// The daemon's metrics registry, rendered in the Prometheus text exposition
// format (names prefixed hpplaced_):
//   hpplaced_events_total{type="cpu_online"}         counter, one series per type
//   hpplaced_events_lost_total                       counter
//   hpplaced_events_rejected_total                   counter
//   hpplaced_event_overruns_total                    counter
//   hpplaced_resyncs_total                           counter
//   hpplaced_recomputes_total                        counter
//   hpplaced_plan_generation                         gauge
//   hpplaced_apply_errors_total{applier="cgroup"}    counter, per applier
//   hpplaced_recompute_duration_seconds              histogram
//   hpplaced_apply_duration_seconds                  histogram
//   hpplaced_build_info{version=,revision=}          gauge, 1
//   hpplaced_event_source{source="kernel"}           gauge, 1 for the current source, 0 for the others
//   hpplaced_node_online_cpus{node="0"}              gauge, per node
//   hpplaced_node_online_memory_bytes{node="0"}      gauge, per node
//   hpplaced_config_last_reload_successful           gauge, 0 or 1 (the load at start counts)
//   hpplaced_config_last_reload_success_timestamp_seconds  gauge, Unix time
//
// How the daemon uses it: one Metrics object; count_event() per event taken in,
// observe_recompute() around planning, set_plan_generation(), observe_apply()/count_apply_errors()
// around the cgroup and auto-online appliers, record_config_load() for each load
// of the config file. ControlHandler::metrics_text() returns render(). With a
// metrics file, MetricsFile::write(metrics) after each change (atomic: temp file
// + rename, for node_exporter's textfile collector). Lost, rejected, resyncs,
// overruns, the event source and the nodes are not kept here: their owners (the
// sources, the topology tracker) keep them, and render() samples them as the
// daemon's status through the function given to the constructor. Not
// thread-safe: one owner thread, as the rest of the daemon.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "control/status.hpp"
#include "core/event.hpp"
#include "service/blocking_worker.hpp"

namespace hpplace {

// A histogram with fixed bucket upper bounds (seconds), as Prometheus has it:
// bucket i counts observations <= bounds[i]; +Inf is the total count.
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    const std::vector<double>& bounds() const noexcept { return bounds_; }
    // Cumulative counts, one per bound (without +Inf).
    std::vector<std::uint64_t> cumulative_counts() const;
    std::uint64_t count() const noexcept { return count_; }
    double sum() const noexcept { return sum_; }

private:
    std::vector<double> bounds_;
    std::vector<std::uint64_t> counts_;  // per bucket, not cumulative
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

// Upper bounds used for both latency histograms: 100 us .. 10 s.
std::vector<double> default_latency_buckets();

class Metrics {
public:
    // The daemon's status (event counters, source, nodes), read at each
    // render(); empty: a default Status (all zero, no nodes).
    using StatusSample = std::function<control::Status()>;

    explicit Metrics(StatusSample sample_status = {});

    void count_event(EventType type);
    void observe_recompute(std::chrono::nanoseconds took);
    void set_plan_generation(std::uint64_t generation);
    // applier: "cgroup" or "auto_online".
    void count_apply_errors(const std::string& applier, std::uint64_t errors = 1);
    void observe_apply(std::chrono::nanoseconds took);
    // A load of the config file (at start or a reload) succeeded or failed, at `when`.
    void record_config_load(bool successful, std::chrono::system_clock::time_point when);

    std::uint64_t events(EventType type) const noexcept;
    std::uint64_t events_received() const noexcept;
    std::uint64_t recomputes() const noexcept { return recompute_.count(); }
    std::uint64_t applies() const noexcept { return apply_.count(); }
    std::uint64_t plan_generation() const noexcept { return plan_generation_; }
    std::uint64_t apply_errors() const noexcept;

    // The Prometheus text exposition (version 0.0.4), ending in '\n'.
    std::string render() const;

private:
    StatusSample sample_status_;
    std::array<std::uint64_t, event_type_count> events_{};
    std::uint64_t plan_generation_ = 0;
    std::map<std::string, std::uint64_t> apply_errors_;
    Histogram recompute_;
    Histogram apply_;
    std::optional<bool> config_load_successful_;  // none before the first load
    std::optional<std::chrono::system_clock::time_point> config_load_success_;
};

// Writes content to path atomically: a temp file in the same directory with
// `mode` whatever the umask, fsync, rename over path. Throws std::system_error
// naming the file.
void write_file_atomically(const std::filesystem::path& path, const std::string& content, unsigned mode = 0644);

// The metrics file's writer (hpplaced --metrics-dir, --metrics-file), mode
// 0644 for node_exporter, which does not run as root. write() renders on the
// loop and writes on a thread of its own (open, fsync and rename may wait on
// the disk); a write not started yet when the next comes is replaced by it. A
// failure is logged once per distinct error and retried at the next write(); a
// missing directory (a host without node_exporter) is logged at info and
// retried at most every retry_missing_directory, so that it costs no work per
// change.
class MetricsFile {
public:
    using LogLine = std::function<void(const std::string&)>;
    MetricsFile(boost::asio::any_io_executor loop, std::filesystem::path path, LogLine log = {},
                std::chrono::milliseconds retry_missing_directory = std::chrono::seconds(10));
    void write(const Metrics& metrics);
    const std::filesystem::path& path() const noexcept { return path_; }
    // Files written so far, and whether the last attempt failed (results come
    // back on the loop).
    std::uint64_t written() const noexcept { return written_; }
    bool failing() const noexcept { return !last_error_.empty(); }

private:
    void finished(const std::string& error, bool directory_missing);

    std::filesystem::path path_;
    LogLine log_;
    std::string last_error_;
    std::uint64_t written_ = 0;
    std::chrono::milliseconds retry_missing_directory_;
    std::optional<std::chrono::steady_clock::time_point> directory_missing_since_;
    BlockingWorker worker_;  // last: joined before the rest goes
};

}  // namespace hpplace
