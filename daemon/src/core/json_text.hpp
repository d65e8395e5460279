#pragma once

// Pieces of JSON text written straight from typed values, for the documents
// the daemon sends most often (event and plan pushes): the same bytes as
// nlohmann::json's dump() of the document, without building it. Objects are
// written with their members in nlohmann's (std::map) order.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/cpu_set.hpp"

namespace hpplace::json_text {

inline void number(std::string& out, std::uint64_t value) {
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
    out.append(digits, end);
}

// `"key":`, after a comma unless it is the object's first member. The key
// needs no escaping (the callers' keys are fixed identifiers).
inline void key(std::string& out, bool& first, std::string_view name) {
    out += first ? "\"" : ",\"";
    first = false;
    out += name;
    out += "\":";
}

// A string that needs no escaping (names of the contract, CPU lists).
inline void plain_string(std::string& out, std::string_view text) {
    out += '"';
    out += text;
    out += '"';
}

// The CPUs as an array of numbers, ascending ([0,1,3]).
inline void cpu_array(std::string& out, const CpuSet& cpus) {
    out += '[';
    bool first = true;
    cpus.for_each([&](unsigned cpu) {
        if (!std::exchange(first, false)) {
            out += ',';
        }
        number(out, cpu);
    });
    out += ']';
}

}  // namespace hpplace::json_text
