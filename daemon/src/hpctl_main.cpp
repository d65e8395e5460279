// hpctl: the command-line client. Each subcommand lives in src/cli/.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"
#include "core/version.hpp"

namespace {

struct Command {
    std::string_view name;
    int (*run)(hpplace::cli::Args);
    std::string_view synopsis;  // after "hpctl "
    std::string_view summary;
    std::string_view options;   // `hpctl NAME --help`: one line per option
};

constexpr Command commands[] = {
    {"watch", hpplace::cli::run_watch, "watch [--json] [--rcvbuf BYTES] [--count N] [--follow]",
     "print hotplug events from the kernel module",
     "  --json           one JSON object per event\n"
     "  --rcvbuf BYTES   receive buffer of the event socket\n"
     "  --count N        stop after N events\n"
     "  --follow         wait for the module when it is not loaded, go on across unload and reload\n"},
    {"kernel-state", hpplace::cli::run_kernel_state, "kernel-state [--json]",
     "the kernel module's CPU and memory picture", "  --json           the JSON document\n"},
    {"kernel-stats", hpplace::cli::run_kernel_stats, "kernel-stats [--json]", "the kernel module's event counters",
     "  --json           the JSON document\n"},
    {"plan", hpplace::cli::run_plan,
     "plan [--json] [--socket PATH] | plan --topology T.json --config C.toml [--previous P.json] [--json]",
     "the daemon's placement plan, or one computed offline",
     "  --json           the JSON document\n"
     "  --socket PATH    the daemon's control socket (default /run/hpplaced.sock)\n"
     "  --topology T     offline: the topology document\n"
     "  --config C       offline: the configuration file\n"
     "  --previous P     offline: an earlier plan document, to keep thread identities\n"},
    {"status", hpplace::cli::run_status, "status [--json] [--socket PATH]", "the daemon's view",
     "  --json           the JSON document\n"
     "  --socket PATH    the daemon's control socket (default /run/hpplaced.sock)\n"},
    {"metrics", hpplace::cli::run_metrics, "metrics [--socket PATH]", "the daemon's Prometheus metrics",
     "  --socket PATH    the daemon's control socket (default /run/hpplaced.sock)\n"},
};

void print(std::FILE* out, std::string_view text) { std::fwrite(text.data(), 1, text.size(), out); }

void usage(std::FILE* out) {
    print(out, "usage: hpctl <command> [options], hpctl <command> --help, hpctl --version\n");
    for (const auto& c : commands) {
        std::fprintf(out, "  hpctl %.*s\n      %.*s\n", static_cast<int>(c.synopsis.size()), c.synopsis.data(),
                     static_cast<int>(c.summary.size()), c.summary.data());
    }
    print(out, "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

void command_usage(const Command& c) {
    std::printf("usage: hpctl %.*s\n%.*s\n", static_cast<int>(c.synopsis.size()), c.synopsis.data(),
                static_cast<int>(c.summary.size()), c.summary.data());
    print(stdout, c.options);
}

bool is_help(std::string_view arg) { return arg == "-h" || arg == "--help"; }

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        print(stderr, "usage: hpctl <command> [options] (hpctl --help lists the commands)\n");
        return 2;
    }
    const std::string_view name = argv[1];
    if (is_help(name) || name == "help") {
        usage(stdout);
        return 0;
    }
    if (name == "--version") {
        std::printf("hpctl %.*s\n", static_cast<int>(hpplace::version_line().size()), hpplace::version_line().data());
        return 0;
    }
    const std::vector<std::string_view> args(argv + 2, argv + argc);
    for (const auto& c : commands) {
        if (c.name != name) {
            continue;
        }
        if (std::any_of(args.begin(), args.end(), is_help)) {
            command_usage(c);
            return 0;
        }
        try {
            return c.run(args);
        } catch (const hpplace::cli::UsageError& e) {
            std::fprintf(stderr, "hpctl %s: %s\n", argv[1], e.what());
            return 2;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "hpctl %s: %s\n", argv[1], e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "hpctl: unknown command \"%s\" (hpctl --help lists the commands)\n", argv[1]);
    return 2;
}
