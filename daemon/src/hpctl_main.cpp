// hpctl: the command-line client. Each subcommand lives in src/cli/.
#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"

namespace {

struct Command {
    std::string_view name;
    int (*run)(hpplace::cli::Args);
    std::string_view help;
};

constexpr Command commands[] = {
    {"watch", hpplace::cli::run_watch,
     "watch [--json] [--rcvbuf BYTES] [--count N] [--follow]  print hotplug events from the kernel module"},
    {"kernel-state", hpplace::cli::run_kernel_state, "kernel-state [--json]     the kernel module's CPU and memory picture"},
    {"kernel-stats", hpplace::cli::run_kernel_stats, "kernel-stats [--json]     the kernel module's event counters"},
    {"plan", hpplace::cli::run_plan,
     "plan [--json] | plan --topology T.json --config C.toml [--previous P.json] [--json]"},
    {"status", hpplace::cli::run_status, "status [--json] [--socket PATH]  the daemon's view"},
    {"metrics", hpplace::cli::run_metrics, "metrics [--socket PATH]   the daemon's Prometheus metrics"},
};

void usage(std::FILE* out) {
    std::fputs("usage: hpctl <command> [options]\n", out);
    for (const auto& c : commands) {
        std::fprintf(out, "  hpctl %.*s\n", static_cast<int>(c.help.size()), c.help.data());
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const std::string_view name = argv[1];
    if (name == "-h" || name == "--help" || name == "help") {
        usage(stdout);
        return 0;
    }
    const std::vector<std::string_view> args(argv + 2, argv + argc);
    for (const auto& c : commands) {
        if (c.name == name) {
            try {
                return c.run(args);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "hpctl %s: %s\n", argv[1], e.what());
                return 1;
            }
        }
    }
    std::fprintf(stderr, "hpctl: unknown command \"%s\" (try hpctl --help)\n", argv[1]);
    return 2;
}
