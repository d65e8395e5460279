#include "config/config.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <toml++/toml.h>

#include "core/quoted.hpp"
#include "core/size.hpp"

namespace hpplace {

namespace {

// Where errors point: the file and, per value, its line.
struct Context {
    std::string_view path;

    [[noreturn]] void fail(const toml::source_region& where, std::string_view key, std::string_view problem) const {
        std::string message(path);
        message += ":" + std::to_string(where.begin.line) + ": key \"" + std::string(key) + "\": ";
        message += problem;
        throw ConfigError(message);
    }
};

std::string describe(const toml::node& node) {
    std::ostringstream out;
    switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "\"" + std::string(node.as_string()->get()) + "\"";
    default: node.visit([&](const auto& value) { out << value; }); return out.str();
    }
}

std::int64_t integer_in(const Context& ctx, const toml::node& node, std::string_view key, std::int64_t min,
                        std::int64_t max, std::string_view expected) {
    const auto* value = node.as_integer();
    if (value == nullptr || value->get() < min || value->get() > max) {
        ctx.fail(node.source(), key, "expected " + std::string(expected) + ", got " + describe(node));
    }
    return value->get();
}

const std::string& string_of(const Context& ctx, const toml::node& node, std::string_view key) {
    const auto* value = node.as_string();
    if (value == nullptr) {
        ctx.fail(node.source(), key, "expected a string, got " + describe(node));
    }
    return value->get();
}

std::uint64_t size_of(const Context& ctx, const toml::node& node, std::string_view key) {
    if (node.is_integer()) {
        return static_cast<std::uint64_t>(
            integer_in(ctx, node, key, 0, std::numeric_limits<std::int64_t>::max(), "a size (bytes or \"64MiB\")"));
    }
    if (!node.is_string()) {
        ctx.fail(node.source(), key, "expected a size (bytes or \"64MiB\"), got " + describe(node));
    }
    try {
        return parse_size(node.as_string()->get());
    } catch (const std::exception& e) {
        ctx.fail(node.source(), key, e.what());
    }
}

// --- top-level keys ------------------------------------------------------------

void parse_auto_online(Config& config, const toml::node& node, const Context& ctx) {
    // service/auto_online owns the policy names.
    const std::string& text = string_of(ctx, node, "auto_online");
    try {
        config.auto_online = parse_auto_online_policy(text);
    } catch (const std::invalid_argument& e) {
        ctx.fail(node.source(), "auto_online", e.what());
    }
}

void parse_reserved_cpus(Config& config, const toml::node& node, const Context& ctx) {
    constexpr std::string_view key = "reserved_cpus";
    if (const auto* list = node.as_array()) {
        CpuSet cpus;
        for (const auto& item : *list) {
            cpus.set(static_cast<unsigned>(integer_in(ctx, item, key, 0, (1 << 20) - 1, "a CPU number")));
        }
        config.reserved_cpus = cpus;
        return;
    }
    if (!node.is_string()) {
        ctx.fail(node.source(), key, "expected a CPU list like \"0-1,8\" or an array, got " + describe(node));
    }
    try {
        config.reserved_cpus = CpuSet::parse_list(node.as_string()->get());
    } catch (const std::exception& e) {
        ctx.fail(node.source(), key, e.what());
    }
}

void parse_max_memory_share(Config& config, const toml::node& node, const Context& ctx) {
    double share = 0;
    if (const auto* f = node.as_floating_point()) {
        share = f->get();
    } else if (const auto* i = node.as_integer()) {
        share = static_cast<double>(i->get());
    } else {
        ctx.fail(node.source(), "max_memory_share", "expected a number in (0, 1], got " + describe(node));
    }
    if (!(share > 0.0 && share <= 1.0)) {
        ctx.fail(node.source(), "max_memory_share", "expected a number in (0, 1], got " + describe(node));
    }
    config.max_memory_share = share;
}

void parse_socket_group(Config& config, const toml::node& node, const Context& ctx) {
    constexpr std::string_view key = "socket_group";
    if (node.is_integer()) {
        config.socket_group = std::to_string(integer_in(ctx, node, key, 0, 0xFFFFFFFE, "a group id (0..4294967294)"));
        return;
    }
    const std::string& name = string_of(ctx, node, key);
    // The group database's lookup happens when the daemon binds the socket.
    if (name.empty() || name.size() > 256 || name.find_first_of(": \t\n/") != std::string::npos ||
        !is_valid_utf8(name)) {
        ctx.fail(node.source(), key, "expected a group name or id, got " + quoted_text(name));
    }
    config.socket_group = name;
}

void parse_socket_mode(Config& config, const toml::node& node, const Context& ctx) {
    constexpr std::string_view key = "socket_mode";
    constexpr std::string_view expected = "permission bits 0..0o777 (0o660, or a string \"0660\")";
    std::int64_t mode = 0;
    if (node.is_integer()) {
        mode = integer_in(ctx, node, key, 0, 0777, expected);
    } else if (node.is_string()) {
        const std::string& text = node.as_string()->get();
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
        if (text.empty() || error != std::errc{} || end != text.data() + text.size() || mode < 0 || mode > 0777) {
            ctx.fail(node.source(), key, "expected " + std::string(expected) + ", got " + describe(node));
        }
    } else {
        ctx.fail(node.source(), key, "expected " + std::string(expected) + ", got " + describe(node));
    }
    config.socket_mode = static_cast<unsigned>(mode);
}

void parse_workload_nodes(Workload& workload, const toml::node& node, const Context& ctx, const std::string& key) {
    if (node.is_string()) {
        if (node.as_string()->get() != "all") {
            ctx.fail(node.source(), key, "expected \"all\" or a list of node ids, got " + describe(node));
        }
        workload.nodes.reset();
        return;
    }
    const auto* list = node.as_array();
    if (list == nullptr) {
        ctx.fail(node.source(), key, "expected \"all\" or a non-empty list of node ids, got " + describe(node));
    }
    // Empty lists and repeated ids are workload_problem()'s.
    std::vector<unsigned> ids;
    for (const auto& item : *list) {
        ids.push_back(static_cast<unsigned>(
            integer_in(ctx, item, key, 0, max_workload_node_id, "a node id (0.." + std::to_string(max_workload_node_id) + ")")));
    }
    workload.nodes = std::move(ids);
}

Workload parse_workload(const toml::node& node, std::size_t position, const Context& ctx) {
    const std::string prefix = "workload[" + std::to_string(position) + "]";
    const auto* table = node.as_table();
    if (table == nullptr) {
        ctx.fail(node.source(), prefix, "expected a table ([[workload]]), got " + describe(node));
    }
    Workload workload;
    bool has_name = false;
    const toml::node* threads_per_cpu = nullptr;
    for (const auto& [key, value] : *table) {
        const std::string name = prefix + "." + std::string(key.str());
        // Types and what fits the fields here; the limits are workload_problem()'s,
        // the same for registered workloads.
        if (key == "name") {
            workload.name = string_of(ctx, value, name);
            has_name = true;
        } else if (key == "threads_per_cpu") {
            workload.threads_per_cpu = static_cast<unsigned>(integer_in(
                ctx, value, name, 1, max_threads_per_cpu, "an integer in 1.." + std::to_string(max_threads_per_cpu)));
            threads_per_cpu = &value;
        } else if (key == "threads") {
            workload.threads = static_cast<unsigned>(integer_in(
                ctx, value, name, 0, max_fixed_threads, "an integer in 0.." + std::to_string(max_fixed_threads)));
        } else if (key == "nodes") {
            parse_workload_nodes(workload, value, ctx, name);
        } else if (key == "buffer_per_cpu") {
            workload.buffer_per_cpu = size_of(ctx, value, name);
        } else if (key == "cgroup") {
            workload.cgroup = string_of(ctx, value, name);
        } else if (key == "unit") {
            workload.unit = string_of(ctx, value, name);
        } else {
            ctx.fail(key.source(), name,
                     "unknown key (known: name, threads_per_cpu, threads, nodes, buffer_per_cpu, cgroup, unit)");
        }
    }
    if (!has_name) {
        ctx.fail(table->source(), prefix + ".name", "missing");
    }
    if (threads_per_cpu != nullptr && workload.threads) {
        ctx.fail(threads_per_cpu->source(), prefix + ".threads_per_cpu", "give either threads_per_cpu or threads, not both");
    }
    if (const auto problem = workload_problem(workload)) {
        const toml::node* where = table->get(problem->key);
        if (where != nullptr && problem->item && where->is_array()) {
            where = where->as_array()->get(*problem->item);
        }
        ctx.fail(where != nullptr ? where->source() : table->source(), prefix + "." + problem->key, problem->problem);
    }
    if (workload.nodes) {
        std::sort(workload.nodes->begin(), workload.nodes->end());
    }
    return workload;
}

void parse_workloads(Config& config, const toml::node& node, const Context& ctx) {
    const auto* list = node.as_array();
    if (list == nullptr) {
        ctx.fail(node.source(), "workload", "expected an array of tables ([[workload]]), got " + describe(node));
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
        Workload workload = parse_workload((*list)[i], i, ctx);
        for (const auto& other : config.workloads) {
            if (other.name == workload.name) {
                const auto& where = (*list)[i].as_table()->get("name")->source();
                ctx.fail(where, "workload[" + std::to_string(i) + "].name",
                         "workload \"" + workload.name + "\" defined twice");
            }
            // Two plans for one unit would overwrite each other's AllowedCPUs=.
            if (workload.unit && other.unit == workload.unit) {
                const auto& where = (*list)[i].as_table()->get("unit")->source();
                ctx.fail(where, "workload[" + std::to_string(i) + "].unit",
                         "unit " + quoted_text(*workload.unit) + " is workload " + quoted_text(other.name) + "'s too");
            }
        }
        config.workloads.push_back(std::move(workload));
    }
}

using TopLevelParser = void (*)(Config&, const toml::node&, const Context&);

struct TopLevelKey {
    std::string_view name;
    TopLevelParser parse;
};

// Every top-level key the file may hold. Add yours here (and a field to Config).
constexpr TopLevelKey top_level_keys[] = {
    {"auto_online", parse_auto_online},
    {"reserved_cpus", parse_reserved_cpus},
    {"max_memory_share", parse_max_memory_share},
    {"socket_group", parse_socket_group},
    {"socket_mode", parse_socket_mode},
    {"workload", parse_workloads},
};

}  // namespace

Config parse_config(std::string_view text, std::string_view path) {
    const Context ctx{path};
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        throw ConfigError(std::string(path) + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
    }
    Config config;
    for (const auto& [key, value] : root) {
        // Not captured as `key`: clang before 16 refuses lambdas capturing a structured binding.
        const std::string_view name = key.str();
        const auto* known = std::find_if(std::begin(top_level_keys), std::end(top_level_keys),
                                         [&](const TopLevelKey& k) { return k.name == name; });
        if (known == std::end(top_level_keys)) {
            std::string names;
            for (const auto& k : top_level_keys) {
                names += names.empty() ? "" : ", ";
                names += k.name;
            }
            ctx.fail(key.source(), key.str(), "unknown key (known: " + names + ")");
        }
        known->parse(config, value, ctx);
    }
    return config;
}

Config load_config(const std::filesystem::path& path) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
        throw ConfigError(path.string() + ": cannot read: is a directory");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ConfigError(path.string() + ": cannot open: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw ConfigError(path.string() + ": cannot read: " + std::strerror(errno));
    }
    return parse_config(text.str(), path.string());
}

}  // namespace hpplace
