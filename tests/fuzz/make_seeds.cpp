// Writes the seed corpora of the fuzz harnesses: netlink messages built with
// the unit tests' MessageBuilder, control lines, and the JSON and TOML of
// tests/fixtures and dist/. Run from the top of the repository after a
// protocol or fixture change, and commit what changed:
//   build/bin/fuzz_make_seeds tests/fuzz/corpus

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "control/protocol.hpp"
#include "hpnotify_message_builder.hpp"

using namespace hpplace;
using namespace hpplace::kernel;
using namespace hpplace::kernel::testing;

namespace {

namespace fs = std::filesystem;

fs::path out_dir;

void write(const std::string& harness, const std::string& name, std::string_view bytes) {
    const fs::path dir = out_dir / harness;
    fs::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write(const std::string& harness, const std::string& name, const Bytes& bytes) {
    write(harness, name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

MessageBuilder event(std::uint64_t seq, std::uint32_t type) {
    MessageBuilder b(family_id, HPNOTIFY_CMD_EVENT);
    b.u64(HPNOTIFY_A_EVENT_SEQ, seq).u64(HPNOTIFY_A_EVENT_TIMESTAMP, 123456789).u32(HPNOTIFY_A_EVENT_TYPE, type);
    return b;
}

void netlink_seeds() {
    const Bytes cpu_online = cpu_online_event(5).bytes();
    write("netlink", "event_cpu_online", cpu_online);
    write("netlink", "event_mem_online", event(6, HPNOTIFY_EVENT_MEM_ONLINE)
                                             .u32(HPNOTIFY_A_EVENT_NODE, 1)
                                             .u64(HPNOTIFY_A_EVENT_MEM_START, 0x100000000)
                                             .u64(HPNOTIFY_A_EVENT_MEM_SIZE, 128 << 20)
                                             .bytes());
    write("netlink", "event_empty_mask",
          event(7, HPNOTIFY_EVENT_CPU_OFFLINE).bitmap(HPNOTIFY_A_EVENT_ONLINE_MASK, {}).bytes());
    write("netlink", "state_dump", concat({state_globals().bytes(), state_node(1, 1 << 30, 0x6).bytes(), dump_done()}));
    write("netlink", "state_dump_failed", concat({state_globals().bytes(), dump_done(-EINTR)}));
    write("netlink", "stats", stats_reply().bytes());
    write("netlink", "nlctrl_newfamily", family_reply().bytes());
    write("netlink", "nlctrl_delfamily_then_event", concat({family_reply(CTRL_CMD_DELFAMILY).bytes(), cpu_online}));
    write("netlink", "error_eperm", MessageBuilder::control(NLMSG_ERROR, -EPERM).bytes());
    write("netlink", "ack", MessageBuilder::control(NLMSG_ERROR, 0).bytes());
}

void control_seeds() {
    write("control_request", "ops",
          "{\"op\":\"ping\",\"id\":1}\n{\"op\":\"status\"}\n{\"op\":\"plan\",\"id\":\"p\"}\n{\"op\":\"metrics\"}\n"
          "{\"op\":\"subscribe\",\"streams\":[\"events\",\"plans\"]}\n{\"op\":\"unsubscribe\"}\n");
    write("control_request", "register",
          "{\"op\":\"register\",\"id\":2,\"workload\":{\"name\":\"svc\",\"threads_per_cpu\":1,\"nodes\":\"all\","
          "\"buffer_per_cpu\":\"96MiB\",\"cgroup\":\"/sys/fs/cgroup/svc\"}}\n"
          "{\"op\":\"register\",\"workload\":{\"name\":\"fixed\",\"threads\":3,\"nodes\":[0,1],\"buffer_per_cpu\":4096}}\r\n"
          "{\"op\":\"unregister\",\"name\":\"svc\"}\n");
    write("control_request", "bad", "{\"op\":\"nope\",\"id\":[1]}\nnot json\n[1,2]\n{\"op\":7}\n");
}

void client_seeds(const fs::path& root) {
    const fs::path planner = root / "tests/fixtures/planner";
    std::string plans;
    for (const auto& entry : fs::directory_iterator(planner)) {
        if (fs::exists(entry.path() / "expected.json")) {
            const nlohmann::json plan = nlohmann::json::parse(read(entry.path() / "expected.json"));
            plans += control::render_plan_push(plan);
            plans += control::render_result(plan, 4);
        }
    }
    write("client_messages", "plans", plans);
    Event e;
    e.seq = 9;
    e.type = EventType::mem_online;
    e.node = 1;
    e.start = 1ULL << 32;
    e.size = 128 << 20;
    nlohmann::json with_mask = to_json(e);
    with_mask["online_mask"] = "0-3";
    write("client_messages", "events",
          control::render_event_push(e) + nlohmann::json{{"event", with_mask}}.dump() + "\n");
    const nlohmann::json status = {
        {"source", "kernel"},
        {"cpus", {{"online", "0-2"}, {"offline", "3"}}},
        {"nodes",
         {{{"id", 0}, {"cpus", {0, 1}}, {"memory_bytes", 1 << 30}}, {{"id", 1}, {"cpus", "2-3"}, {"memory_bytes", 0}}}},
        {"events", {{"last_seq", 9}}},
    };
    write("client_messages", "status_and_errors",
          control::render_result(status, 3) + control::render_error("unknown op", 5) +
              control::render_result(nlohmann::json{{"workload", "svc"}}, 1));
    write("client_messages", "workload",
          control::render_result(nlohmann::json{{"name", "w"},
                                                {"threads", 3},
                                                {"nodes", {0, 1}},
                                                {"buffer_per_cpu", "64MiB"},
                                                {"cgroup", "/sys/fs/cgroup/w"}}));
}

void file_seeds(const fs::path& root) {
    const fs::path planner = root / "tests/fixtures/planner";
    for (const auto& entry : fs::directory_iterator(planner)) {
        if (!entry.is_directory()) {
            continue;
        }
        const std::string name = entry.path().filename().string();
        write("config", name + ".toml", read(entry.path() / "config.toml"));
        write("topology_json", name + ".json", read(entry.path() / "topology.json"));
        write("plan_json", name + ".json", read(entry.path() / "expected.json"));
    }
    write("config", "hpplaced.conf", read(root / "dist/hpplaced.conf"));
    write("config", "top_level",
          "auto_online = \"online_movable\"\nreserved_cpus = [0, 1]\nmax_memory_share = 0.25\n"
          "[[workload]]\nname = \"a\"\nthreads = 0\nbuffer_per_cpu = 4096\n");

    const char* texts[][2] = {
        {"cpulist", "0-3,8,10-11\n"}, {"cpulist_spaces", " 0 , 2-3 \n"}, {"empty", ""},
        {"sysname_cpu", "cpu12"},     {"sysname_node", "node1"},         {"sysname_memory", "memory4095"},
        {"block_size", "8000000\n"},  {"size_mib", "64MiB"},             {"size_spaced", "2 TiB"},
        {"size_bytes", "4096B"},
    };
    for (const auto& [name, text] : texts) {
        write("sysfs_text", name, std::string_view(text));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_make_seeds OUT_DIR (run from the top of the repository)\n";
        return 2;
    }
    out_dir = argv[1];
    const fs::path root = fs::current_path();
    netlink_seeds();
    control_seeds();
    client_seeds(root);
    file_seeds(root);
    return 0;
}
