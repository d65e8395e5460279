#include "config/auto_online_policy.hpp"

#include <array>
#include <stdexcept>
#include <string>
#include <utility>

namespace hpplace {

namespace {

constexpr std::array<std::pair<AutoOnlinePolicy, std::string_view>, 4> policy_names = {{
    {AutoOnlinePolicy::off, "off"},
    {AutoOnlinePolicy::online, "online"},
    {AutoOnlinePolicy::online_movable, "online_movable"},
    {AutoOnlinePolicy::online_kernel, "online_kernel"},
}};


}  // namespace

std::string_view to_string(AutoOnlinePolicy policy) noexcept {
    for (const auto& [p, name] : policy_names) {
        if (p == policy) {
            return name;
        }
    }
    return "off";
}

AutoOnlinePolicy parse_auto_online_policy(std::string_view text) {
    for (const auto& [policy, name] : policy_names) {
        if (name == text) {
            return policy;
        }
    }
    throw std::invalid_argument("bad auto_online \"" + std::string(text) +
                                "\" (expected \"off\", \"online\", \"online_movable\" or \"online_kernel\")");
}

}  // namespace hpplace
