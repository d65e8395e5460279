// The bounded retry schedule of the worker pool's pins and the cgroup writes.
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "core/backoff.hpp"

using namespace hpplace;
using namespace std::chrono_literals;

TEST_CASE("backoff: 5 ms doubling to 500 ms, the last retry at the end of 3 s, then give up") {
    const auto start = Backoff::Clock::time_point{} + 1h;
    Backoff backoff(BackoffPolicy{}, start);
    std::vector<std::chrono::milliseconds> delays;
    auto now = start;
    while (const auto next = backoff.next(now)) {
        delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now));
        now = *next;  // each retry fails at once
    }
    // 5+10+...+320 = 635 ms, then 500 ms steps, the last one cut at 3000 ms.
    const std::vector<std::chrono::milliseconds> expected{5ms,   10ms,  20ms,  40ms,  80ms,  160ms, 320ms,
                                                          500ms, 500ms, 500ms, 500ms, 365ms};
    CHECK(delays == expected);
    CHECK(now == start + 3s);
    CHECK(backoff.retries() == expected.size());
    CHECK_FALSE(backoff.next(now + 1h).has_value());
}

TEST_CASE("backoff: no budget means no retry; a slow failure still ends at the budget") {
    Backoff none(BackoffPolicy{.first = 5ms, .max = 500ms, .budget = 0ms}, Backoff::Clock::time_point{});
    CHECK_FALSE(none.next(Backoff::Clock::time_point{}).has_value());
    const auto start = Backoff::Clock::time_point{};
    Backoff slow(BackoffPolicy{.first = 5ms, .max = 500ms, .budget = 100ms}, start);
    CHECK(slow.next(start + 99ms) == start + 100ms);  // the attempt took 99 ms: the next is cut to the end
    CHECK_FALSE(slow.next(start + 100ms).has_value());
}

TEST_CASE("backoff: unbounded follows the schedule, then retries every max for as long as it takes") {
    const auto start = Backoff::Clock::time_point{} + 1h;
    Backoff backoff(BackoffPolicy{.first = 100ms, .max = 400ms, .budget = 1s}, start);
    std::vector<std::chrono::milliseconds> delays;
    auto now = start;
    for (int i = 0; i < 7; ++i) {
        const auto next = backoff.next_unbounded(now);
        delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(next - now));
        now = next;
    }
    // 100+200+400 = 700, 300 cut at the budget's end, then every 400 ms.
    const std::vector<std::chrono::milliseconds> expected{100ms, 200ms, 400ms, 300ms, 400ms, 400ms, 400ms};
    CHECK(delays == expected);
    CHECK(backoff.retries() == 7);
}
