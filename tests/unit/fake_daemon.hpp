#pragma once

// A fake hpplaced for the client library's tests: a unix socket server in the
// test that speaks the protocol of docs/contract.md (one connection at a time;
// answers register, subscribe, status and plan; records the requests), the
// documents and event lines it sends, and an inbox for what callbacks receive.

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "core/file_descriptor.hpp"
#include "core/system_error.hpp"

namespace hpplace::testing {

using nlohmann::json;
using namespace std::chrono_literals;

inline json status_with(const std::vector<unsigned>& online, std::uint64_t node0_memory) {
    return json{{"source", "kernel"},
                {"cpus", {{"online", online}, {"present", {0, 1, 2}}}},
                {"nodes", json::array({json{{"id", 0}, {"cpus", {0, 1}}, {"memory_bytes", node0_memory}},
                                       json{{"id", 1}, {"cpus", {2}}, {"memory_bytes", 0}}})},
                {"events", {{"received", 0}, {"last_seq", 100}, {"lost", 0}, {"resyncs", 0}}},
                {"plan_generation", 1}};
}

inline json plan_with(std::uint64_t generation, const std::vector<unsigned>& cpus) {
    json threads = json::array();
    for (unsigned i = 0; i < cpus.size(); ++i) {
        threads.push_back({{"index", i}, {"cpu", cpus[i]}, {"node", 0}});
    }
    return json{{"generation", generation},
                {"workloads", json::array({json{{"name", "svc"},
                                                {"threads", threads},
                                                {"buffers", json::array({json{{"node", 0}, {"bytes", 1048576}}})},
                                                {"cpuset", "0-1"},
                                                {"mems", "0"}}})}};
}

inline std::string event_line(std::uint64_t seq, std::string_view type, unsigned cpu) {
    return json{{"event", {{"seq", seq}, {"type", type}, {"source", "kernel"}, {"time_ns", 1}, {"cpu", cpu},
                           {"node", cpu < 2 ? 0 : 1}}}}
               .dump() +
           "\n";
}

// One connection at a time; answers register/subscribe/status/plan, records requests.
class FakeDaemon {
public:
    FakeDaemon(std::filesystem::path path, json status, json plan)
        : path_(std::move(path)), status_(std::move(status)), plan_(std::move(plan)) {
        listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        throw_system_error_on(!listener_, "socket");
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::filesystem::remove(path_);
        path_.native().copy(address.sun_path, sizeof(address.sun_path) - 1);
        throw_system_error_on(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0,
                              "bind");
        throw_system_error_on(::listen(listener_.get(), 4) != 0, "listen");
        thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
    }
    ~FakeDaemon() {
        thread_.request_stop();
        thread_.join();
        std::filesystem::remove(path_);
    }

    void send(const std::string& bytes) {
        std::lock_guard lock(mutex_);
        REQUIRE(connection_);
        REQUIRE(::write(connection_.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    bool wait_requests(std::size_t count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, 5s, [&] { return requests_.size() >= count; });
    }
    std::vector<json> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    int connections() {
        std::lock_guard lock(mutex_);
        return connections_;
    }

private:
    void serve(std::stop_token stop) {
        control::LineSplitter splitter;
        while (!stop.stop_requested()) {
            pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {-1, POLLIN, 0}};
            {
                std::lock_guard lock(mutex_);
                fds[1].fd = connection_ ? connection_.get() : -1;
            }
            if (::poll(fds, 2, 10) <= 0) {
                continue;
            }
            if (fds[0].revents & POLLIN) {
                std::lock_guard lock(mutex_);
                connection_.reset(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
                splitter = control::LineSplitter();
                ++connections_;
                continue;
            }
            if (fds[1].revents & (POLLIN | POLLHUP)) {
                char buffer[4096];
                const ssize_t n = ::read(fds[1].fd, buffer, sizeof(buffer));
                std::lock_guard lock(mutex_);
                if (n <= 0) {
                    connection_.reset();
                    continue;
                }
                for (const auto& line : splitter.feed(std::string_view(buffer, static_cast<std::size_t>(n)))) {
                    const auto request = json::parse(line);
                    requests_.push_back(request);
                    const std::string op = request.at("op");
                    json result = json::object();
                    if (op == "status") {
                        result = status_;
                    } else if (op == "plan") {
                        result = plan_;
                    } else if (op == "register") {
                        result = {{"workload", request.at("workload").at("name")}};
                    }
                    const auto reply = control::render_result(result, request.value("id", json()));
                    REQUIRE(::write(connection_.get(), reply.data(), reply.size()) ==
                            static_cast<ssize_t>(reply.size()));
                }
                changed_.notify_all();
            }
        }
    }

    std::filesystem::path path_;
    json status_;
    json plan_;
    FileDescriptor listener_;
    std::mutex mutex_;
    std::condition_variable changed_;
    FileDescriptor connection_;
    std::vector<json> requests_;
    int connections_ = 0;
    std::jthread thread_;
};

inline std::filesystem::path socket_path(std::string_view name) {
    return std::filesystem::temp_directory_path() /
           ("hpplace-client-test-" + std::to_string(::getpid()) + "-" + std::string(name) + ".sock");
}

// Collects deliveries; waits for them.
template <typename T>
struct Inbox {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<T> items;
    void push(const T& item) {
        std::lock_guard lock(mutex);
        items.push_back(item);
        changed.notify_all();
    }
    bool wait_size(std::size_t count) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 5s, [&] { return items.size() >= count; });
    }
    std::vector<T> get() {
        std::lock_guard lock(mutex);
        return items;
    }
};

}  // namespace hpplace::testing
