#pragma once

#include <string>

#include "core/event.hpp"
#include "core/stream_counters.hpp"

namespace hpplace {

// What an event source reports to its owner (the daemon). Called on the
// io_context thread, from the source's own completion handlers.
class SourceListener {
public:
    virtual ~SourceListener() = default;
    // One hotplug event, already parsed.
    virtual void on_event(const Event& event) = 0;
    // The source's verdict that events were, or may have been, lost (receive
    // buffer overrun, sequence gap): the owner must resync from sysfs. The
    // source has counted them (HotplugSource::counters()) and keeps running.
    virtual void on_loss(const std::string& reason) = 0;
    // The source stopped for good (the netlink family went away, the socket
    // failed). The owner switches to another source.
    virtual void on_gone(const std::string& reason) = 0;
};

// One OS event source driven by the io_context it was made with, in the shape
// of Asio's type-erasure line_reader: a small abstract interface; the OS-bound
// implementation owns its descriptor; tests inject fakes.
class HotplugSource {
public:
    virtual ~HotplugSource() = default;
    // Which source the events carry ("kernel", "udev").
    virtual EventSource kind() const noexcept = 0;
    // Starts delivering to listener, which must outlive the source or stop().
    virtual void start(SourceListener& listener) = 0;
    // Cancels outstanding I/O; no listener call after it returns.
    virtual void stop() noexcept = 0;
    // What it received and lost so far: the source alone counts them.
    virtual StreamCounters counters() const noexcept = 0;
    // While another source reports the rest (the hpnotify family), only memory
    // block arrivals and removals are wanted from this one: it may drop the
    // others before doing any work for them. Ignored by default.
    virtual void set_memory_blocks_only(bool /*only*/) noexcept {}
};

// Reports the (re)appearance and disappearance of the hpnotify netlink family
// (module loaded / unloaded), e.g. from nlctrl's "notify" group.
class FamilyWatcherListener {
public:
    virtual ~FamilyWatcherListener() = default;
    virtual void on_family_appeared() = 0;
    virtual void on_family_vanished() = 0;
};

class FamilyWatcher {
public:
    virtual ~FamilyWatcher() = default;
    virtual void start(FamilyWatcherListener& listener) = 0;
    virtual void stop() noexcept = 0;
};

}  // namespace hpplace
