#include "plan/plan_diff.hpp"

#include <nlohmann/json.hpp>

#include "core/size.hpp"

namespace hpplace {

namespace {

struct Buckets {
    std::vector<PlanAction> stops, shrinks, sets, moves, grows, starts;

    std::vector<PlanAction> in_order() && {
        std::vector<PlanAction> all;
        all.reserve(stops.size() + shrinks.size() + sets.size() + moves.size() + grows.size() + starts.size());
        for (auto* bucket : {&stops, &shrinks, &sets, &moves, &grows, &starts}) {
            std::move(bucket->begin(), bucket->end(), std::back_inserter(all));
        }
        return all;
    }
};

const std::vector<PlannedThread> no_threads;
const std::vector<PlannedBuffer> no_buffers;

void diff_threads(const std::string& name, const std::vector<PlannedThread>& from,
                  const std::vector<PlannedThread>& to, Buckets& out) {
    auto a = from.begin();
    auto b = to.begin();
    while (a != from.end() || b != to.end()) {
        if (b == to.end() || (a != from.end() && a->index < b->index)) {
            out.stops.push_back(StopThread{name, *a++});
        } else if (a == from.end() || b->index < a->index) {
            out.starts.push_back(StartThread{name, *b++});
        } else {
            if (a->cpu != b->cpu || a->node != b->node) {
                out.moves.push_back(MoveThread{name, *a, *b});
            }
            ++a;
            ++b;
        }
    }
}

void diff_buffers(const std::string& name, const std::vector<PlannedBuffer>& from,
                  const std::vector<PlannedBuffer>& to, Buckets& out) {
    auto resize = [&](unsigned node, std::uint64_t before, std::uint64_t after) {
        if (before == after) {
            return;
        }
        ResizeBuffer r{name, node, before, after};
        (r.grows() ? out.grows : out.shrinks).push_back(std::move(r));
    };
    auto a = from.begin();
    auto b = to.begin();
    while (a != from.end() || b != to.end()) {
        if (b == to.end() || (a != from.end() && a->node < b->node)) {
            resize(a->node, a->bytes, 0);
            ++a;
        } else if (a == from.end() || b->node < a->node) {
            resize(b->node, 0, b->bytes);
            ++b;
        } else {
            resize(a->node, a->bytes, b->bytes);
            ++a;
            ++b;
        }
    }
}

}  // namespace

std::vector<PlanAction> diff_plans(const Plan& from, const Plan& to) {
    Buckets out;
    for (const auto& after : to.workloads) {
        const WorkloadPlan* before = from.find_workload(after.name);
        diff_threads(after.name, before != nullptr ? before->threads : no_threads, after.threads, out);
        diff_buffers(after.name, before != nullptr ? before->buffers : no_buffers, after.buffers, out);
        const CpuSet none;
        const CpuSet& cpuset_before = before != nullptr ? before->cpuset : none;
        const CpuSet& mems_before = before != nullptr ? before->mems : none;
        if (before == nullptr || cpuset_before != after.cpuset) {
            out.sets.push_back(SetCpuset{after.name, cpuset_before, after.cpuset});
        }
        if (before == nullptr || mems_before != after.mems) {
            out.sets.push_back(SetMems{after.name, mems_before, after.mems});
        }
    }
    for (const auto& before : from.workloads) {
        if (to.find_workload(before.name) == nullptr) {
            diff_threads(before.name, before.threads, no_threads, out);
            diff_buffers(before.name, before.buffers, no_buffers, out);
        }
    }
    return std::move(out).in_order();
}

namespace {

nlohmann::json thread_json(const PlannedThread& t) {
    return {{"index", t.index}, {"cpu", t.cpu}, {"node", t.node}};
}

struct ToJson {
    nlohmann::json operator()(const StopThread& a) const {
        return {{"action", "stop_thread"}, {"workload", a.workload}, {"thread", thread_json(a.thread)}};
    }
    nlohmann::json operator()(const StartThread& a) const {
        return {{"action", "start_thread"}, {"workload", a.workload}, {"thread", thread_json(a.thread)}};
    }
    nlohmann::json operator()(const MoveThread& a) const {
        return {{"action", "move_thread"},
                {"workload", a.workload},
                {"index", a.to.index},
                {"from", thread_json(a.from)},
                {"to", thread_json(a.to)}};
    }
    nlohmann::json operator()(const ResizeBuffer& a) const {
        return {{"action", a.grows() ? "grow_buffer" : "shrink_buffer"},
                {"workload", a.workload},
                {"node", a.node},
                {"from_bytes", a.from_bytes},
                {"to_bytes", a.to_bytes}};
    }
    nlohmann::json operator()(const SetCpuset& a) const {
        return {{"action", "set_cpuset"}, {"workload", a.workload}, {"from", a.from.to_list()}, {"to", a.to.to_list()}};
    }
    nlohmann::json operator()(const SetMems& a) const {
        return {{"action", "set_mems"}, {"workload", a.workload}, {"from", a.from.to_list()}, {"to", a.to.to_list()}};
    }
};

std::string where(const PlannedThread& t) {
    return "cpu " + std::to_string(t.cpu) + " (node " + std::to_string(t.node) + ")";
}

struct ToText {
    std::string operator()(const StopThread& a) const {
        return a.workload + ": stop thread " + std::to_string(a.thread.index) + " on " + where(a.thread);
    }
    std::string operator()(const StartThread& a) const {
        return a.workload + ": start thread " + std::to_string(a.thread.index) + " on " + where(a.thread);
    }
    std::string operator()(const MoveThread& a) const {
        return a.workload + ": move thread " + std::to_string(a.to.index) + " from " + where(a.from) + " to " +
               where(a.to);
    }
    std::string operator()(const ResizeBuffer& a) const {
        return a.workload + ": " + (a.grows() ? "grow" : "shrink") + " buffer on node " + std::to_string(a.node) +
               " from " + format_size_readable(a.from_bytes) + " to " + format_size_readable(a.to_bytes);
    }
    std::string operator()(const SetCpuset& a) const {
        return a.workload + ": cpuset \"" + a.from.to_list() + "\" -> \"" + a.to.to_list() + "\"";
    }
    std::string operator()(const SetMems& a) const {
        return a.workload + ": mems \"" + a.from.to_list() + "\" -> \"" + a.to.to_list() + "\"";
    }
};

}  // namespace

nlohmann::json to_json(const PlanAction& action) { return std::visit(ToJson{}, action); }

std::string to_text(const PlanAction& action) { return std::visit(ToText{}, action); }

}  // namespace hpplace
