// The auto-online policy against a temp sysfs tree.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "fifo_file.hpp"
#include "service/auto_online.hpp"

using namespace hpplace;

namespace {

struct FakeSysfs {
    std::filesystem::path root;
    std::vector<std::string> log;

    FakeSysfs() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-sysfs-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        root = pattern;
        std::filesystem::create_directories(cpu_dir());
        std::filesystem::create_directories(memory_dir());
        write(memory_dir() / "block_size_bytes", "8000000\n");  // 128 MiB
    }
    ~FakeSysfs() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    std::filesystem::path cpu_dir() const { return root / "devices/system/cpu"; }
    std::filesystem::path memory_dir() const { return root / "devices/system/memory"; }

    static void write(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }
    static std::string read(const std::filesystem::path& path) {
        std::ifstream in(path);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    // online: "1", "0", or "" for a CPU without an online file (cpu0).
    void cpu(unsigned n, const std::string& online) {
        const auto dir = cpu_dir() / ("cpu" + std::to_string(n));
        std::filesystem::create_directories(dir);
        if (!online.empty()) {
            write(dir / "online", online + "\n");
        }
    }
    std::string cpu_online(unsigned n) const { return read(cpu_dir() / ("cpu" + std::to_string(n)) / "online"); }
    void block(unsigned n, const std::string& state) {
        const auto dir = memory_dir() / ("memory" + std::to_string(n));
        std::filesystem::create_directories(dir);
        write(dir / "state", state + "\n");
    }
    std::string block_state(unsigned n) const {
        return read(memory_dir() / ("memory" + std::to_string(n)) / "state");
    }

    AutoOnliner onliner(AutoOnlinePolicy policy) {
        return AutoOnliner(policy, root, [this](const std::string& line) { log.push_back(line); });
    }
};

Event cpu_arrived(unsigned cpu) {
    Event event;
    event.type = EventType::cpu_arrived;
    event.source = EventSource::udev;
    event.cpu = cpu;
    return event;
}

Event block_added(std::uint64_t start, std::uint64_t size) {
    Event event;
    event.type = EventType::mem_block_added;
    event.source = EventSource::udev;
    event.start = start;
    event.size = size;
    return event;
}

constexpr std::uint64_t block_bytes = 128ULL << 20;

}  // namespace

TEST_CASE("auto_online policy names") {
    for (const auto policy : {AutoOnlinePolicy::off, AutoOnlinePolicy::online, AutoOnlinePolicy::online_movable,
                              AutoOnlinePolicy::online_kernel}) {
        CHECK(parse_auto_online_policy(to_string(policy)) == policy);
    }
    CHECK_THROWS_WITH_AS(
        parse_auto_online_policy("yes"),
        "bad auto_online \"yes\" (expected \"off\", \"online\", \"online_movable\" or \"online_kernel\")",
        std::invalid_argument);
}

TEST_CASE("auto_online off touches nothing") {
    FakeSysfs sysfs;
    sysfs.cpu(2, "0");
    sysfs.block(10, "offline");
    auto onliner = sysfs.onliner(AutoOnlinePolicy::off);
    CHECK(onliner.on_event(cpu_arrived(2)).onlined == 0);
    CHECK(onliner.on_event(block_added(10 * block_bytes, block_bytes)).onlined == 0);
    CHECK(onliner.on_resync().onlined == 0);
    CHECK(sysfs.cpu_online(2) == "0\n");
    CHECK(sysfs.block_state(10) == "offline\n");
    CHECK(sysfs.log.empty());
}

TEST_CASE("auto_online onlines an arrived CPU and leaves online ones alone") {
    FakeSysfs sysfs;
    sysfs.cpu(0, "");
    sysfs.cpu(1, "1");
    sysfs.cpu(2, "0");
    auto onliner = sysfs.onliner(AutoOnlinePolicy::online_movable);
    const auto result = onliner.on_event(cpu_arrived(2));
    CHECK(result.onlined == 1);
    CHECK(result.errors == 0);
    CHECK(sysfs.cpu_online(2) == "1");
    CHECK(sysfs.log == std::vector<std::string>{"<6>auto_online: onlined cpu2"});

    // Already online, or not hot-pluggable (no online file): nothing written.
    FakeSysfs::write(sysfs.cpu_dir() / "cpu1" / "online", "1\n");
    CHECK(onliner.on_event(cpu_arrived(1)).onlined == 0);
    CHECK(sysfs.cpu_online(1) == "1\n");
    CHECK(onliner.on_event(cpu_arrived(0)).onlined == 0);
    CHECK_FALSE(std::filesystem::exists(sysfs.cpu_dir() / "cpu0" / "online"));

    // Other event types are not the policy's business.
    Event online = cpu_arrived(2);
    online.type = EventType::cpu_online;
    FakeSysfs::write(sysfs.cpu_dir() / "cpu2" / "online", "0\n");
    CHECK(onliner.on_event(online).onlined == 0);
    CHECK(sysfs.cpu_online(2) == "0\n");
}

TEST_CASE("auto_online writes the policy's state to offline memory blocks of the range") {
    for (const auto policy :
         {AutoOnlinePolicy::online, AutoOnlinePolicy::online_movable, AutoOnlinePolicy::online_kernel}) {
        FakeSysfs sysfs;
        sysfs.block(8, "online");
        sysfs.block(9, "offline");
        sysfs.block(10, "offline");
        sysfs.block(11, "offline");
        auto onliner = sysfs.onliner(policy);
        // Blocks 9 and 10 (256 MiB from block 9); 8 is online, 11 outside.
        const auto result = onliner.on_event(block_added(9 * block_bytes, 2 * block_bytes));
        CHECK(result.onlined == 2);
        CHECK(result.errors == 0);
        CHECK(sysfs.block_state(8) == "online\n");
        CHECK(sysfs.block_state(9) == std::string(to_string(policy)));
        CHECK(sysfs.block_state(10) == std::string(to_string(policy)));
        CHECK(sysfs.block_state(11) == "offline\n");
    }
}

TEST_CASE("auto_online at resync: present-but-offline CPUs and offline blocks") {
    FakeSysfs sysfs;
    FakeSysfs::write(sysfs.cpu_dir() / "present", "0-3\n");
    sysfs.cpu(0, "");
    sysfs.cpu(1, "1");
    sysfs.cpu(2, "0");
    sysfs.cpu(3, "0");
    sysfs.cpu(4, "0");  // possible, not present: left alone
    sysfs.block(0, "online");
    sysfs.block(1, "offline");
    sysfs.block(7, "going-offline");
    std::filesystem::create_directories(sysfs.memory_dir() / "memory_tier4");
    auto onliner = sysfs.onliner(AutoOnlinePolicy::online);
    const auto result = onliner.on_resync();
    CHECK(result.onlined == 3);
    CHECK(result.errors == 0);
    CHECK(sysfs.cpu_online(2) == "1");
    CHECK(sysfs.cpu_online(3) == "1");
    CHECK(sysfs.cpu_online(4) == "0\n");
    CHECK(sysfs.block_state(0) == "online\n");
    CHECK(sysfs.block_state(1) == "online");
    CHECK(sysfs.block_state(7) == "going-offline\n");
}

TEST_CASE("auto_online failures are logged and counted, never thrown") {
    FakeSysfs sysfs;
    auto onliner = sysfs.onliner(AutoOnlinePolicy::online);
    // A CPU that is not in sysfs.
    const auto missing = onliner.on_event(cpu_arrived(9));
    CHECK(missing.errors == 1);
    CHECK(sysfs.log.back() == "<4>auto_online: cpu9 is not in " + sysfs.cpu_dir().string());
    // A CPU event without a CPU, a block event without an address.
    Event no_cpu = cpu_arrived(0);
    no_cpu.cpu.reset();
    CHECK(onliner.on_event(no_cpu).errors == 1);
    Event no_start = block_added(0, block_bytes);
    no_start.start.reset();
    CHECK(onliner.on_event(no_start).errors == 1);
    // A block that is not there.
    CHECK(onliner.on_event(block_added(50 * block_bytes, block_bytes)).errors == 1);
    CHECK(sysfs.log.back().starts_with("<4>auto_online: cannot read " +
                                       (sysfs.memory_dir() / "memory50" / "state").string()));
    // A refused write (read-only even for root: a sysfs attribute without store).
    std::filesystem::create_directories(sysfs.cpu_dir() / "cpu5");
    std::filesystem::create_symlink("/sys/devices/system/cpu/possible", sysfs.cpu_dir() / "cpu5" / "online");
    // "possible" reads "0-N", not "0": treated as online, left alone.
    CHECK(onliner.on_event(cpu_arrived(5)).errors == 0);
    sysfs.block(3, "offline");
    std::filesystem::remove(sysfs.memory_dir() / "memory3" / "state");
    std::filesystem::create_symlink("/sys/devices/system/cpu/offline", sysfs.memory_dir() / "memory3" / "state");
    // /sys/devices/system/cpu/offline reads "" or a list, never "offline": left alone too.
    CHECK(onliner.on_event(block_added(3 * block_bytes, block_bytes)).errors == 0);
    // A bad block size.
    FakeSysfs::write(sysfs.memory_dir() / "block_size_bytes", "zz\n");
    CHECK(onliner.on_event(block_added(0, block_bytes)).errors == 1);
    CHECK(sysfs.log.back().find("bad memory block size \"zz\"") != std::string::npos);
    for (const auto& line : sysfs.log) {
        CHECK(line.find('\n') == std::string::npos);
    }
}

TEST_CASE("auto_online applier: onlining runs off the loop, which goes on while a sysfs read waits") {
    FakeSysfs sysfs;
    sysfs.cpu(2, "");
    sysfs.cpu(3, "0");
    hpplace::testing::FifoFile cpu2(sysfs.cpu_dir() / "cpu2/online");  // its read waits until served
    boost::asio::io_context io;
    unsigned errors = 0;
    std::vector<std::thread::id> threads;
    const auto loop_thread = std::this_thread::get_id();
    {
        AutoOnlineApplier applier(
            io.get_executor(), AutoOnlinePolicy::online, sysfs.root,
            [&](const std::string& line) {
                sysfs.log.push_back(line);
                threads.push_back(std::this_thread::get_id());
            },
            [&](unsigned count) {
                errors += count;
                threads.push_back(std::this_thread::get_id());
            });
        const struct Release {
            hpplace::testing::FifoFile& fifo;
            ~Release() { fifo.release(); }
        } release{cpu2};
        applier.on_event(cpu_arrived(2));  // waits in the read of cpu2/online
        applier.on_event(cpu_arrived(3));
        applier.on_event(cpu_arrived(3));  // the same job as the one before, not yet started
        applier.on_event(cpu_arrived(9));  // no such CPU
        Event other = cpu_arrived(3);
        other.type = EventType::cpu_online;
        applier.on_event(other);           // not the policy's
        CHECK(applier.in_flight() == 3);
        bool ran = false;
        boost::asio::post(io, [&] { ran = true; });
        REQUIRE(io.run_one_for(std::chrono::seconds(5)) == 1);
        CHECK(ran);

        CHECK(sysfs.cpu_online(3) == "0\n");  // waiting behind cpu2's job
        REQUIRE(cpu2.serve_read("1\n"));     // cpu2 is online already
        io.restart();
        io.run();
        CHECK(applier.in_flight() == 0);
    }
    CHECK(sysfs.cpu_online(3) == "1");
    CHECK(sysfs.log.size() == 2);
    CHECK(sysfs.log.at(0) == "<6>auto_online: onlined cpu3");
    CHECK(sysfs.log.at(1).starts_with("<4>auto_online: cpu9 is not in "));
    CHECK(errors == 1);
    for (const auto& thread : threads) {
        CHECK(thread == loop_thread);
    }
}

