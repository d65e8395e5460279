#include "service/metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <iostream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "core/file_descriptor.hpp"
#include "core/system_error.hpp"

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

Metrics::Metrics(EventCountersSample sample_event_counters)
    : sample_event_counters_(std::move(sample_event_counters))
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
    const control::EventCounters counters =
        sample_event_counters_ ? sample_event_counters_() : control::EventCounters{};
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
    return out.str();
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::path temp = path;
    temp += ".tmp." + std::to_string(::getpid());
    {
        FileDescriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        throw_system_error_on(!fd, "cannot create " + temp.string());
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

MetricsFile::MetricsFile(std::filesystem::path path, LogLine log) : path_(std::move(path)), log_(std::move(log)) {
    if (!log_) {
        log_ = [](const std::string& line) { std::cerr << "hpplaced: " << line << '\n'; };
    }
}

bool MetricsFile::write(const Metrics& metrics) noexcept {
    try {
        write_file_atomically(path_, metrics.render());
        if (!last_error_.empty()) {
            log_("metrics file " + path_.string() + " written again");
            last_error_.clear();
        }
        return true;
    } catch (const std::exception& e) {
        if (e.what() != last_error_) {
            last_error_ = e.what();
            try {
                log_("metrics file: " + last_error_);
            } catch (...) {
            }
        }
        return false;
    }
}

}  // namespace hpplace
