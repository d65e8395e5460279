#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hpplace {

// Parses a byte size: "4096", "512KiB", "64MiB", "1GiB", "2TiB" (also "64 MiB",
// and "B" for bytes). Binary units only: a "64MB" would be ambiguous and is
// refused. Throws std::invalid_argument naming the text and the accepted units;
// std::out_of_range on overflow.
std::uint64_t parse_size(std::string_view text);

// The shortest exact form: 67108864 -> "64MiB", 1000 -> "1000B".
std::string format_size(std::uint64_t bytes);

// For people: the exact form when it is short, else one decimal of the largest
// unit not above the value, marked approximate: 53687091 -> "~51.2MiB".
std::string format_size_readable(std::uint64_t bytes);

}  // namespace hpplace
