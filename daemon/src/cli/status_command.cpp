// hpctl status / metrics / plan (daemon branch): ask hpplaced over its control
// socket (docs/contract.md, "Control socket") and print the answer.
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "control/client.hpp"
#include "control/status.hpp"
#include "plan/plan.hpp"

namespace hpplace::cli {

namespace {

struct QueryOptions {
    bool json = false;
    std::string socket{control::default_socket_path};
};

// [--json] [--socket PATH] (--json only where allow_json).
QueryOptions parse_query_options(Args args, bool allow_json) {
    QueryOptions options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "--json" && allow_json) {
            options.json = true;
        } else if (arg == "--socket") {
            if (i + 1 == args.size() || args[i + 1].empty()) {
                throw UsageError("--socket needs a path");
            }
            options.socket = std::string(args[++i]);
        } else if (arg.starts_with("--socket=") && arg.size() > 9) {
            options.socket = std::string(arg.substr(9));
        } else {
            throw UsageError("unknown option \"" + std::string(arg) + "\" (options: " +
                                        (allow_json ? "--json, " : "") + "--socket PATH)");
        }
    }
    return options;
}

void print_line(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (text.empty() || text.back() != '\n') {
        std::fputc('\n', stdout);
    }
    std::fflush(stdout);
}

}  // namespace

int run_status(Args args) {
    const auto options = parse_query_options(args, true);
    const auto status = control::query_daemon(options.socket, control::Op::status);
    print_line(options.json ? status.dump() : control::status_to_text(status));
    return 0;
}

int run_metrics(Args args) {
    const auto options = parse_query_options(args, false);
    const auto result = control::query_daemon(options.socket, control::Op::metrics);
    const auto text = result.find("text");
    if (text == result.end() || !text->is_string()) {
        throw std::runtime_error("malformed metrics answer from hpplaced (no \"text\")");
    }
    print_line(text->get<std::string>());
    return 0;
}

int run_plan_from_daemon(Args args) {
    const auto options = parse_query_options(args, true);
    const auto plan = control::query_daemon(options.socket, control::Op::plan);
    if (options.json) {
        print_line(plan.dump());
        return 0;
    }
    // The planner's text form, as `hpctl plan --topology ...` prints it.
    Plan parsed;
    try {
        parsed = plan_from_json(plan);
    } catch (const PlanError& error) {
        throw std::runtime_error(std::string("malformed plan from hpplaced: ") + error.what() +
                                 " (use --json to see it)");
    }
    print_line(to_text(parsed));
    return 0;
}

}  // namespace hpplace::cli
