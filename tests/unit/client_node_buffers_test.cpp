// NodeBuffers on node 0: sizing from the plan, growth pre-faulted off the
// caller's path, shrink that never frees a chunk a reader holds.

#include <doctest/doctest.h>

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "hpplace/client.hpp"
#include "hpplace/node_buffers.hpp"

using namespace hpplace;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t mib = 1 << 20;

NodeBuffersOptions quiet(std::vector<std::string>& lines) {
    return NodeBuffersOptions{.chunk_bytes = mib, .log = [&lines](std::string_view l) { lines.emplace_back(l); }};
}

}  // namespace

TEST_CASE("NodeBuffers: sized by the plan, grown in chunks, ready once pre-faulted") {
    std::vector<std::string> lines;
    NodeBuffers buffers(quiet(lines));
    Assignment plan;
    plan.buffers = {{0, 5 * mib + 1}};  // rounded up to whole pages
    buffers.apply(plan);
    REQUIRE(buffers.wait_ready(10s));
    const auto status = buffers.status();
    REQUIRE(status.size() == 1);
    CHECK(status[0].node == 0);
    CHECK(status[0].target_bytes == 5 * mib + 4096);
    CHECK(status[0].ready_bytes == 5 * mib + 4096);
    CHECK(status[0].chunks == 6);
    const auto chunks = buffers.chunks(0);
    REQUIRE(chunks.size() == 6);
    std::uint64_t total = 0;
    for (const auto& chunk : chunks) {
        CHECK(chunk->node() == 0);
        CHECK(chunk->node_local() == buffers.numa_enabled());
        total += chunk->size();
        // Pre-faulted: every page is resident already.
        std::vector<unsigned char> resident((chunk->size() + 4095) / 4096);
        REQUIRE(::mincore(chunk->data(), chunk->size(), resident.data()) == 0);
        for (const auto page : resident) {
            CHECK((page & 1) == 1);
        }
    }
    CHECK(total == 5 * mib + 4096);
    if (buffers.numa_enabled()) {
        int node = -1;
        REQUIRE(::get_mempolicy(&node, nullptr, 0, chunks[0]->data(), MPOL_F_NODE | MPOL_F_ADDR) == 0);
        CHECK(node == 0);
    }
    CHECK(buffers.ready_bytes(7) == 0);
    CHECK(buffers.chunks(7).empty());
}

TEST_CASE("NodeBuffers: grow on arrival, shrink keeps what readers hold alive") {
    std::vector<std::string> lines;
    NodeBuffers buffers(quiet(lines));
    buffers.resize(0, 2 * mib);
    REQUIRE(buffers.wait_ready(10s));
    auto held = buffers.chunks(0);
    REQUIRE(held.size() == 2);
    held[1]->data()[0] = std::byte{42};

    buffers.resize(0, 6 * mib);  // memory arrived
    REQUIRE(buffers.wait_ready(10s));
    CHECK(buffers.ready_bytes(0) == 6 * mib);
    CHECK(buffers.chunks(0).size() == 6);
    CHECK(buffers.chunks(0)[1] == held[1]);  // growth appends, existing chunks stay

    buffers.resize(0, 1 * mib);  // memory leaving
    CHECK(buffers.ready_bytes(0) == 1 * mib);
    CHECK(buffers.chunks(0).size() == 1);
    // The reader still holds chunk 1: its memory is still there and still ours.
    CHECK(held[1]->data()[0] == std::byte{42});
    CHECK(held[1].use_count() == 1);

    Assignment none;
    buffers.apply(none);  // a node the plan no longer names shrinks to 0
    CHECK(buffers.ready_bytes(0) == 0);
    CHECK(buffers.status()[0].target_bytes == 0);
}

TEST_CASE("NodeBuffers: a shrink during growth cancels the pending growth") {
    std::vector<std::string> lines;
    NodeBuffers buffers(quiet(lines));
    buffers.resize(0, 64 * mib);
    buffers.resize(0, 3 * mib);
    REQUIRE(buffers.wait_ready(10s));
    CHECK(buffers.ready_bytes(0) == 3 * mib);
    const auto status = buffers.status();
    CHECK(status[0].target_bytes == 3 * mib);
}

TEST_CASE("NodeBuffers: a node without memory gets unbound memory, logged") {
    std::vector<std::string> lines;
    NodeBuffers buffers(quiet(lines));
    buffers.resize(1000, 1 * mib);
    REQUIRE(buffers.wait_ready(10s));
    REQUIRE(buffers.chunks(1000).size() == 1);
    CHECK_FALSE(buffers.chunks(1000)[0]->node_local());
    if (buffers.numa_enabled()) {
        REQUIRE_FALSE(lines.empty());
        CHECK(lines[0].find("node 1000") != std::string::npos);
    }
}

namespace {

// The names of this process's threads (/proc/self/task/*/comm).
std::vector<std::string> thread_names() {
    std::vector<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        if (std::getline(comm, name)) {
            names.push_back(name);
        }
    }
    return names;
}

bool has_thread_named(const std::string& name) {
    for (int i = 0; i < 200; ++i) {
        const auto names = thread_names();
        if (std::find(names.begin(), names.end(), name) != names.end()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return false;
}

}  // namespace

TEST_CASE("libhpplace names its threads: hpplace-fault (NodeBuffers), hpplace-io and hpplace-calls (Client)") {
    std::vector<std::string> lines;
    NodeBuffers buffers(quiet(lines));
    CHECK(has_thread_named("hpplace-fault"));
    ClientOptions options;
    options.socket_path = "/nonexistent/hpplaced.sock";
    options.log = [&lines](std::string_view l) { lines.emplace_back(l); };
    Client client(options);
    CHECK(has_thread_named("hpplace-io"));
    CHECK(has_thread_named("hpplace-calls"));
}
