#pragma once

// The auto_online policy of the config file (docs/contract.md): what the daemon does with CPUs
// and memory blocks that arrive offline (service/auto_online.hpp acts on it).
//   off (default)   nothing
//   online          write "1" to cpuN/online; "online" to memoryN/state
//   online_movable  CPUs as above; memory blocks get "online_movable"
//   online_kernel   CPUs as above; memory blocks get "online_kernel"

#include <cstdint>
#include <string_view>

namespace hpplace {

enum class AutoOnlinePolicy : std::uint8_t { off, online, online_movable, online_kernel };

std::string_view to_string(AutoOnlinePolicy policy) noexcept;
// "off" | "online" | "online_movable" | "online_kernel"; throws
// std::invalid_argument listing the valid values otherwise.
AutoOnlinePolicy parse_auto_online_policy(std::string_view text);

}  // namespace hpplace
