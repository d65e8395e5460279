#pragma once

// What the harnesses share. Each defines LLVMFuzzerTestOneInput; libFuzzer
// calls it in the fuzz build, replay_main.cpp in the unit-test build. Inputs
// may make a parser throw its documented error type (caught in the harness);
// anything else escaping, a sanitizer report or a broken FUZZ_CHECK is a
// finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/json_depth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace hpplace::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) noexcept {
    return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void invariant_broken(const char* condition, const char* file, int line) noexcept {
    std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, condition);
    std::abort();
}

}  // namespace hpplace::fuzz

// Not assert(): it must hold in release builds too.
#define FUZZ_CHECK(condition) \
    ((condition) ? void() : ::hpplace::fuzz::invariant_broken(#condition, __FILE__, __LINE__))

namespace hpplace::fuzz {

// JSON text read the way the programs read outside JSON: refused when nested
// too deeply, nullopt when not JSON.
inline std::optional<nlohmann::json> json_of(std::string_view text) {
    if (json_nesting_depth(text) > max_json_depth) {
        return std::nullopt;
    }
    nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
        return std::nullopt;
    }
    return json;
}

// For readers of whole JSON documents: what read() accepts must come back
// unchanged through to_json(). nullopt when the input is no JSON or read()
// threw Error, its documented refusal.
template <typename Error, typename Read>
auto read_round_trip(const std::uint8_t* data, std::size_t size, Read&& read)
    -> std::optional<decltype(read(std::declval<const nlohmann::json&>()))> {
    const auto json = json_of(text_of(data, size));
    if (!json) {
        return std::nullopt;
    }
    try {
        auto value = read(*json);
        FUZZ_CHECK(read(to_json(value)) == value);
        return value;
    } catch (const Error&) {
        return std::nullopt;
    }
}

// Calls f(line) for each '\n'-separated piece of text, the last one too.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
    while (true) {
        const auto newline = text.find('\n');
        f(text.substr(0, newline));
        if (newline == std::string_view::npos) {
            return;
        }
        text.remove_prefix(newline + 1);
    }
}

}  // namespace hpplace::fuzz
