#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "core/cpu_set.hpp"

using hpplace::CpuSet;

TEST_CASE("cpu list round trip") {
    const CpuSet s = CpuSet::parse_list("0-3,8,10-11\n");
    CHECK(s.count() == 7);
    CHECK(s.test(2));
    CHECK_FALSE(s.test(4));
    CHECK(s.to_list() == "0-3,8,10-11");
    CHECK(s.end() == 12);
    CHECK(CpuSet::parse_list("").empty());
    CHECK(CpuSet::parse_list(" \n").to_list().empty());
}

TEST_CASE("cpu list: runs across and at the ends of words, up to the highest CPU") {
    for (const char* list : {"63-64", "0,63-64,127-128,191", "1-62,65", "0-1048575", "1048575", "5,64-1048574"}) {
        CHECK(CpuSet::parse_list(list).to_list() == list);
    }
}

TEST_CASE("cpu list rejects garbage with the bad part named") {
    CHECK_THROWS_AS(CpuSet::parse_list("0-x"), std::invalid_argument);
    CHECK_THROWS_AS(CpuSet::parse_list("3-1"), std::invalid_argument);
    CHECK_THROWS_AS(CpuSet::parse_list("1,,2"), std::invalid_argument);
    CHECK_THROWS_WITH(CpuSet::parse_list("0,abc"), doctest::Contains("\"abc\""));
}

TEST_CASE("set algebra and words") {
    CpuSet a = CpuSet::range(0, 127);
    const CpuSet b = CpuSet::parse_list("64-200");
    CHECK((a & b).to_list() == "64-127");
    CHECK((a - b).to_list() == "0-63");
    CHECK((a | b).count() == 201);
    a.reset(127);
    CHECK(a.end() == 127);
    const std::uint64_t words[] = {0x5, 0x0, 0x0};
    const CpuSet w = CpuSet::from_words(words);
    CHECK(w.to_list() == "0,2");
    CHECK(w.words().size() == 1);
    CHECK(w == CpuSet::parse_list("0,2"));
}

TEST_CASE("cpu list: overlapping, unordered and repeated ranges are merged") {
    CHECK(CpuSet::parse_list("64-130,0-3,64,2-7").to_list() == "0-7,64-130");
    CHECK(CpuSet::parse_list("8-9,0-7").to_list() == "0-9");  // adjacent ranges join
    CHECK(CpuSet::parse_list("63-64,1,1,1").to_list() == "1,63-64");
    CHECK(CpuSet::parse_list("0-1048575").count() == 1048576);
    std::string repeated;
    for (int i = 0; i < 4000; ++i) {
        repeated += "0-1048575,";
    }
    repeated += "5";
    CHECK(CpuSet::parse_list(repeated) == CpuSet::range(0, 1048575));
    for (const auto& [first, last] : {std::pair{0U, 0U}, {63U, 64U}, {1U, 126U}, {64U, 191U}}) {
        const CpuSet set = CpuSet::range(first, last);
        CHECK(set.count() == last - first + 1);
        CHECK(set.test(first));
        CHECK(set.test(last));
        CHECK_FALSE(set.test(last + 1));
        CHECK((first == 0 || !set.test(first - 1)));
    }
    CHECK(CpuSet::range(3, 2).empty());
}
