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
//
// How the daemon uses it: one Metrics object; count_event() per event taken in,
// observe_recompute() around planning, set_plan_generation(), observe_apply()/count_apply_errors()
// around the cgroup and auto-online appliers. ControlHandler::metrics_text()
// returns render(). With --metrics-file PATH, MetricsFile::write(metrics)
// after each change (atomic: temp file + rename, for node_exporter's textfile
// collector). Lost, rejected, resyncs and overruns are not counted here: their
// owners (the sources, the topology tracker) count them, and render() samples
// them through the function given to the constructor. Not thread-safe: one
// owner thread, as the rest of the daemon.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "control/status.hpp"
#include "core/event.hpp"

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
    // Reads the event counters their owners keep, at each render(); empty: all zero.
    using EventCountersSample = std::function<control::EventCounters()>;

    explicit Metrics(EventCountersSample sample_event_counters = {});

    void count_event(EventType type);
    void observe_recompute(std::chrono::nanoseconds took);
    void set_plan_generation(std::uint64_t generation);
    // applier: "cgroup" or "auto_online".
    void count_apply_errors(const std::string& applier, std::uint64_t errors = 1);
    void observe_apply(std::chrono::nanoseconds took);

    std::uint64_t events(EventType type) const noexcept;
    std::uint64_t events_received() const noexcept;
    std::uint64_t recomputes() const noexcept { return recompute_.count(); }
    std::uint64_t applies() const noexcept { return apply_.count(); }
    std::uint64_t plan_generation() const noexcept { return plan_generation_; }
    std::uint64_t apply_errors() const noexcept;

    // The Prometheus text exposition (version 0.0.4), ending in '\n'.
    std::string render() const;

private:
    EventCountersSample sample_event_counters_;
    std::array<std::uint64_t, event_type_count> events_{};
    std::uint64_t plan_generation_ = 0;
    std::map<std::string, std::uint64_t> apply_errors_;
    Histogram recompute_;
    Histogram apply_;
};

// Writes content to path atomically: a temp file in the same directory, fsync,
// rename over path. Throws std::system_error naming the file.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

// The --metrics-file writer: write() never throws; a failure is logged once per
// distinct error (one line) and retried at the next write().
class MetricsFile {
public:
    using LogLine = std::function<void(const std::string&)>;
    explicit MetricsFile(std::filesystem::path path, LogLine log = {});
    // Returns true when the file was written.
    bool write(const Metrics& metrics) noexcept;
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
    LogLine log_;
    std::string last_error_;
};

}  // namespace hpplace
