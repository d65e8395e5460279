#include <doctest/doctest.h>

#include <string>

#include "core/json_depth.hpp"

using hpplace::json_nesting_depth;

TEST_CASE("json_nesting_depth counts arrays and objects, not brackets in strings") {
    CHECK(json_nesting_depth("") == 0);
    CHECK(json_nesting_depth("1") == 0);
    CHECK(json_nesting_depth("[]") == 1);
    CHECK(json_nesting_depth(R"({"a":[1,{"b":[]}],"c":{}})") == 4);
    CHECK(json_nesting_depth(R"({"a":"[[[[{{{{"})") == 1);
    CHECK(json_nesting_depth(R"(["\"[[[", "\\", [[]]])") == 3);  // escaped quote and backslash
    CHECK(json_nesting_depth("]]]][") == 1);                       // invalid, never below 0
}

TEST_CASE("json_nesting_depth stops one past the limit") {
    const std::string deep(100'000, '[');
    CHECK(json_nesting_depth(deep) == hpplace::max_json_depth + 1);
    CHECK(json_nesting_depth(deep, 3) == 4);
    CHECK(json_nesting_depth(std::string(64, '[') + std::string(64, ']')) == 64);
}
