#pragma once

// Owning handles for sd-bus objects: each releases its reference on
// destruction (the bus is flushed and closed first).

#include <systemd/sd-bus.h>

#include <memory>

namespace hpplace::sdbus {

struct BusUnref {
    void operator()(sd_bus* bus) const noexcept { sd_bus_flush_close_unref(bus); }
};
struct SlotUnref {
    void operator()(sd_bus_slot* slot) const noexcept { sd_bus_slot_unref(slot); }
};
struct MessageUnref {
    void operator()(sd_bus_message* message) const noexcept { sd_bus_message_unref(message); }
};

using Bus = std::unique_ptr<sd_bus, BusUnref>;
using Slot = std::unique_ptr<sd_bus_slot, SlotUnref>;
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// An sd_bus_error freed on scope exit.
class Error {
public:
    Error() = default;
    ~Error() { sd_bus_error_free(&error_); }
    Error(const Error&) = delete;
    Error& operator=(const Error&) = delete;

    sd_bus_error* get() noexcept { return &error_; }

private:
    // SD_BUS_ERROR_NULL is all zeros; its compound literal is not C++ (clang -Wpedantic refuses it).
    sd_bus_error error_{};
};

}  // namespace hpplace::sdbus
