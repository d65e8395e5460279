// The control server's sessions (service/control_server.cpp) fed arbitrary
// bytes in arbitrary chunks over real AF_UNIX connections: one server for the
// whole run, on a socket in a temp dir, its io_context polled by this thread.
//
// Input: the first byte sets the chunk size (1..64 bytes); the rest is sent to
// the current connection chunk by chunk, the server polled after each. Two
// bytes steer instead of being sent: 0x1e switches between two connections,
// 0x1f closes the current one and opens a fresh one (so registers, caps and
// their release on close meet several connections).
//
// The server writes when it accepts a connection, when a line ends and when
// one grows past the limit, so a connection is read once it has been sent a
// few newlines since its last read (its answers stay far below the socket
// buffer: the server never waits for the harness), before it is closed and at
// the end; polling and reading after every chunk were most of the run, in
// system calls that found nothing.
//
// Checks: every line the server sends is a JSON object, an answer
// ({"ok": bool}) or a push, and no longer than max_answer; once every
// connection is closed the server holds none and every workload registered
// through it has been released.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>

#include "control/protocol.hpp"
#include "core/file_descriptor.hpp"
#include "fuzz_target.hpp"
#include "service/control_server.hpp"

using namespace hpplace;

namespace {

struct Handler final : ControlHandler {
    std::set<std::string> registered;
    Plan current{.generation = 1, .workloads = {}};
    control::Status status() override { return {.plan_generation = 1}; }
    const Plan& plan() override { return current; }
    std::string metrics_text() override { return "hpplaced_plan_generation 1\n"; }
    control::Registration register_workload(const Workload& workload) override {
        registered.insert(workload.name);
        return {.workload = workload.name, .configured = false};
    }
    void unregister_workload(const std::string& name) override {
        if (registered.erase(name) == 0) {
            throw control::ProtocolError("no registered workload");
        }
    }
};

struct Server {
    std::filesystem::path dir;
    boost::asio::io_context io;
    Handler handler;
    std::unique_ptr<ControlServer> server;

    Server() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hpplace-fuzz-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::abort();
        }
        dir = pattern;
        // Small workload caps so that inputs reach them; timeouts long enough
        // never to fire within one input (the run stays deterministic).
        ControlServerLimits limits{.max_clients = 8, .max_clients_per_peer = 8, .max_workloads_per_client = 2,
                                   .max_workloads_per_peer = 3};
        server = std::make_unique<ControlServer>(io, dir / "s", handler, limits, [](const std::string&) {});
        std::atexit([] { std::filesystem::remove_all(instance().dir); });
    }

    static Server& instance() {
        static Server server;
        return server;
    }

    void settle() {
        while (io.poll() > 0) {
        }
        io.restart();
    }
};

class Connection {
public:
    explicit Connection(const std::filesystem::path& path)
        : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)),
          splitter_(control::max_answer_bytes) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, path.c_str());
        FUZZ_CHECK(::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    }

    void send(std::string_view bytes) {
        if (!open_) {
            return;
        }
        // A server that closed the connection (an oversized line) takes no more.
        if (::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            open_ = false;
        }
        unread_lines_ += static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
    }

    // Lines sent that the server may have answered since the last drain().
    std::size_t unread_lines() const noexcept { return unread_lines_; }

    // Reads what arrived and checks each line.
    void drain() {
        unread_lines_ = 0;
        // One buffer for every call, not zeroed each time (clearing 64 kB per
        // call was a tenth of the run when drain() ran after every chunk).
        static std::array<char, 65536> buffer;
        for (;;) {
            const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n <= 0) {
                if (n == 0) {
                    open_ = false;
                }
                return;
            }
            for (const auto& line : splitter_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) {
                const auto json = nlohmann::json::parse(line, nullptr, false);
                FUZZ_CHECK(json.is_object());
                FUZZ_CHECK((json.contains("ok") && json["ok"].is_boolean()) || json.contains("event") ||
                           json.contains("plan"));
                if (json.contains("ok") && !json["ok"].get<bool>()) {
                    FUZZ_CHECK(json.contains("error") && json["error"].is_string());
                }
            }
        }
    }

private:
    FileDescriptor fd_;
    control::LineSplitter splitter_;
    std::size_t unread_lines_ = 0;
    bool open_ = true;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A read at most every this many request lines: each answer is under 1 kB
    // here (no handler call returns much), so they fit the socket buffer.
    constexpr std::size_t lines_per_drain = 16;
    Server& s = Server::instance();
    if (size == 0) {
        return 0;
    }
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view input = fuzz::text_of(data + 1, size - 1);
    std::array<std::unique_ptr<Connection>, 2> connections;
    std::size_t current = 0;
    const auto path = s.dir / "s";
    const auto drain = [&](Connection& c) {
        c.drain();
        s.settle();  // the writes that the read made room for
    };
    connections[0] = std::make_unique<Connection>(path);
    connections[1] = std::make_unique<Connection>(path);
    s.settle();
    drain(*connections[0]);
    drain(*connections[1]);
    std::string pending;
    const auto flush = [&] {
        Connection& c = *connections[current];
        for (std::size_t at = 0; at < pending.size(); at += chunk) {
            c.send(std::string_view(pending).substr(at, chunk));
            s.settle();
            if (c.unread_lines() >= lines_per_drain) {
                drain(c);
            }
        }
        pending.clear();
    };
    for (const char c : input) {
        if (c == '\x1e' || c == '\x1f') {
            flush();
            if (c == '\x1e') {
                current = 1 - current;
            } else {
                drain(*connections[current]);
                connections[current] = std::make_unique<Connection>(path);
                s.settle();
                drain(*connections[current]);
            }
            continue;
        }
        pending += c;
    }
    flush();
    for (auto& c : connections) {
        drain(*c);
    }
    connections = {};
    s.settle();
    FUZZ_CHECK(s.server->client_count() == 0);
    FUZZ_CHECK(s.handler.registered.empty());
    return 0;
}
