// hpctl kernel-state [--json]: the hpnotify module's state dump, asked directly.
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "kernel/genl_socket.hpp"
#include "kernel/report.hpp"

namespace hpplace::cli {

int run_kernel_state(Args args) {
    bool json = false;
    for (const auto arg : args) {
        if (arg == "--json") {
            json = true;
        } else {
            throw std::invalid_argument("unknown option \"" + std::string(arg) +
                                        "\" (usage: hpctl kernel-state [--json])");
        }
    }
    kernel::KernelClient client;
    const kernel::KernelState state = client.request_state();
    if (json) {
        std::cout << kernel::to_json(state).dump() << std::endl;
    } else {
        std::cout << kernel::to_text(state) << std::flush;
    }
    return 0;
}

}  // namespace hpplace::cli
