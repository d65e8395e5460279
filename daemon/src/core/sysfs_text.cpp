#include "core/sysfs_text.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

namespace hpplace {

std::optional<unsigned> sysname_number(std::string_view sysname, std::string_view prefix) noexcept {
    if (!sysname.starts_with(prefix) || sysname.size() == prefix.size()) {
        return std::nullopt;
    }
    const std::string_view digits = sysname.substr(prefix.size());
    unsigned value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc{} || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return value;
}

std::uint64_t parse_memory_block_size(std::string_view text) {
    constexpr std::string_view space = " \t\n";
    const auto first = text.find_first_not_of(space);
    text = first == std::string_view::npos ? std::string_view{}
                                           : text.substr(first, text.find_last_not_of(space) - first + 1);
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value == 0) {
        throw std::invalid_argument("bad memory block size \"" + std::string(text) + "\" (expected non-zero hex bytes)");
    }
    return value;
}

}  // namespace hpplace
