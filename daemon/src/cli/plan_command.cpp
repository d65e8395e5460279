// hpctl plan: the placement plan. With --topology and --config it is computed
// here, offline (what-if use and tests); without them the daemon is asked.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/json_depth.hpp"
#include "config/config.hpp"
#include "plan/plan.hpp"
#include "planner/planner.hpp"
#include "topology/topology.hpp"

namespace hpplace::cli {

namespace {

struct PlanOptions {
    std::optional<std::string> topology;
    std::optional<std::string> config;
    std::optional<std::string> previous;
    bool json = false;
};

// Accepts "--name VALUE" and "--name=VALUE"; returns nullopt when args[i] is not --name.
std::optional<std::string> option_value(Args args, std::size_t& i, std::string_view name) {
    const std::string_view arg = args[i];
    if (arg == name) {
        if (i + 1 == args.size() || args[i + 1].empty()) {
            throw UsageError(std::string(name) + " needs a file");
        }
        return std::string(args[++i]);
    }
    if (arg.size() > name.size() + 1 && arg.starts_with(name) && arg[name.size()] == '=') {
        return std::string(arg.substr(name.size() + 1));
    }
    return std::nullopt;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad() || !text) {
        throw std::runtime_error(path + ": cannot read" + (errno != 0 ? std::string(": ") + std::strerror(errno) : ""));
    }
    return text.str();
}

nlohmann::json read_json(const std::string& path) {
    const std::string text = read_file(path);
    if (json_nesting_depth(text) > max_json_depth) {
        throw std::runtime_error(path + ": nests arrays and objects deeper than " + std::to_string(max_json_depth) +
                                 " levels");
    }
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error(path + ": not JSON: " + e.what());
    }
}

}  // namespace

int run_plan(Args args) {
    PlanOptions options;
    bool offline = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (auto value = option_value(args, i, "--topology")) {
            options.topology = std::move(value);
            offline = true;
        } else if (auto config = option_value(args, i, "--config")) {
            options.config = std::move(config);
            offline = true;
        } else if (auto previous = option_value(args, i, "--previous")) {
            options.previous = std::move(previous);
            offline = true;
        } else if (args[i] == "--json") {
            options.json = true;
        } else if (!offline && (args[i] == "--socket" || args[i].starts_with("--socket="))) {
            if (args[i] == "--socket") {
                ++i;  // and its PATH; the daemon branch reads both
            }
            continue;
        } else {
            throw UsageError("unknown option \"" + std::string(args[i]) +
                                        "\" (options: --topology T.json --config C.toml [--previous P.json] "
                                        "[--json], or [--json] [--socket PATH] to ask the daemon)");
        }
    }
    if (!offline) {
        return run_plan_from_daemon(args);
    }
    if (!options.topology || !options.config) {
        throw UsageError("an offline plan needs both --topology T.json and --config C.toml");
    }
    Topology topology;
    try {
        topology = topology_from_json(read_json(*options.topology));
    } catch (const TopologyError& e) {
        throw std::runtime_error(*options.topology + ": " + e.what());
    }
    const Config config = load_config(*options.config);
    std::optional<Plan> previous;
    if (options.previous) {
        try {
            previous = plan_from_json(read_json(*options.previous));
        } catch (const PlanError& e) {
            throw std::runtime_error(*options.previous + ": " + e.what());
        }
    }
    const Plan plan = previous ? make_plan(topology, config, *previous) : make_plan(topology, config);
    const std::string text = options.json ? to_json(plan).dump() + "\n" : to_text(plan);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace hpplace::cli
