// The C API's client (hpplace.h): hpp_client over hpplace::Client, its
// registrations, and the calls that need no daemon. Every entry point is
// noexcept: what the C++ side throws becomes a negative errno value here.

#include <string.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "client/c_boundary.hpp"
#include "client/cpu_signals.hpp"
#include "hpplace/client.hpp"
#include "hpplace/hpplace.h"

struct hpp_registration {
    hpp_client* client = nullptr;
    hpplace::Registration registration;
};

struct hpp_client {
    hpplace::client::LogFunction log;
    std::unique_ptr<hpplace::Client> client;
    std::mutex mutex;  // guards registrations
    std::set<hpp_registration*> registrations;
};

namespace hpplace::c_api {

namespace {

// The client whose callback runs on this thread, if any: hpp_close() refuses to
// close a client from its own callback (its thread would be joined by itself).
thread_local const hpp_client* running_callback_of = nullptr;

class InCallback {
public:
    explicit InCallback(const hpp_client* client) noexcept : previous_(running_callback_of) {
        running_callback_of = client;
    }
    ~InCallback() { running_callback_of = previous_; }
    InCallback(const InCallback&) = delete;
    InCallback& operator=(const InCallback&) = delete;

private:
    const hpp_client* previous_;
};

int node_or_unknown(const std::optional<unsigned>& node) noexcept { return node ? static_cast<int>(*node) : -1; }

// The active set as words, bit n % 64 of word n / 64 being CPU n.
std::vector<std::uint64_t> mask_of(const std::vector<unsigned>& cpus) {
    std::vector<std::uint64_t> words(cpus.empty() ? 0 : cpus.back() / 64 + 1);
    for (const unsigned cpu : cpus) {
        words[cpu / 64] |= std::uint64_t{1} << (cpu % 64);
    }
    return words;
}

void call(const hpp_client* client, hpp_processor_callback fn, void* context, const ProcessorChange& change) {
    const std::vector<std::uint64_t> words = mask_of(change.active_cpus);
    hpp_processor_change out{};
    out.struct_size = sizeof(out);
    out.state = static_cast<hpp_processor_state>(change.state);
    out.cpu = change.cpu;
    out.node = node_or_unknown(change.node);
    out.active_count = change.active_count;
    out.active_mask = words.data();
    out.active_mask_words = words.size();
    out.seq = change.seq;
    out.time_ns = change.time_ns;
    out.flags = change.synthesized ? HPP_CHANGE_SYNTHESIZED : 0;
    const InCallback in(client);
    fn(&out, context);
}

void call(const hpp_client* client, hpp_memory_callback fn, void* context, const MemoryChange& change) {
    hpp_memory_change out{};
    out.struct_size = sizeof(out);
    out.state = static_cast<hpp_memory_state>(change.state);
    out.node = node_or_unknown(change.node);
    out.start = change.start;
    out.size = change.size;
    out.seq = change.seq;
    out.time_ns = change.time_ns;
    out.flags = change.synthesized ? HPP_CHANGE_SYNTHESIZED : 0;
    const InCallback in(client);
    fn(&out, context);
}

void call(const hpp_client* client, hpp_assignment_callback fn, void* context, const Assignment& assignment) {
    std::vector<hpp_thread> threads;
    for (const auto& thread : assignment.threads) {
        threads.push_back({thread.index, thread.cpu, thread.node, 0});
    }
    std::vector<hpp_buffer> buffers;
    for (const auto& buffer : assignment.buffers) {
        buffers.push_back({buffer.node, 0, buffer.bytes});
    }
    hpp_assignment out{};
    out.struct_size = sizeof(out);
    out.generation = assignment.generation;
    out.workload = assignment.workload.c_str();
    out.threads = threads.data();
    out.thread_count = threads.size();
    out.buffers = buffers.data();
    out.buffer_count = buffers.size();
    out.cpuset = assignment.cpuset.c_str();
    out.mems = assignment.mems.c_str();
    const InCallback in(client);
    fn(&out, context);
}

std::optional<WorkloadSpec> workload_of(const hpp_workload* in) {
    if (in == nullptr) {
        return std::nullopt;
    }
    hpp_workload workload;
    if (read_input(in, workload) != 0 || workload.name == nullptr ||
        (workload.node_count != 0 && workload.nodes == nullptr)) {
        throw std::invalid_argument("hpp_workload");
    }
    WorkloadSpec spec;
    spec.name = workload.name;
    if (workload.has_threads != 0) {
        spec.threads = workload.threads;
    } else {
        spec.threads_per_cpu = workload.threads_per_cpu == 0 ? 1 : workload.threads_per_cpu;
    }
    spec.nodes.assign(workload.nodes, workload.nodes + workload.node_count);
    spec.buffer_per_cpu = workload.buffer_per_cpu;
    spec.cgroup = workload.cgroup != nullptr ? workload.cgroup : "";
    return spec;
}

// Registers through one of Client's on_* calls: make(client) returns the Registration.
template <typename Make>
int add_registration(hpp_client* client, hpp_registration** out, Make&& make) {
    auto registration = std::make_unique<hpp_registration>();
    registration->client = client;
    std::lock_guard lock(client->mutex);
    client->registrations.insert(registration.get());
    try {
        registration->registration = make(*client->client);
    } catch (...) {
        client->registrations.erase(registration.get());
        throw;
    }
    *out = registration.release();
    return 0;
}

template <typename Fn, typename Register>
int register_callback(hpp_client* client, Fn fn, void* context, unsigned flags, unsigned allowed_flags,
                      hpp_registration** out, Register&& on) noexcept {
    if (client == nullptr || fn == nullptr || out == nullptr || (flags & ~allowed_flags) != 0) {
        return -EINVAL;
    }
    const Replay replay = (flags & HPP_ADD_EXISTING) != 0 ? Replay::existing : Replay::none;
    return guarded([&] {
        return add_registration(client, out, [&](Client& cxx) {
            return on(cxx, [client, fn, context](const auto& value) { call(client, fn, context, value); }, replay);
        });
    });
}

}  // namespace

client::LogFunction log_function(hpp_log_function fn, void* context) {
    if (fn == nullptr) {
        return {};
    }
    return [fn, context](std::string_view line) { fn(std::string(line).c_str(), context); };
}

}  // namespace hpplace::c_api

using namespace hpplace;
using namespace hpplace::c_api;

extern "C" {

hpp_client* hpp_open(const char* socket_path, int* error) {
    hpp_options options{};
    options.struct_size = sizeof(options);
    options.socket_path = socket_path;
    return hpp_open_with(&options, error);
}

hpp_client* hpp_open_with(const hpp_options* in, int* error) {
    hpp_options options;
    if (read_input(in, options) != 0) {
        return fail(error, -EINVAL);
    }
    return create(error, [&] {
        ClientOptions cxx;
        cxx.socket_path = options.socket_path != nullptr ? options.socket_path : HPP_DEFAULT_SOCKET;
        cxx.workload = c_api::workload_of(options.workload);
        if (options.reconnect_min_ms != 0) {
            cxx.reconnect_min = std::chrono::milliseconds(options.reconnect_min_ms);
        }
        if (options.reconnect_max_ms != 0) {
            cxx.reconnect_max = std::chrono::milliseconds(options.reconnect_max_ms);
        }
        cxx.reconnect_max = std::max(cxx.reconnect_max, cxx.reconnect_min);
        cxx.log = log_function(options.log, options.log_context);
        auto client = std::make_unique<hpp_client>();
        client->log = client::log_or_stderr(cxx.log);
        client->client = std::make_unique<Client>(std::move(cxx));
        return client;
    });
}

void hpp_close(hpp_client* client) {
    if (client == nullptr) {
        return;
    }
    if (running_callback_of == client) {
        client->log("hpp_close() called from a callback of the same client: refused, the client stays open");
        return;
    }
    // The Client first: its threads are joined and no callback runs any more.
    client->client.reset();
    for (hpp_registration* registration : client->registrations) {
        delete registration;
    }
    delete client;
}

int hpp_register_processor_callback(hpp_client* client, hpp_processor_callback fn, void* context, unsigned flags,
                                    hpp_registration** out) {
    return register_callback(client, fn, context, flags, HPP_ADD_EXISTING, out,
                             [](Client& cxx, auto&& f, Replay replay) { return cxx.on_processor_change(f, replay); });
}

int hpp_register_memory_callback(hpp_client* client, hpp_memory_callback fn, void* context, unsigned flags,
                                 hpp_registration** out) {
    return register_callback(client, fn, context, flags, HPP_ADD_EXISTING, out,
                             [](Client& cxx, auto&& f, Replay replay) { return cxx.on_memory_change(f, replay); });
}

int hpp_register_assignment_callback(hpp_client* client, hpp_assignment_callback fn, void* context, unsigned flags,
                                     hpp_registration** out) {
    return register_callback(client, fn, context, flags, HPP_ADD_EXISTING, out,
                             [](Client& cxx, auto&& f, Replay replay) { return cxx.on_assignment(f, replay); });
}

int hpp_register_connection_callback(hpp_client* client, hpp_connection_callback fn, void* context, unsigned flags,
                                     hpp_registration** out) {
    if (client == nullptr || fn == nullptr || out == nullptr || flags != 0) {
        return -EINVAL;
    }
    return guarded([&] {
        return add_registration(client, out, [&](Client& cxx) {
            return cxx.on_connection([client, fn, context](bool connected) {
                const InCallback in(client);
                fn(connected ? 1 : 0, context);
            });
        });
    });
}

int hpp_unregister(hpp_registration* registration) {
    if (registration == nullptr) {
        return -EINVAL;
    }
    {
        std::lock_guard lock(registration->client->mutex);
        registration->client->registrations.erase(registration);
    }
    // Waits for a running call unless on the callback thread (Registration::reset).
    delete registration;
    return 0;
}

int hpp_connected(const hpp_client* client) {
    if (client == nullptr) {
        return -EINVAL;
    }
    return client->client->connected() ? 1 : 0;
}

int hpp_wait_connected(hpp_client* client, unsigned timeout_ms) {
    if (client == nullptr) {
        return -EINVAL;
    }
    return guarded([&] {
        return client->client->wait_connected(std::chrono::milliseconds(timeout_ms)) ? 0 : -ETIMEDOUT;
    });
}

unsigned hpp_active_processor_count(uint64_t* mask, size_t mask_words) {
    std::optional<CpuSet> online;
    try {
        online = client::system_online_cpus();
    } catch (...) {
    }
    if (mask != nullptr) {
        std::fill_n(mask, mask_words, std::uint64_t{0});
    }
    if (!online) {
        // Without sysfs: the count only, as hpplace::active_processor_count() gives it.
        return active_processor_count();
    }
    if (mask != nullptr) {
        const auto words = online->words();
        std::copy_n(words.begin(), std::min(words.size(), mask_words), mask);
    }
    return static_cast<unsigned>(online->count());
}

const char* hpp_strerror(int error) {
    const int value = error < 0 ? -error : error;
    if (value == 0) {
        return "Success";
    }
    const char* description = ::strerrordesc_np(value);
    return description != nullptr ? description : "Unknown error";
}

const char* hpp_processor_state_name(hpp_processor_state state) {
    if (state < HPP_PROCESSOR_ADD_START || state > HPP_PROCESSOR_REMOVED) {
        return "unknown";
    }
    return to_string(static_cast<ProcessorState>(state)).data();
}

const char* hpp_memory_state_name(hpp_memory_state state) {
    if (state < HPP_MEMORY_GOING_ONLINE || state > HPP_MEMORY_OFFLINE_CANCELED) {
        return "unknown";
    }
    return to_string(static_cast<MemoryState>(state)).data();
}

}  // extern "C"

// The C values are the C++ enumerators' (the casts above rely on it).
static_assert(static_cast<int>(ProcessorState::add_start) == HPP_PROCESSOR_ADD_START);
static_assert(static_cast<int>(ProcessorState::add_complete) == HPP_PROCESSOR_ADD_COMPLETE);
static_assert(static_cast<int>(ProcessorState::add_failed) == HPP_PROCESSOR_ADD_FAILED);
static_assert(static_cast<int>(ProcessorState::going_offline) == HPP_PROCESSOR_GOING_OFFLINE);
static_assert(static_cast<int>(ProcessorState::offline) == HPP_PROCESSOR_OFFLINE);
static_assert(static_cast<int>(ProcessorState::removed) == HPP_PROCESSOR_REMOVED);
static_assert(static_cast<int>(MemoryState::going_online) == HPP_MEMORY_GOING_ONLINE);
static_assert(static_cast<int>(MemoryState::online) == HPP_MEMORY_ONLINE);
static_assert(static_cast<int>(MemoryState::online_canceled) == HPP_MEMORY_ONLINE_CANCELED);
static_assert(static_cast<int>(MemoryState::going_offline) == HPP_MEMORY_GOING_OFFLINE);
static_assert(static_cast<int>(MemoryState::offline) == HPP_MEMORY_OFFLINE);
static_assert(static_cast<int>(MemoryState::offline_canceled) == HPP_MEMORY_OFFLINE_CANCELED);
