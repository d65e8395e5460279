#pragma once

// Small readers of what sysfs names and prints, shared by the topology reader
// (topology/sysfs_reader.cpp), the udev source (sources/uevent.cpp) and the
// auto-online policy (service/auto_online.cpp).

#include <cstdint>
#include <optional>
#include <string_view>

namespace hpplace {

// The number at the end of a sysfs name ("cpu12" -> 12, "memory7" -> 7,
// "node1" -> 1) when the name is prefix followed by digits only.
std::optional<unsigned> sysname_number(std::string_view sysname, std::string_view prefix) noexcept;

// block_size_bytes as sysfs prints it: non-zero hex without 0x ("8000000\n"),
// whitespace around it ignored. Throws std::invalid_argument on anything else.
std::uint64_t parse_memory_block_size(std::string_view text);

}  // namespace hpplace
