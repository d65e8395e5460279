// hpctl kernel-state [--json] and hpctl kernel-stats [--json]: the hpnotify
// module's state dump and its emission counters, asked directly (no daemon).
#include <iostream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "kernel/genl_socket.hpp"
#include "kernel/report.hpp"

namespace hpplace::cli {
namespace {

// Parses [--json], asks the module with `request` and prints its reply.
template <typename Request>
int print_kernel_reply(Args args, std::string_view command, Request request) {
    bool json = false;
    for (const auto arg : args) {
        if (arg != "--json") {
            throw UsageError("unknown option \"" + std::string(arg) + "\" (usage: hpctl " +
                                        std::string(command) + " [--json])");
        }
        json = true;
    }
    kernel::KernelClient client;
    const auto reply = request(client);
    if (json) {
        std::cout << kernel::to_json(reply).dump() << std::endl;
    } else {
        std::cout << kernel::to_text(reply) << std::flush;
    }
    return 0;
}

}  // namespace

int run_kernel_state(Args args) {
    return print_kernel_reply(args, "kernel-state", [](kernel::KernelClient& client) { return client.request_state(); });
}

int run_kernel_stats(Args args) {
    return print_kernel_reply(args, "kernel-stats", [](kernel::KernelClient& client) { return client.request_stats(); });
}

}  // namespace hpplace::cli
