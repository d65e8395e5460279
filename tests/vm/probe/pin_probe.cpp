// hpvm-pin-probe: checks the promise of cpu_online in the VM. It listens to the hpnotify events group
// and, the moment a cpu_online for CPU N arrives, pins itself to N alone (sched_setaffinity, as a
// client pinning a worker would), then goes back to every CPU. One line per cpu_online on stdout:
//
//   seq=<seq> cpu=<N> pin=ok
//   seq=<seq> cpu=<N> pin=<errno name> online=<0|1>    (online: cpuN/online when the pin failed)
//
// Other events are ignored; a receive overrun is a line "overrun" (the probe goes on). Runs until it
// is killed (SIGTERM's default action: there is nothing to clean up).
#include <sched.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "hpnotify.h"

#include "core/event.hpp"
#include "kernel/genl_socket.hpp"
#include "kernel/protocol.hpp"

namespace {

std::string online_file(unsigned cpu) {
    std::ifstream file("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/online");
    std::string value;
    return std::getline(file, value) ? value : "?";
}

}  // namespace

int main() {
    using namespace hpplace;
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof(all), &all) != 0) {
        std::perror("hpvm-pin-probe: sched_getaffinity");
        return 1;
    }
    try {
        kernel::GenlSocket socket;
        const auto family = socket.resolve_family(HPNOTIFY_FAMILY_NAME);
        const auto group = family.group(HPNOTIFY_MCGRP_EVENTS);
        if (!group) {
            std::fprintf(stderr, "hpvm-pin-probe: family has no events group\n");
            return 1;
        }
        socket.join_group(*group, "events");
        std::fprintf(stderr, "hpvm-pin-probe: listening\n");
        for (;;) {
            kernel::Bytes datagram;
            try {
                datagram = socket.receive();
            } catch (const kernel::ReceiveOverrun&) {
                std::printf("overrun\n");
                std::fflush(stdout);
                continue;
            }
            for (const auto& message : kernel::split_messages(datagram)) {
                if (message.type != family.id) {
                    continue;
                }
                const Event event = kernel::parse_event(message.bytes);
                if (event.type != EventType::cpu_online || !event.cpu) {
                    continue;
                }
                const unsigned cpu = *event.cpu;
                cpu_set_t one;
                CPU_ZERO(&one);
                CPU_SET(cpu, &one);
                if (sched_setaffinity(0, sizeof(one), &one) == 0) {
                    std::printf("seq=%llu cpu=%u pin=ok\n", static_cast<unsigned long long>(event.seq), cpu);
                    sched_setaffinity(0, sizeof(all), &all);
                } else {
                    const int error = errno;
                    std::printf("seq=%llu cpu=%u pin=%s online=%s\n", static_cast<unsigned long long>(event.seq),
                                cpu, strerrorname_np(error), online_file(cpu).c_str());
                }
                std::fflush(stdout);
            }
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "hpvm-pin-probe: %s\n", error.what());
        return 1;
    }
}
