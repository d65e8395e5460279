#pragma once

#include <span>
#include <string_view>

namespace hpplace::cli {

// The arguments after the subcommand name, e.g. {"--json"} for `hpctl watch --json`.
using Args = std::span<const std::string_view>;

// Each returns the process exit status; errors go to stderr as one line.
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
