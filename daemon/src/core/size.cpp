#include "core/size.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <utility>

namespace hpplace {

namespace {

constexpr std::array<std::pair<std::string_view, std::uint64_t>, 5> units{{
    {"B", 1},
    {"KiB", std::uint64_t{1} << 10},
    {"MiB", std::uint64_t{1} << 20},
    {"GiB", std::uint64_t{1} << 30},
    {"TiB", std::uint64_t{1} << 40},
}};

std::invalid_argument bad_size(std::string_view text) {
    return std::invalid_argument("bad size \"" + std::string(text) +
                                 "\": expected an integer with an optional unit B, KiB, MiB, GiB or TiB");
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    std::uint64_t number = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, number);
    if (ec == std::errc::result_out_of_range) {
        throw std::out_of_range("size \"" + std::string(text) + "\" is too large");
    }
    if (ec != std::errc{} || ptr == begin) {
        throw bad_size(text);
    }
    std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    while (!unit.empty() && unit.front() == ' ') {
        unit.remove_prefix(1);
    }
    if (unit.empty()) {
        return number;
    }
    for (const auto& [name, factor] : units) {
        if (unit == name) {
            if (number > std::numeric_limits<std::uint64_t>::max() / factor) {
                throw std::out_of_range("size \"" + std::string(text) + "\" is too large");
            }
            return number * factor;
        }
    }
    throw bad_size(text);
}

std::string format_size(std::uint64_t bytes) {
    for (auto it = units.rbegin(); it != units.rend(); ++it) {
        const auto& [name, factor] = *it;
        if (bytes != 0 && bytes % factor == 0) {
            return std::to_string(bytes / factor) + std::string(name);
        }
    }
    return std::to_string(bytes) + "B";
}

std::string format_size_readable(std::uint64_t bytes) {
    std::string exact = format_size(bytes);
    if (bytes < 1024 || exact.back() != 'B' || exact.size() < 2 || exact[exact.size() - 2] == 'i') {
        return exact;  // below 1 KiB, or a whole number of some binary unit
    }
    auto unit = units.begin();
    while (std::next(unit) != units.end() && bytes >= std::next(unit)->second) {
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "~%.1f%s", static_cast<double>(bytes) / static_cast<double>(unit->second),
                  std::string(unit->first).c_str());
    return text;
}

}  // namespace hpplace
