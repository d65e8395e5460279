// hpctl watch [--json] [--rcvbuf BYTES] [--count N] [--follow]
//
// Subscribes to the hpnotify family directly (no daemon) and prints one line
// per event on stdout, flushed at once: JSON (docs/contract.md) with --json, else a
// readable line. stdout carries events only; losses, resyncs and the module's
// comings and goings are one line each on stderr.
#include <charconv>
#include <csignal>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "kernel/event_channel.hpp"
#include "kernel/genl_socket.hpp"

namespace hpplace::cli {

namespace {

namespace asio = boost::asio;

struct WatchOptions {
    bool json = false;
    bool follow = false;
    std::optional<int> receive_buffer_bytes;
    std::optional<std::uint64_t> count;
};

constexpr std::string_view usage = "usage: hpctl watch [--json] [--rcvbuf BYTES] [--count N] [--follow]";

std::uint64_t parse_positive(std::string_view option, std::string_view text, std::uint64_t max) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > max) {
        throw UsageError(std::string(option) + " needs a positive number up to " + std::to_string(max) +
                                    ", got \"" + std::string(text) + "\"");
    }
    return value;
}

WatchOptions parse_options(Args args) {
    WatchOptions options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        const auto value = [&]() -> std::string_view {
            if (i + 1 >= args.size()) {
                throw UsageError(std::string(arg) + " needs a value (" + std::string(usage) + ")");
            }
            return args[++i];
        };
        if (arg == "--json") {
            options.json = true;
        } else if (arg == "--follow") {
            options.follow = true;
        } else if (arg == "--rcvbuf") {
            options.receive_buffer_bytes =
                static_cast<int>(parse_positive(arg, value(), std::numeric_limits<int>::max()));
        } else if (arg == "--count") {
            options.count = parse_positive(arg, value(), std::numeric_limits<std::uint64_t>::max());
        } else {
            throw UsageError("unknown option \"" + std::string(arg) + "\" (" + std::string(usage) + ")");
        }
    }
    return options;
}

void print_line(std::FILE* out, const std::string& line) {
    std::fputs(line.c_str(), out);
    std::fputc('\n', out);
    std::fflush(out);
}

void note(const std::string& line) { print_line(stderr, "hpctl watch: " + line); }

class Watch {
public:
    Watch(asio::io_context& io, const WatchOptions& options)
        : options_(options),
          channel_(io.get_executor(),
                   kernel::EventChannel::Options{.receive_buffer_bytes = options.receive_buffer_bytes,
                                                 .wait_for_module = options.follow}),
          signals_(io, SIGINT, SIGTERM) {}

    void start() {
        if (!channel_.module_loaded()) {
            note(std::string(kernel::module_not_loaded_message()) + "; waiting for it (--follow)");
        }
        signals_.async_wait([this](const boost::system::error_code& ec, int) {
            if (!ec) {
                channel_.cancel();
            }
        });
        receive();
    }

    int exit_status() const noexcept { return exit_status_; }

private:
    void receive() {
        channel_.async_receive([this](const boost::system::error_code& ec, kernel::Notification notification) {
            if (ec) {
                if (ec != asio::error::operation_aborted) {
                    finish(1, "cannot receive events: " + ec.message());
                }
                return;  // stopped by a signal
            }
            if (std::visit([this](auto& n) { return handle(n); }, notification)) {
                receive();
            }
        });
    }

    void finish(int status, const std::string& why) {
        if (!why.empty()) {
            note(why);
        }
        exit_status_ = status;
        signals_.cancel();
    }

    // Each returns whether to go on receiving.
    bool handle(const Event& event) {
        print_line(stdout, options_.json ? to_json(event).dump() : to_text(event));
        ++printed_;
        if (options_.count && printed_ >= *options_.count) {
            finish(0, {});
            return false;
        }
        return true;
    }

    bool handle(const kernel::Loss& loss) {
        switch (loss.cause) {
            case kernel::Loss::Cause::overrun:
                note("events were lost: " + loss.detail);
                resync();
                break;
            case kernel::Loss::Cause::gap:
                if (resynced_through_ && loss.last_lost <= *resynced_through_) {
                    note(loss.detail + ", all covered by the resync at seq " + std::to_string(*resynced_through_));
                } else {
                    note(loss.detail);
                    resync();
                }
                break;
            case kernel::Loss::Cause::malformed:
                note("an event was lost: malformed message: " + loss.detail);
                resync();
                break;
            case kernel::Loss::Cause::rewound:
                note(loss.detail);
                resync();
                break;
        }
        return true;
    }

    bool handle(const kernel::FamilyGone&) {
        resynced_through_.reset();
        if (!options_.follow) {
            finish(1, "the hpnotify kernel module was unloaded");
            return false;
        }
        note("the hpnotify kernel module was unloaded; waiting for it to come back (--follow)");
        return true;
    }

    bool handle(const kernel::FamilyBack& back) {
        note("the hpnotify kernel module is loaded (family id " + std::to_string(back.family.id) +
             "); subscribed to its events");
        return true;
    }

    // The kernel's picture after a loss: stdout stays events-only (docs/contract.md),
    // the resync is reported on stderr.
    void resync() {
        try {
            const kernel::KernelState state = kernel::KernelClient().request_state();
            resynced_through_ = state.last_seq;
            note("resynced from the state dump at last_seq " + std::to_string(state.last_seq) + " (online cpus " +
                 (state.online.empty() ? std::string("none") : state.online.to_list()) + ")");
        } catch (const std::exception& e) {
            note(std::string("resync failed: ") + e.what());
        }
    }

    WatchOptions options_;
    kernel::EventChannel channel_;
    asio::signal_set signals_;
    std::uint64_t printed_ = 0;
    std::optional<std::uint64_t> resynced_through_;
    int exit_status_ = 0;
};

}  // namespace

int run_watch(Args args) {
    const WatchOptions options = parse_options(args);
    asio::io_context io;
    Watch watch(io, options);
    watch.start();
    io.run();
    return watch.exit_status();
}

}  // namespace hpplace::cli
