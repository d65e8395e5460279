#pragma once

// Reading a JSON integer as an unsigned number, the same way in every parser
// (plans, topologies, status documents, client messages).
//
// nlohmann::json holds an integer either as unsigned (what its parser makes
// of 7) or as signed (what it makes of -7, what json(7) built from an int
// holds, and what other tools' writers may produce). A non-negative signed
// integer is as good as an unsigned one; a negative one is an error that says
// so.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace hpplace {

// The value when `value` is a non-negative integer, else std::nullopt (a
// negative number, a fraction, a string ...).
inline std::optional<std::uint64_t> non_negative_integer(const nlohmann::json& value) noexcept {
    if (value.is_number_unsigned()) {
        return value.get<std::uint64_t>();
    }
    if (value.is_number_integer()) {
        const auto number = value.get<std::int64_t>();
        if (number >= 0) {
            return static_cast<std::uint64_t>(number);
        }
    }
    return std::nullopt;
}

// What a value that is not a non-negative integer is, for error messages:
// "a negative number (-1)", "a fractional number (1.5)", "a string", "an object".
inline std::string json_kind(const nlohmann::json& value) {
    if (value.is_number_integer() && !value.is_number_unsigned() && value.get<std::int64_t>() < 0) {
        return "a negative number (" + value.dump() + ")";
    }
    if (value.is_number_float()) {
        return "a fractional number (" + value.dump() + ")";
    }
    if (value.is_number()) {
        return "a number (" + value.dump() + ")";
    }
    return std::string(value.is_array() || value.is_object() ? "an " : "a ") + value.type_name();
}

}  // namespace hpplace
