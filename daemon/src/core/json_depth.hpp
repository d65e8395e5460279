#pragma once

// A bound on how deeply JSON from outside may nest. nlohmann's parser itself
// is iterative, but copying, comparing and dumping a value recurse once per
// level: a 200 KB line of '[' parses fine and then overflows the stack of
// whoever copies it. Every parser of outside JSON checks the text first.

#include <cstddef>
#include <string_view>

namespace hpplace {

// Far above what any document of ours needs (a plan nests 5 levels).
inline constexpr std::size_t max_json_depth = 64;

// The deepest nesting of arrays and objects in `text`, counting no further
// than limit + 1 (so the scan stops early on a hostile line). Exact for valid
// JSON; for invalid text the parser refuses it anyway.
std::size_t json_nesting_depth(std::string_view text, std::size_t limit = max_json_depth) noexcept;

}  // namespace hpplace
