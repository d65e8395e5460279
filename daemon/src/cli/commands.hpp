#pragma once

#include <span>
#include <stdexcept>
#include <string_view>

namespace hpplace::cli {

// A bad command line (unknown option, missing or bad value): exit status 2,
// where every other failure is 1 (docs/contract.md).
struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// The arguments after the subcommand name, e.g. {"--json"} for `hpctl watch --json`.
using Args = std::span<const std::string_view>;

// Each returns the process exit status; errors go to stderr as one line: a
// UsageError for the command line, any other exception for a failure.
int run_watch(Args args);
int run_kernel_state(Args args);
int run_kernel_stats(Args args);
int run_plan(Args args);
int run_status(Args args);
int run_metrics(Args args);
// `hpctl plan [--json] [--socket PATH]` without --topology: asks the daemon
// (implemented in status_command.cpp; run_plan calls it).
int run_plan_from_daemon(Args args);

}  // namespace hpplace::cli
