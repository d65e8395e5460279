// hpctl kernel-stats [--json]: the hpnotify module's emission counters, asked directly.
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "kernel/genl_socket.hpp"
#include "kernel/report.hpp"

namespace hpplace::cli {

int run_kernel_stats(Args args) {
    bool json = false;
    for (const auto arg : args) {
        if (arg == "--json") {
            json = true;
        } else {
            throw std::invalid_argument("unknown option \"" + std::string(arg) +
                                        "\" (usage: hpctl kernel-stats [--json])");
        }
    }
    kernel::KernelClient client;
    const kernel::KernelStats stats = client.request_stats();
    if (json) {
        std::cout << kernel::to_json(stats).dump() << std::endl;
    } else {
        std::cout << kernel::to_text(stats) << std::flush;
    }
    return 0;
}

}  // namespace hpplace::cli
