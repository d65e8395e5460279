// hpplaced: the daemon's thin main. Everything else is service/daemon.hpp.

#include <systemd/sd-daemon.h>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "service/daemon.hpp"

namespace {

constexpr std::string_view usage =
    "usage: hpplaced [--config FILE] [--socket PATH] [--rcvbuf BYTES] [--metrics-file PATH]\n"
    "                [--sysfs-root DIR] [--cgroup-root DIR] [control socket limits]\n"
    "Keeps thread and buffer placement in line with CPU and memory hotplug. Runs in the\n"
    "foreground and logs to stderr; SIGHUP reloads the config, SIGTERM/SIGINT stop.\n"
    "  --config FILE        TOML configuration (default /etc/hpplaced/hpplaced.conf; may be absent)\n"
    "  --socket PATH        control socket (default /run/hpplaced.sock)\n"
    "  --rcvbuf BYTES       receive buffer of the event sockets\n"
    "  --metrics-file PATH  also write the Prometheus metrics there after each change\n"
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
    "                                 (default 10)\n";

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
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::cout << usage;
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
            options.metrics_file = std::filesystem::path(take_value());
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
    return options;
}

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
        std::cerr << "hpplaced: " << error.what() << '\n';
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
                    std::cerr << "hpplaced: SIGHUP: reloading\n";
                    daemon.reload();
                    signals.async_wait(on_signal);
                    return;
                }
                std::cerr << "hpplaced: " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << ": stopping\n";
                notify_systemd("STOPPING=1");
                daemon.stop();
                // Pending timers or posted handlers of the sources end with the loop.
                io.stop();
            };
        signals.async_wait(on_signal);
        daemon.start();
        io.run();
        return EXIT_SUCCESS;
    } catch (const std::exception& error) {
        std::cerr << "hpplaced: " << error.what() << '\n';
        return EXIT_FAILURE;
    }
}
