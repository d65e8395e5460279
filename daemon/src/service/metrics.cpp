#include "service/metrics.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <iostream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "core/file_descriptor.hpp"
#include "core/log.hpp"
#include "core/system_error.hpp"
#include "core/version.hpp"

namespace hpplace {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
        throw std::invalid_argument("histogram bucket bounds must increase strictly");
    }
}

void Histogram::observe(double value) {
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    if (bucket != bounds_.end()) {
        ++counts_[static_cast<std::size_t>(bucket - bounds_.begin())];
    }
    ++count_;
    sum_ += value;
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
    std::vector<std::uint64_t> out(counts_.size());
    std::partial_sum(counts_.begin(), counts_.end(), out.begin());
    return out;
}

std::vector<double> default_latency_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Metrics::Metrics(StatusSample sample_status)
    : sample_status_(std::move(sample_status))
    , recompute_(default_latency_buckets())
    , apply_(default_latency_buckets()) {}

void Metrics::count_event(EventType type) {
    const auto index = static_cast<std::size_t>(type) - 1;
    if (index < events_.size()) {
        ++events_[index];
    }
}

namespace {

double seconds(std::chrono::nanoseconds took) { return std::chrono::duration<double>(took).count(); }

// Prometheus floats: the shortest text that reads back exactly ("10", "0.0025").
// Plain decimals where short, exponent form for the very large or small.
std::string number_text(double value) {
    char buffer[512];
    const auto fixed = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed);
    if (fixed.ec == std::errc{} && fixed.ptr - buffer <= 24) {
        return std::string(buffer, fixed.ptr);
    }
    const auto general = std::to_chars(buffer, buffer + sizeof(buffer), value);
    return general.ec == std::errc{} ? std::string(buffer, general.ptr) : std::string("NaN");
}

void header(std::ostringstream& out, std::string_view name, std::string_view type, std::string_view help) {
    out << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << ' ' << type << '\n';
}

void histogram(std::ostringstream& out, std::string_view name, std::string_view help, const Histogram& h) {
    header(out, name, "histogram", help);
    const auto cumulative = h.cumulative_counts();
    for (std::size_t i = 0; i < cumulative.size(); ++i) {
        out << name << "_bucket{le=\"" << number_text(h.bounds()[i]) << "\"} " << cumulative[i] << '\n';
    }
    out << name << "_bucket{le=\"+Inf\"} " << h.count() << '\n';
    out << name << "_sum " << number_text(h.sum()) << '\n';
    out << name << "_count " << h.count() << '\n';
}

// Label values: backslash, double quote and newline escaped.
std::string label_value(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

void Metrics::observe_recompute(std::chrono::nanoseconds took) { recompute_.observe(seconds(took)); }

void Metrics::set_plan_generation(std::uint64_t generation) { plan_generation_ = generation; }

void Metrics::count_apply_errors(const std::string& applier, std::uint64_t errors) {
    apply_errors_[applier] += errors;
}

void Metrics::observe_apply(std::chrono::nanoseconds took) { apply_.observe(seconds(took)); }

void Metrics::record_config_load(bool successful, std::chrono::system_clock::time_point when) {
    config_load_successful_ = successful;
    if (successful) {
        config_load_success_ = when;
    }
}

std::uint64_t Metrics::events(EventType type) const noexcept {
    const auto index = static_cast<std::size_t>(type) - 1;
    return index < events_.size() ? events_[index] : 0;
}

std::uint64_t Metrics::events_received() const noexcept {
    return std::accumulate(events_.begin(), events_.end(), std::uint64_t{0});
}

std::uint64_t Metrics::apply_errors() const noexcept {
    std::uint64_t total = 0;
    for (const auto& [applier, errors] : apply_errors_) {
        total += errors;
    }
    return total;
}

std::string Metrics::render() const {
    std::ostringstream out;
    header(out, "hpplaced_events_total", "counter", "Hotplug events taken in, by type.");
    for (std::size_t i = 0; i < events_.size(); ++i) {
        out << "hpplaced_events_total{type=\"" << to_string(static_cast<EventType>(i + 1)) << "\"} " << events_[i]
            << '\n';
    }
    const control::Status status = sample_status_ ? sample_status_() : control::Status{};
    const control::EventCounters& counters = status.events;
    header(out, "hpplaced_events_lost_total", "counter", "Events known lost (sequence gaps, socket overruns).");
    out << "hpplaced_events_lost_total " << counters.lost << '\n';
    header(out, "hpplaced_events_rejected_total", "counter",
           "Events inconsistent with the daemon's topology, each answered by a resync.");
    out << "hpplaced_events_rejected_total " << counters.rejected << '\n';
    header(out, "hpplaced_event_overruns_total", "counter",
           "Receive buffer overruns (ENOBUFS) of the event sockets: the kernel dropped messages.");
    out << "hpplaced_event_overruns_total " << counters.overruns << '\n';
    header(out, "hpplaced_resyncs_total", "counter", "Full state reloads after a loss or a source switch.");
    out << "hpplaced_resyncs_total " << counters.resyncs << '\n';
    header(out, "hpplaced_recomputes_total", "counter", "Plan recomputations.");
    out << "hpplaced_recomputes_total " << recompute_.count() << '\n';
    header(out, "hpplaced_plan_generation", "gauge", "Generation number of the current plan.");
    out << "hpplaced_plan_generation " << plan_generation_ << '\n';
    header(out, "hpplaced_apply_errors_total", "counter", "Failed writes of the appliers (cgroup, auto_online, unit).");
    for (const std::string applier : {"cgroup", "auto_online", "unit"}) {
        const auto it = apply_errors_.find(applier);
        out << "hpplaced_apply_errors_total{applier=\"" << applier << "\"} "
            << (it == apply_errors_.end() ? 0 : it->second) << '\n';
    }
    for (const auto& [applier, errors] : apply_errors_) {
        if (applier != "cgroup" && applier != "auto_online" && applier != "unit") {
            out << "hpplaced_apply_errors_total{applier=\"" << label_value(applier) << "\"} " << errors << '\n';
        }
    }
    histogram(out, "hpplaced_recompute_duration_seconds", "Time to recompute the plan.", recompute_);
    histogram(out, "hpplaced_apply_duration_seconds", "Time from a plan to its last cgroup write done, queueing included.", apply_);

    header(out, "hpplaced_build_info", "gauge", "Always 1; the labels say which hpplaced this is.");
    out << "hpplaced_build_info{version=\"" << label_value(version()) << "\",revision=\"" << label_value(revision())
        << "\"} 1\n";
    header(out, "hpplaced_event_source", "gauge", "1 for the source events come from now, 0 for the others.");
    for (const EventSource source : {EventSource::kernel, EventSource::udev, EventSource::sysfs}) {
        out << "hpplaced_event_source{source=\"" << to_string(source) << "\"} " << (source == status.source ? 1 : 0)
            << '\n';
    }
    header(out, "hpplaced_node_online_cpus", "gauge", "Online CPUs of each NUMA node.");
    for (const auto& node : status.nodes) {
        out << "hpplaced_node_online_cpus{node=\"" << node.id << "\"} " << node.cpus.count() << '\n';
    }
    header(out, "hpplaced_node_online_memory_bytes", "gauge", "Online memory of each NUMA node.");
    for (const auto& node : status.nodes) {
        out << "hpplaced_node_online_memory_bytes{node=\"" << node.id << "\"} " << node.memory_bytes << '\n';
    }
    if (config_load_successful_) {
        header(out, "hpplaced_config_last_reload_successful", "gauge",
               "Whether the last load of the config file (at start or on SIGHUP) succeeded.");
        out << "hpplaced_config_last_reload_successful " << (*config_load_successful_ ? 1 : 0) << '\n';
    }
    if (config_load_success_) {
        header(out, "hpplaced_config_last_reload_success_timestamp_seconds", "gauge",
               "Time of the last successful load of the config file.");
        const auto since_epoch = config_load_success_->time_since_epoch();
        out << "hpplaced_config_last_reload_success_timestamp_seconds "
            << number_text(std::chrono::duration<double>(since_epoch).count()) << '\n';
    }
    return out.str();
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content, unsigned mode) {
    std::filesystem::path temp = path;
    temp += ".tmp." + std::to_string(::getpid());
    {
        FileDescriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        throw_system_error_on(!fd, "cannot create " + temp.string());
        // open()'s mode goes through the umask (a unit's UMask=0027 would make it 0640).
        if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {
            const int error = errno;
            ::unlink(temp.c_str());
            throw_errno("cannot chmod " + temp.string(), error);
        }
        std::size_t written = 0;
        while (written < content.size()) {
            const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                const int error = errno;
                ::unlink(temp.c_str());
                throw_errno("cannot write " + temp.string(), error);
            }
            written += static_cast<std::size_t>(n);
        }
        if (::fsync(fd.get()) != 0) {
            const int error = errno;
            ::unlink(temp.c_str());
            throw_errno("cannot fsync " + temp.string(), error);
        }
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        throw_errno("cannot rename " + temp.string() + " to " + path.string(), error);
    }
}

MetricsFile::MetricsFile(boost::asio::any_io_executor loop, std::filesystem::path path, LogLine log,
                         std::chrono::milliseconds retry_missing_directory)
    : path_(std::move(path))
    , log_(std::move(log))
    , retry_missing_directory_(retry_missing_directory)
    , worker_(std::move(loop)) {
    if (!log_) {
        log_ = [](const std::string& line) { log::to_stderr("hpplaced", line); };
    }
}

void MetricsFile::write(const Metrics& metrics) {
    if (directory_missing_since_ &&
        std::chrono::steady_clock::now() - *directory_missing_since_ < retry_missing_directory_) {
        return;
    }
    // `this` is only handed on to the completion, which runs on the loop.
    worker_.submit("metrics", [this, path = path_, text = metrics.render()]() -> BlockingWorker::Completion {
        std::string error;
        bool directory_missing = false;
        try {
            write_file_atomically(path, text);
        } catch (const std::system_error& e) {
            error = e.what();
            std::error_code ignored;
            directory_missing = e.code() == std::errc::no_such_file_or_directory &&
                                !std::filesystem::is_directory(path.parent_path(), ignored);
        } catch (const std::exception& e) {
            error = e.what();
        }
        return [this, error = std::move(error), directory_missing] { finished(error, directory_missing); };
    });
}

void MetricsFile::finished(const std::string& error, bool directory_missing) {
    if (directory_missing) {
        directory_missing_since_ = std::chrono::steady_clock::now();
    } else {
        directory_missing_since_.reset();
    }
    if (error.empty()) {
        ++written_;
        if (!last_error_.empty()) {
            log_(log::notice("metrics file " + path_.string() + " written again"));
            last_error_.clear();
        }
        return;
    }
    if (error == last_error_) {
        return;
    }
    last_error_ = error;
    if (directory_missing) {
        log_(log::info("metrics: directory " + path_.parent_path().string() + " does not exist; " +
                       path_.filename().string() + " is written once it does"));
    } else {
        log_(log::warning("metrics file: " + error));
    }
}

}  // namespace hpplace
