#include "plan/workload.hpp"

#include <algorithm>
#include <filesystem>

#include "core/quoted.hpp"

namespace hpplace {

bool Workload::uses_node(unsigned node) const noexcept {
    return !nodes || std::find(nodes->begin(), nodes->end(), node) != nodes->end();
}

namespace {

std::optional<std::string> text_problem(std::string_view text, std::size_t max_bytes) {
    if (text.size() > max_bytes) {
        return "at most " + std::to_string(max_bytes) + " bytes, got " + quoted_text(text);
    }
    if (!is_valid_utf8(text)) {
        return "must be UTF-8, got " + quoted_text(text);
    }
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
            return "must not contain control characters, got " + quoted_text(text);
        }
    }
    return std::nullopt;
}

std::optional<std::string> cgroup_problem(const std::string& cgroup) {
    if (auto problem = text_problem(cgroup, max_cgroup_path_bytes)) {
        return problem;
    }
    if (cgroup.empty() || cgroup.front() != '/') {
        return "expected an absolute cgroup v2 directory, got " + quoted_text(cgroup);
    }
    for (const auto& part : std::filesystem::path(cgroup)) {
        if (part == "." || part == "..") {
            return "must not contain \".\" or \"..\" components, got " + quoted_text(cgroup);
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> unit_name_problem(std::string_view unit) {
    if (auto problem = text_problem(unit, max_unit_name_bytes)) {
        return problem;
    }
    // The unit types that have a cgroup and take AllowedCPUs= at run time.
    constexpr std::string_view suffixes[] = {".service", ".slice", ".scope"};
    const auto suffix = std::find_if(std::begin(suffixes), std::end(suffixes),
                                     [&](std::string_view s) { return unit.ends_with(s); });
    if (suffix == std::end(suffixes)) {
        return "expected a unit name ending in .service, .slice or .scope, got " + quoted_text(unit);
    }
    const auto prefix = unit.substr(0, unit.size() - suffix->size());
    if (prefix.empty() || prefix.front() == '.') {
        return "expected a unit name like \"nginx.service\", got " + quoted_text(unit);
    }
    for (const char c : prefix) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
        if (!allowed) {
            return "a unit name has only letters, digits and \":-_.\\@\", got " + quoted_text(unit);
        }
    }
    if (prefix.back() == '@') {
        return "a template has no cgroup: name an instance (\"name@instance" + std::string(*suffix) + "\"), got " +
               quoted_text(unit);
    }
    return std::nullopt;
}

std::optional<WorkloadProblem> workload_problem(const Workload& workload) {
    const auto problem = [](std::string key, std::string what, std::optional<std::size_t> item = std::nullopt) {
        return WorkloadProblem{std::move(key), item, std::move(what)};
    };
    if (workload.name.empty()) {
        return problem("name", "must not be empty");
    }
    if (auto what = text_problem(workload.name, max_workload_name_bytes)) {
        return problem("name", *what);
    }
    if (workload.threads) {
        if (*workload.threads > max_fixed_threads) {
            return problem("threads", "expected an integer in 0.." + std::to_string(max_fixed_threads) + ", got " +
                                          std::to_string(*workload.threads));
        }
    } else if (workload.threads_per_cpu < 1 || workload.threads_per_cpu > max_threads_per_cpu) {
        return problem("threads_per_cpu", "expected an integer in 1.." + std::to_string(max_threads_per_cpu) +
                                              ", got " + std::to_string(workload.threads_per_cpu));
    }
    if (workload.nodes) {
        const auto& ids = *workload.nodes;
        if (ids.empty()) {
            return problem("nodes", "expected \"all\" or a non-empty list of node ids, got []");
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (ids[i] > max_workload_node_id) {
                return problem("nodes", "expected a node id (0.." + std::to_string(max_workload_node_id) + "), got " +
                                            std::to_string(ids[i]), i);
            }
            if (std::find(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(i), ids[i]) !=
                ids.begin() + static_cast<std::ptrdiff_t>(i)) {
                return problem("nodes", "node " + std::to_string(ids[i]) + " listed twice", i);
            }
        }
    }
    if (workload.buffer_per_cpu > max_buffer_per_cpu) {
        return problem("buffer_per_cpu", "at most 1TiB per CPU, got " + std::to_string(workload.buffer_per_cpu));
    }
    if (workload.cgroup) {
        if (auto what = cgroup_problem(*workload.cgroup)) {
            return problem("cgroup", *what);
        }
    }
    if (workload.unit) {
        if (workload.cgroup) {
            return problem("unit", "give either cgroup or unit, not both");
        }
        if (auto what = unit_name_problem(*workload.unit)) {
            return problem("unit", *what);
        }
    }
    return std::nullopt;
}

}  // namespace hpplace
