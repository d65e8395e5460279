#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "service/replanner.hpp"

using namespace hpplace;

namespace {

Topology one_node(unsigned last_cpu) {
    Topology topology;
    NumaNode node;
    node.id = 0;
    node.cpus = CpuSet::range(0, last_cpu);
    node.memory_bytes = 1ull << 30;
    node.distances = {10};
    topology.nodes = {node};
    return topology;
}

Config config_with(std::optional<std::string> cgroup) {
    Config config;
    Workload workload;
    workload.name = "web";
    workload.cgroup = std::move(cgroup);
    config.workloads = {workload};
    return config;
}

// A planner that records what it was given and plans "every online CPU".
struct RecordingPlanner {
    std::vector<std::uint64_t> previous_generations;
    std::vector<std::string> previous_cpusets;

    PlanFunction function() {
        return [this](const Topology& topology, const Config& config, const Plan& previous) {
            previous_generations.push_back(previous.generation);
            const WorkloadPlan* before = previous.find_workload("web");
            previous_cpusets.push_back(before != nullptr ? before->cpuset.to_list() : "");
            Plan plan;
            WorkloadPlan workload;
            workload.name = config.workloads.at(0).name;
            workload.cpuset = topology.online_cpus();
            workload.mems = CpuSet::parse_list("0");
            plan.workloads = {workload};
            plan.generation = previous.same_placement(plan) ? previous.generation : previous.generation + 1;
            return plan;
        };
    }
};

struct CountingApplier final : PlanApplier {
    int* calls;
    std::size_t* last_actions;
    CountingApplier(int* calls_out, std::size_t* actions_out) : calls(calls_out), last_actions(actions_out) {}
    std::string_view name() const noexcept override { return "counting"; }
    unsigned apply(const Plan&, const std::vector<PlanAction>& actions, const Config&) override {
        ++*calls;
        *last_actions = actions.size();
        return 0;
    }
};

}  // namespace

TEST_CASE("replanner: the planner gets the previous plan every time") {
    RecordingPlanner planner;
    Replanner replanner(config_with(std::nullopt), planner.function());
    replanner.replan(one_node(1));
    replanner.replan(one_node(3));
    replanner.replan(one_node(3));
    CHECK(planner.previous_generations == std::vector<std::uint64_t>{0, 1, 2});
    CHECK(planner.previous_cpusets == std::vector<std::string>{"", "0-1", "0-3"});
    CHECK(replanner.plan().generation == 2);
    CHECK(replanner.plan().workloads.at(0).cpuset.to_list() == "0-3");
}

TEST_CASE("replanner: appliers run on a new placement or when asked to heal") {
    RecordingPlanner planner;
    Replanner replanner(config_with(std::nullopt), planner.function());
    int calls = 0;
    std::size_t actions = 0;
    replanner.add_applier(std::make_unique<CountingApplier>(&calls, &actions));

    auto outcome = replanner.replan(one_node(1));
    CHECK(outcome.new_generation);
    CHECK(outcome.applied);
    CHECK(calls == 1);
    CHECK(actions == outcome.actions.size());
    CHECK_FALSE(outcome.actions.empty());

    outcome = replanner.replan(one_node(1));
    CHECK_FALSE(outcome.new_generation);
    CHECK_FALSE(outcome.applied);
    CHECK(outcome.apply_time == std::chrono::nanoseconds::zero());
    CHECK(calls == 1);

    outcome = replanner.replan(one_node(1), true);
    CHECK(outcome.applied);
    CHECK(calls == 2);
    CHECK(actions == 0);

    outcome = replanner.replan(one_node(2));
    CHECK(outcome.new_generation);
    CHECK(calls == 3);
    CHECK(actions > 0);
}

TEST_CASE("replanner: a failing planner leaves the current plan in force") {
    bool fail = false;
    RecordingPlanner recording;
    auto inner = recording.function();
    Replanner replanner(config_with(std::nullopt), [&](const Topology& t, const Config& c, const Plan& p) {
        if (fail) {
            throw std::runtime_error("no CPU left");
        }
        return inner(t, c, p);
    });
    replanner.replan(one_node(1));
    fail = true;
    CHECK_THROWS_WITH(replanner.replan(one_node(3)), "no CPU left");
    CHECK(replanner.plan().generation == 1);
    CHECK(replanner.plan().workloads.at(0).cpuset.to_list() == "0-1");
}

TEST_CASE("cgroup_targets: one per workload with a cgroup and CPUs") {
    Plan plan;
    WorkloadPlan web;
    web.name = "web";
    web.cpuset = CpuSet::parse_list("0-3");
    web.mems = CpuSet::parse_list("0-1");
    WorkloadPlan batch;
    batch.name = "batch";
    batch.cpuset = {};
    batch.mems = {};
    plan.workloads = {web, batch};
    Config config = config_with("web.slice");
    Workload batch_config;
    batch_config.name = "batch";
    batch_config.cgroup = "batch.slice";
    Workload plain;
    plain.name = "plain";
    config.workloads.push_back(batch_config);
    config.workloads.push_back(plain);

    const auto targets = cgroup_targets(plan, config);
    REQUIRE(targets.size() == 1);  // batch has no CPUs now: its cgroup is left alone
    CHECK(targets[0].workload == "web");
    CHECK(targets[0].cgroup == "web.slice");
    CHECK(targets[0].cpus.to_list() == "0-3");
    CHECK(targets[0].mems.to_list() == "0-1");
}
