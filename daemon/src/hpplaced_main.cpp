// hpplaced: the daemon's thin main. Everything else is service/daemon.hpp.

#include <systemd/sd-daemon.h>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "config/config.hpp"
#include "core/log.hpp"
#include "core/version.hpp"
#include "service/daemon.hpp"

namespace {

constexpr std::string_view usage =
    "usage: hpplaced [--config FILE] [--socket PATH] [--rcvbuf BYTES] [--metrics-dir DIR]\n"
    "                [--metrics-file PATH] [--sysfs-root DIR] [--cgroup-root DIR]\n"
    "                [control socket limits] | --help | --version\n"
    "Keeps thread and buffer placement in line with CPU and memory hotplug. Runs in the\n"
    "foreground and logs to stderr; SIGHUP reloads the config, SIGTERM/SIGINT stop.\n"
    "  --config FILE        TOML configuration (default /etc/hpplaced/hpplaced.conf; may be absent)\n"
    "  --socket PATH        control socket (default /run/hpplaced.sock)\n"
    "  --rcvbuf BYTES       receive buffer of the event sockets\n"
    "  --metrics-dir DIR    write the Prometheus metrics to DIR/hpplaced.prom after each change\n"
    "                       (default node_exporter's /var/lib/prometheus/node-exporter; \"\": no file)\n"
    "  --metrics-file PATH  write them to PATH instead\n"
    "  --sysfs-root DIR     sysfs to read (default /sys)\n"
    "  --cgroup-root DIR    cgroup v2 mount (default /sys/fs/cgroup); workload cgroups must be below it\n"
    "Control socket limits (docs/contract.md):\n"
    "  --max-clients N                connections at a time (default 64)\n"
    "  --max-clients-per-peer N       of them from one process (default 16)\n"
    "  --max-workloads-per-client N   registered workloads per connection (default 16)\n"
    "  --max-workloads-per-peer N     registered workloads per process (default 64)\n"
    "  --idle-timeout SECONDS         close a connection without a request for that long, unless it\n"
    "                                 subscribed or registered (default 30)\n"
    "  --line-timeout SECONDS         close a connection whose request line is not finished by then\n"
    "                                 (default 10)\n"
    "Exit status: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage error, 78 bad config file.\n";

constexpr std::string_view metrics_file_name = "hpplaced.prom";
// node_exporter's textfile collector directory on Debian; where it is missing
// the file costs a check every 10 s (MetricsFile), not one per change.
constexpr std::string_view default_metrics_dir = "/var/lib/prometheus/node-exporter";

// sysexits(3)'s EX_CONFIG: a bad config file, which restarting does not mend
// (a unit's RestartPreventExitStatus=).
constexpr int exit_config_error = 78;

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

int parse_bytes(std::string_view text) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value <= 0) {
        throw UsageError("--rcvbuf: expected a positive number of bytes, got '" + std::string(text) + "'");
    }
    return value;
}

std::size_t parse_count(std::string_view name, std::string_view text) {
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value == 0) {
        throw UsageError(std::string(name) + ": expected a positive number, got '" + std::string(text) + "'");
    }
    return value;
}

// Seconds, fractions allowed ("0.5"), at most a day.
std::chrono::milliseconds parse_seconds(std::string_view name, std::string_view text) {
    double seconds = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (error != std::errc{} || end != text.data() + text.size() || !(seconds >= 0.001 && seconds <= 86400)) {
        throw UsageError(std::string(name) + ": expected seconds in 0.001..86400, got '" + std::string(text) + "'");
    }
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

std::optional<hpplace::DaemonOptions> parse_options(int argc, char** argv) {
    hpplace::DaemonOptions options;
    std::optional<std::filesystem::path> metrics_file;
    std::filesystem::path metrics_dir(default_metrics_dir);
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::cout << usage;
            return std::nullopt;
        }
        if (arg == "--version") {
            std::cout << "hpplaced " << hpplace::version_line() << '\n';
            return std::nullopt;
        }
        std::string_view name = arg;
        std::optional<std::string_view> value;
        if (const auto equals = arg.find('='); arg.starts_with("--") && equals != std::string_view::npos) {
            name = arg.substr(0, equals);
            value = arg.substr(equals + 1);
        }
        const auto take_value = [&]() -> std::string_view {
            if (value) {
                return *value;
            }
            if (i + 1 >= argc) {
                throw UsageError(std::string(name) + " needs a value");
            }
            return argv[++i];
        };
        if (name == "--config") {
            options.config_path = take_value();
            options.config_explicit = true;
        } else if (name == "--socket") {
            options.socket_path = take_value();
        } else if (name == "--rcvbuf") {
            options.receive_buffer_bytes = parse_bytes(take_value());
        } else if (name == "--metrics-file") {
            metrics_file = std::filesystem::path(take_value());
            if (metrics_file->empty()) {
                throw UsageError("--metrics-file needs a path");
            }
        } else if (name == "--metrics-dir") {
            metrics_dir = std::filesystem::path(take_value());
        } else if (name == "--sysfs-root") {
            options.sysfs_root = take_value();
        } else if (name == "--cgroup-root") {
            options.cgroup_root = take_value();
        } else if (name == "--max-clients") {
            options.control_limits.max_clients = parse_count(name, take_value());
        } else if (name == "--max-clients-per-peer") {
            options.control_limits.max_clients_per_peer = parse_count(name, take_value());
        } else if (name == "--max-workloads-per-client") {
            options.control_limits.max_workloads_per_client = parse_count(name, take_value());
        } else if (name == "--max-workloads-per-peer") {
            options.control_limits.max_workloads_per_peer = parse_count(name, take_value());
        } else if (name == "--idle-timeout") {
            options.control_limits.idle_timeout = parse_seconds(name, take_value());
        } else if (name == "--line-timeout") {
            options.control_limits.line_timeout = parse_seconds(name, take_value());
        } else {
            throw UsageError("unknown option '" + std::string(arg) + "' (see --help)");
        }
    }
    if (metrics_file) {
        options.metrics_file = std::move(metrics_file);
    } else if (!metrics_dir.empty()) {
        options.metrics_file = metrics_dir / metrics_file_name;
    }
    return options;
}

void log(const std::string& line) { hpplace::log::to_stderr("hpplaced", line); }

void notify_systemd(const std::string& state) {
    // Without NOTIFY_SOCKET (not under systemd) this does nothing.
    sd_notify(0, state.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<hpplace::DaemonOptions> options;
    try {
        options = parse_options(argc, argv);
    } catch (const UsageError& error) {
        log(hpplace::log::err(error.what()));
        return 2;
    }
    if (!options) {
        return 0;
    }
    try {
        boost::asio::io_context io;
        hpplace::Daemon daemon(io, *options, notify_systemd);
        boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
        std::function<void(const boost::system::error_code&, int)> on_signal =
            [&](const boost::system::error_code& error, int signal) {
                if (error) {
                    return;
                }
                if (signal == SIGHUP) {
                    log(hpplace::log::notice("SIGHUP: reloading"));
                    daemon.reload();
                    signals.async_wait(on_signal);
                    return;
                }
                log(hpplace::log::notice(signal == SIGINT ? "SIGINT: stopping" : "SIGTERM: stopping"));
                notify_systemd("STOPPING=1");
                daemon.stop();
                // Pending timers or posted handlers of the sources end with the loop.
                io.stop();
            };
        signals.async_wait(on_signal);
        daemon.start();
        io.run();
        return EXIT_SUCCESS;
    } catch (const hpplace::ConfigError& error) {
        log(hpplace::log::err(error.what()));
        return exit_config_error;
    } catch (const std::exception& error) {
        log(hpplace::log::err(error.what()));
        return EXIT_FAILURE;
    }
}
