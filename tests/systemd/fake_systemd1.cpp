// hpplace-fake-systemd1: a stand-in for systemd's manager on a private D-Bus
// system bus, for the tests of unit workloads (no systemd runs as PID 1 in the
// test container, nor in the VM guest). It implements only what hpplaced uses:
//
//   org.freedesktop.systemd1 at /org/freedesktop/systemd1, interface
//   org.freedesktop.systemd1.Manager:
//     Subscribe(), Unsubscribe()
//     SetUnitProperties(s name, b runtime, a(sv) properties): AllowedCPUs and
//       AllowedMemoryNodes ("ay") are accepted for a unit it has; another
//       property is InvalidArgs, another type InvalidArgs, an unknown unit
//       org.freedesktop.systemd1.NoSuchUnit, as systemd answers them
//     signals UnitNew(s, o), JobNew(u, o, s), JobRemoved(u, o, s, s), sent only
//       while a client is subscribed, as systemd does
//
// Driven by lines on stdin:
//   add UNIT       the unit now exists (loaded): UnitNew
//   restart UNIT   a restart job ran: JobNew, then JobRemoved(..., "done")
//   quit
// and reports every call and signal as one JSON line on stdout, the bitmasks
// as the bytes received (decoding them is the test's job):
//   {"ready":":1.2"}
//   {"call":"Subscribe","subscribers":1}
//   {"call":"SetUnitProperties","unit":"u","runtime":true,
//    "properties":{"AllowedCPUs":[7],"AllowedMemoryNodes":[3]},"error":""}
//   {"signal":"JobRemoved","unit":"u","result":"done"}
//
// usage: hpplace-fake-systemd1 [--unit NAME]...   (bus: $DBUS_SYSTEM_BUS_ADDRESS)

#include <poll.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr const char* manager_path = "/org/freedesktop/systemd1";
constexpr const char* manager_interface = "org.freedesktop.systemd1.Manager";

std::set<std::string> units;
unsigned subscribers = 0;
std::uint32_t next_job = 1;
sd_bus* bus = nullptr;

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buffer[8];
            std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
            out += buffer;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

void emit(const std::string& line) {
    std::cout << line << std::endl;
}

std::string unit_path(const std::string& unit) {
    // systemd escapes the name; any valid object path does here.
    std::string path = "/org/freedesktop/systemd1/unit/";
    for (const char c : unit) {
        path += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    return path;
}

int on_subscribe(sd_bus_message* call, void*, sd_bus_error*) {
    ++subscribers;
    emit("{\"call\":\"Subscribe\",\"subscribers\":" + std::to_string(subscribers) + "}");
    return sd_bus_reply_method_return(call, "");
}

int on_unsubscribe(sd_bus_message* call, void*, sd_bus_error*) {
    subscribers = subscribers > 0 ? subscribers - 1 : 0;
    emit("{\"call\":\"Unsubscribe\",\"subscribers\":" + std::to_string(subscribers) + "}");
    return sd_bus_reply_method_return(call, "");
}

int on_set_unit_properties(sd_bus_message* call, void*, sd_bus_error* error) {
    const char* name = nullptr;
    int runtime = 0;
    int r = sd_bus_message_read(call, "sb", &name, &runtime);
    if (r < 0) {
        return r;
    }
    std::ostringstream properties;
    std::string failure;
    r = sd_bus_message_enter_container(call, 'a', "(sv)");
    if (r < 0) {
        return r;
    }
    bool first = true;
    while ((r = sd_bus_message_enter_container(call, 'r', "sv")) > 0) {
        const char* property = nullptr;
        r = sd_bus_message_read(call, "s", &property);
        if (r < 0) {
            return r;
        }
        const std::string key = property;
        if (key != "AllowedCPUs" && key != "AllowedMemoryNodes") {
            failure = "Cannot set property " + key + ", or unknown property.";
            sd_bus_message_skip(call, "v");
        } else if (sd_bus_message_enter_container(call, 'v', "ay") <= 0) {
            failure = "Invalid type for " + key;
            sd_bus_message_skip(call, "v");
        } else {
            const void* data = nullptr;
            std::size_t size = 0;
            r = sd_bus_message_read_array(call, 'y', &data, &size);
            if (r < 0) {
                return r;
            }
            properties << (first ? "" : ",") << json_string(key) << ":[";
            for (std::size_t i = 0; i < size; ++i) {
                properties << (i ? "," : "") << unsigned(static_cast<const std::uint8_t*>(data)[i]);
            }
            properties << "]";
            first = false;
            sd_bus_message_exit_container(call);
        }
        sd_bus_message_exit_container(call);
    }
    if (r < 0) {
        return r;
    }
    sd_bus_message_exit_container(call);
    std::string error_name;
    if (!failure.empty()) {
        error_name = SD_BUS_ERROR_INVALID_ARGS;
    } else if (units.count(name) == 0) {
        error_name = "org.freedesktop.systemd1.NoSuchUnit";
        failure = "Unit " + std::string(name) + " not found.";
    }
    emit("{\"call\":\"SetUnitProperties\",\"unit\":" + json_string(name) + ",\"runtime\":" +
         (runtime ? "true" : "false") + ",\"properties\":{" + properties.str() + "},\"error\":" +
         json_string(error_name) + "}");
    if (!error_name.empty()) {
        return sd_bus_error_set(error, error_name.c_str(), failure.c_str());
    }
    return sd_bus_reply_method_return(call, "");
}

const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Subscribe", "", "", on_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Unsubscribe", "", "", on_unsubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("SetUnitProperties", "sba(sv)", "", on_set_unit_properties, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("UnitNew", "so", 0),
    SD_BUS_SIGNAL("JobNew", "uos", 0),
    SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
    SD_BUS_VTABLE_END,
};

void signal_if_subscribed(const std::string& report, const char* member, const char* types, ...) {
    if (subscribers == 0) {
        emit("{\"unsent\":" + json_string(member) + "," + report + "}");
        return;
    }
    sd_bus_message* message = nullptr;
    int r = sd_bus_message_new_signal(bus, &message, manager_path, manager_interface, member);
    if (r >= 0) {
        va_list args;
        va_start(args, types);
        r = sd_bus_message_appendv(message, types, args);
        va_end(args);
    }
    if (r >= 0) {
        r = sd_bus_send(bus, message, nullptr);
    }
    sd_bus_message_unref(message);
    emit("{\"signal\":" + json_string(member) + "," + report + (r < 0 ? ",\"failed\":true" : "") + "}");
}

// One line of stdin; false to quit.
bool command(const std::string& line) {
    std::istringstream in(line);
    std::string verb;
    std::string unit;
    in >> verb >> unit;
    if (verb == "quit") {
        return false;
    }
    if (verb == "add" && !unit.empty()) {
        units.insert(unit);
        signal_if_subscribed("\"unit\":" + json_string(unit), "UnitNew", "so", unit.c_str(), unit_path(unit).c_str());
    } else if (verb == "restart" && !unit.empty()) {
        const std::uint32_t id = next_job++;
        const std::string job = "/org/freedesktop/systemd1/job/" + std::to_string(id);
        signal_if_subscribed("\"unit\":" + json_string(unit), "JobNew", "uos", id, job.c_str(), unit.c_str());
        signal_if_subscribed("\"unit\":" + json_string(unit) + ",\"result\":\"done\"", "JobRemoved", "uoss", id,
                             job.c_str(), unit.c_str(), "done");
    } else {
        emit("{\"bad_command\":" + json_string(line) + "}");
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--unit") == 0 && i + 1 < argc) {
            units.insert(argv[++i]);
        } else {
            std::cerr << "usage: hpplace-fake-systemd1 [--unit NAME]...\n";
            return 2;
        }
    }
    int r = sd_bus_open_system(&bus);
    if (r < 0) {
        std::cerr << "hpplace-fake-systemd1: cannot connect to the system bus: " << std::strerror(-r) << '\n';
        return 1;
    }
    r = sd_bus_add_object_vtable(bus, nullptr, manager_path, manager_interface, manager_vtable, nullptr);
    if (r >= 0) {
        r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
    }
    if (r < 0) {
        std::cerr << "hpplace-fake-systemd1: cannot serve org.freedesktop.systemd1: " << std::strerror(-r) << '\n';
        return 1;
    }
    const char* unique = nullptr;
    sd_bus_get_unique_name(bus, &unique);
    emit("{\"ready\":" + json_string(unique != nullptr ? unique : "") + "}");

    std::string input;
    for (;;) {
        while ((r = sd_bus_process(bus, nullptr)) > 0) {
        }
        if (r < 0) {
            std::cerr << "hpplace-fake-systemd1: bus: " << std::strerror(-r) << '\n';
            return 1;
        }
        std::uint64_t usec = 0;
        sd_bus_get_timeout(bus, &usec);
        int timeout = -1;
        if (usec != UINT64_MAX) {
            timeout = 10;  // sd-bus wants a look soon; a poll of 10 ms is enough here
        }
        pollfd fds[2] = {{sd_bus_get_fd(bus), static_cast<short>(sd_bus_get_events(bus)), 0}, {0, POLLIN, 0}};
        if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
            return 1;
        }
        if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) {
            char buffer[4096];
            const ssize_t n = read(0, buffer, sizeof(buffer));
            if (n <= 0) {
                return 0;  // stdin closed: done
            }
            input.append(buffer, static_cast<std::size_t>(n));
            for (std::size_t end; (end = input.find('\n')) != std::string::npos;) {
                const std::string line = input.substr(0, end);
                input.erase(0, end + 1);
                if (!command(line)) {
                    sd_bus_flush(bus);
                    sd_bus_flush_close_unref(bus);
                    return 0;
                }
                sd_bus_flush(bus);
            }
        }
    }
}
