#include "systemd/sd_bus_manager.hpp"

#include <poll.h>

#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/log.hpp"
#include "systemd/sd_bus.hpp"

namespace hpplace {

namespace {

constexpr const char* systemd_name = "org.freedesktop.systemd1";
constexpr const char* manager_path = "/org/freedesktop/systemd1";
constexpr const char* manager_interface = "org.freedesktop.systemd1.Manager";
constexpr const char* owner_changed_rule =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
    "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.freedesktop.systemd1'";
// Ours, for a call made while there is no connection.
constexpr const char* no_bus_error = "hpplace.NoSystemBus";

std::string errno_text(int negative_errno) { return std::strerror(-negative_errno); }

BusError to_bus_error(const sd_bus_error* error) {
    return BusError{error->name != nullptr ? error->name : "", error->message != nullptr ? error->message : ""};
}

// SetUnitProperties(s name, b runtime, a(sv) properties), built for `bus`;
// a negative errno on failure.
int build_set_allowed(sd_bus* bus, const std::string& unit, const UnitAllowed& allowed, sdbus::Message& out) {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(bus, &raw, systemd_name, manager_path, manager_interface,
                                           "SetUnitProperties");
    if (r < 0) {
        return r;
    }
    sdbus::Message message(raw);
    r = sd_bus_message_append(raw, "sb", unit.c_str(), 1);
    if (r >= 0) {
        r = sd_bus_message_open_container(raw, 'a', "(sv)");
    }
    for (const auto& [property, set] : {std::pair{"AllowedCPUs", &allowed.cpus},
                                        std::pair{"AllowedMemoryNodes", &allowed.mems}}) {
        const auto mask = to_dbus_mask(*set);
        if (r >= 0) {
            r = sd_bus_message_open_container(raw, 'r', "sv");
        }
        if (r >= 0) {
            r = sd_bus_message_append(raw, "s", property);
        }
        if (r >= 0) {
            r = sd_bus_message_open_container(raw, 'v', "ay");
        }
        if (r >= 0) {
            r = sd_bus_message_append_array(raw, 'y', mask.data(), mask.size());
        }
        if (r >= 0) {
            r = sd_bus_message_close_container(raw);
        }
        if (r >= 0) {
            r = sd_bus_message_close_container(raw);
        }
    }
    if (r >= 0) {
        r = sd_bus_message_close_container(raw);
    }
    if (r < 0) {
        return r;
    }
    out = std::move(message);
    return 0;
}

}  // namespace

struct SdBusManager::State : std::enable_shared_from_this<State> {
    // A SetUnitProperties call waiting for its reply.
    struct Call {
        State* state;
        std::uint64_t id;
        Done done;
        sdbus::Slot slot;
    };

    boost::asio::any_io_executor loop;
    LogLine log;
    BackoffPolicy reconnect_policy;
    Watcher watcher;

    // One connection; `generation` tells a handler of an older one to do nothing.
    sdbus::Bus bus;
    std::uint64_t generation = 0;
    std::optional<boost::asio::posix::stream_descriptor> descriptor;  // the bus's fd, released, never closed
    boost::asio::steady_timer bus_timer;
    bool reading = false;
    bool writing = false;
    bool kick_posted = false;
    sdbus::Slot job_removed;
    sdbus::Slot unit_new;
    sdbus::Slot owner_changed;
    sdbus::Slot subscribe_call;
    std::map<std::uint64_t, std::unique_ptr<Call>> calls;
    std::uint64_t next_call = 0;

    // Connecting: wanted once a call was asked for, retried until it works.
    bool wanted = false;
    boost::asio::steady_timer reconnect_timer;
    bool reconnect_pending = false;
    std::optional<Backoff> backoff;
    std::string last_failure;  // why the last attempt failed, for the next call's error
    unsigned failed_attempts = 0;
    bool systemd_missing_logged = false;

    State(boost::asio::any_io_executor executor, LogLine log_line, BackoffPolicy policy)
        : loop(std::move(executor))
        , log(std::move(log_line))
        , reconnect_policy(policy)
        , bus_timer(loop)
        , reconnect_timer(loop) {}

    ~State() { teardown(); }

    template <typename F>
    void post(F&& f) {
        boost::asio::post(loop, [weak = weak_from_this(), f = std::forward<F>(f)]() mutable {
            if (weak.lock()) {
                f();
            }
        });
    }

    void ensure_connecting() {
        wanted = true;
        if (!bus && !reconnect_pending) {
            connect();
        }
    }

    void connect() {
        sd_bus* raw = nullptr;
        const int r = sd_bus_open_system(&raw);
        if (r < 0) {
            failed("cannot connect to the system bus: " + errno_text(r));
            return;
        }
        bus.reset(raw);
        ++generation;
        const char* address = nullptr;
        sd_bus_get_address(raw, &address);
        log(std::string("connected to the system bus") + (address != nullptr ? std::string(" ") + address : "") +
            (failed_attempts != 0 ? " after " + std::to_string(failed_attempts) + " failed attempt(s)" : ""));
        failed_attempts = 0;
        backoff.reset();
        last_failure.clear();
        systemd_missing_logged = false;

        sd_bus_slot* slot = nullptr;
        int m = sd_bus_match_signal_async(raw, &slot, nullptr, manager_path, manager_interface, "JobRemoved",
                                          &State::on_job_removed, nullptr, this);
        job_removed.reset(m >= 0 ? slot : nullptr);
        if (m >= 0) {
            m = sd_bus_match_signal_async(raw, &slot, nullptr, manager_path, manager_interface, "UnitNew",
                                          &State::on_unit_new, nullptr, this);
            unit_new.reset(m >= 0 ? slot : nullptr);
        }
        if (m >= 0) {
            m = sd_bus_add_match_async(raw, &slot, owner_changed_rule, &State::on_owner_changed, nullptr, this);
            owner_changed.reset(m >= 0 ? slot : nullptr);
        }
        if (m < 0) {
            lost("cannot add the signal matches: " + errno_text(m));
            return;
        }
        const int fd = sd_bus_get_fd(raw);
        if (fd < 0) {
            lost("no fd: " + errno_text(fd));
            return;
        }
        descriptor.emplace(loop, fd);
        subscribe();
        drive();
    }

    // An attempt failed: log the first failure (and a changed reason), retry later.
    void failed(const std::string& why) {
        const auto now = Backoff::Clock::now();
        if (!backoff) {
            backoff.emplace(reconnect_policy, now);
        }
        ++failed_attempts;
        const auto at = backoff->next_unbounded(now);
        if (why != last_failure) {
            log(log::warning(why + "; retrying, at most every " +
                             std::to_string(std::max(reconnect_policy.max, reconnect_policy.first).count()) + " ms"));
        }
        last_failure = why;
        reconnect_pending = true;
        reconnect_timer.expires_at(at);
        reconnect_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
            const auto self = weak.lock();
            if (!self || error) {
                return;
            }
            self->reconnect_pending = false;
            self->connect();
        });
    }

    // The connection broke (or could not be set up): drop it, fail its calls, reconnect.
    void lost(const std::string& why) {
        teardown();
        log(log::warning("lost the system bus: " + why + "; reconnecting"));
        last_failure = why;  // logged just now
        failed(why);
        failed_attempts = 0;  // the loss was no attempt to connect
    }

    void teardown() {
        ++generation;
        bus_timer.cancel();
        if (descriptor) {
            descriptor->cancel();
            descriptor->release();  // the bus owns the fd
            descriptor.reset();
        }
        reading = writing = false;
        auto pending = std::move(calls);
        calls.clear();
        job_removed.reset();
        unit_new.reset();
        owner_changed.reset();
        subscribe_call.reset();
        for (auto& [id, call] : pending) {
            call->slot.reset();
            post([done = std::move(call->done)] {
                done(BusError{no_bus_error, "the connection to the system bus was lost"});
            });
        }
        // Closed without a flush: a flush waits for the peer.
        if (bus) {
            sd_bus_close_unref(bus.release());
        }
    }

    // Runs sd-bus until it has nothing to do, then waits for what it asks.
    void drive() {
        if (!bus) {
            return;
        }
        for (;;) {
            const int r = sd_bus_process(bus.get(), nullptr);
            if (r < 0) {
                lost(errno_text(r));
                return;
            }
            if (r == 0) {
                break;
            }
        }
        arm();
    }

    void kick() {
        if (kick_posted) {
            return;
        }
        kick_posted = true;
        post([this, generation = generation] {
            kick_posted = false;
            if (generation == this->generation) {
                drive();
            }
        });
    }

    void arm() {
        const int events = sd_bus_get_events(bus.get());
        if (events < 0) {
            lost(errno_text(events));
            return;
        }
        const auto wait = [this](bool& armed, boost::asio::posix::stream_descriptor::wait_type type) {
            if (armed) {
                return;
            }
            armed = true;
            descriptor->async_wait(type, [weak = weak_from_this(), generation = generation, &armed](
                                             const boost::system::error_code& error) {
                const auto self = weak.lock();
                if (!self || generation != self->generation) {
                    return;
                }
                armed = false;
                if (!error) {
                    self->drive();
                }
            });
        };
        if ((events & POLLIN) != 0) {
            wait(reading, boost::asio::posix::stream_descriptor::wait_read);
        }
        if ((events & POLLOUT) != 0) {
            wait(writing, boost::asio::posix::stream_descriptor::wait_write);
        }
        std::uint64_t usec = 0;
        if (sd_bus_get_timeout(bus.get(), &usec) >= 0 && usec != UINT64_MAX) {
            // CLOCK_MONOTONIC, as steady_clock.
            bus_timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(usec)));
            bus_timer.async_wait([weak = weak_from_this(), generation = generation](const boost::system::error_code& error) {
                const auto self = weak.lock();
                if (self && !error && generation == self->generation) {
                    self->drive();
                }
            });
        } else {
            bus_timer.cancel();
        }
    }

    void subscribe() {
        sd_bus_slot* slot = nullptr;
        const int r = sd_bus_call_method_async(bus.get(), &slot, systemd_name, manager_path, manager_interface,
                                               "Subscribe", &State::on_subscribed, this, "");
        if (r < 0) {
            log(log::warning("cannot call Subscribe on systemd's manager: " + errno_text(r)));
            return;
        }
        subscribe_call.reset(slot);
        kick();
    }

    void set_allowed(const std::string& unit, const UnitAllowed& allowed, Done done) {
        ensure_connecting();
        if (!bus) {
            post([done = std::move(done), why = last_failure] {
                done(BusError{no_bus_error, why.empty() ? "not connected to the system bus" : why});
            });
            return;
        }
        sdbus::Message message;
        int r = build_set_allowed(bus.get(), unit, allowed, message);
        auto call = std::make_unique<Call>(Call{this, next_call++, std::move(done), nullptr});
        sd_bus_slot* slot = nullptr;
        if (r >= 0) {
            r = sd_bus_call_async(bus.get(), &slot, message.get(), &State::on_reply, call.get(), 0);
        }
        if (r < 0) {
            post([done = std::move(call->done), why = errno_text(r)] {
                done(BusError{no_bus_error, "cannot send SetUnitProperties: " + why});
            });
            return;
        }
        call->slot.reset(slot);
        calls.emplace(call->id, std::move(call));
        kick();
    }

    // --- sd-bus callbacks: they only change state here and post the rest ---------

    static int on_reply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
        auto* call = static_cast<Call*>(userdata);
        State& self = *call->state;
        std::optional<BusError> error;
        if (const sd_bus_error* e = sd_bus_message_get_error(reply)) {
            error = to_bus_error(e);
        }
        self.post([done = std::move(call->done), error = std::move(error)] { done(error); });
        self.calls.erase(call->id);  // sd-bus holds the slot until the callback returns
        return 0;
    }

    static int on_subscribed(sd_bus_message* reply, void* userdata, sd_bus_error*) {
        auto& self = *static_cast<State*>(userdata);
        if (const sd_bus_error* e = sd_bus_message_get_error(reply)) {
            const bool missing = sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
            if (!missing || !self.systemd_missing_logged) {
                self.log(log::warning(std::string("cannot subscribe to systemd's manager: ") + to_bus_error(e).name +
                                      ": " + to_bus_error(e).message +
                                      (missing ? "; waiting for it to appear on the bus" : "")));
            }
            self.systemd_missing_logged = self.systemd_missing_logged || missing;
            return 0;
        }
        self.log("subscribed to systemd's manager: unit starts and restarts re-apply");
        self.systemd_missing_logged = false;
        self.post([&self] {
            if (self.watcher.available) {
                self.watcher.available();
            }
        });
        return 0;
    }

    void changed(const char* unit) {
        if (unit == nullptr) {
            return;
        }
        post([this, name = std::string(unit)] {
            if (watcher.unit_changed) {
                watcher.unit_changed(name);
            }
        });
    }

    static int on_job_removed(sd_bus_message* message, void* userdata, sd_bus_error*) {
        std::uint32_t id = 0;
        const char* job = nullptr;
        const char* unit = nullptr;
        const char* result = nullptr;
        if (sd_bus_message_read(message, "uoss", &id, &job, &unit, &result) >= 0 && result != nullptr &&
            std::strcmp(result, "done") == 0) {
            static_cast<State*>(userdata)->changed(unit);
        }
        return 0;
    }

    static int on_unit_new(sd_bus_message* message, void* userdata, sd_bus_error*) {
        const char* unit = nullptr;
        const char* path = nullptr;
        if (sd_bus_message_read(message, "so", &unit, &path) >= 0) {
            static_cast<State*>(userdata)->changed(unit);
        }
        return 0;
    }

    static int on_owner_changed(sd_bus_message* message, void* userdata, sd_bus_error*) {
        auto& self = *static_cast<State*>(userdata);
        const char* name = nullptr;
        const char* old_owner = nullptr;
        const char* new_owner = nullptr;
        if (sd_bus_message_read(message, "sss", &name, &old_owner, &new_owner) < 0 || new_owner == nullptr) {
            return 0;
        }
        if (*new_owner == '\0') {
            self.log("systemd's manager left the system bus");
            return 0;
        }
        self.log(std::string("systemd's manager is on the system bus (") + new_owner + ")");
        self.subscribe();
        return 0;
    }
};

SdBusManager::SdBusManager(boost::asio::any_io_executor loop, LogLine log, BackoffPolicy reconnect)
    : state_(std::make_shared<State>(std::move(loop), std::move(log), reconnect)) {}

SdBusManager::~SdBusManager() = default;

void SdBusManager::watch(Watcher watcher) { state_->watcher = std::move(watcher); }

void SdBusManager::set_allowed(const std::string& unit, const UnitAllowed& allowed, Done done) {
    state_->set_allowed(unit, allowed, std::move(done));
}

bool SdBusManager::connected() const noexcept { return state_->bus != nullptr; }

}  // namespace hpplace
