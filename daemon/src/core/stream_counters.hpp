#pragma once

#include <cstdint>

namespace hpplace {

// What the reader of one event stream knows of that stream. Each reader owns
// its own (the hpnotify decoder, the udev source) and is the only one to count;
// everyone else reads a copy when it reports (status, metrics).
struct StreamCounters {
    std::uint64_t received = 0;  // events delivered
    std::uint64_t last_seq = 0;  // sequence number of the last event (hpnotify; udev has none)
    // Events known lost: each sequence gap counts its events exactly; an
    // overrun or a malformed message counts one at once, which the gap that
    // follows it includes.
    std::uint64_t lost = 0;
    std::uint64_t overruns = 0;  // ENOBUFS: the kernel dropped messages for the socket

    friend bool operator==(const StreamCounters&, const StreamCounters&) = default;
};

}  // namespace hpplace
