#pragma once

// A bounded retry schedule: the first retry `first` after the first failure,
// each next delay doubled up to `max`, no attempt later than `budget` after the
// first failure. For things the kernel catches up on by itself (a CPU that is
// online but not yet in the cpuset hierarchy), where waiting for the next
// change could mean waiting forever.

#include <algorithm>
#include <chrono>
#include <optional>

namespace hpplace {

struct BackoffPolicy {
    std::chrono::milliseconds first{5};
    std::chrono::milliseconds max{500};
    std::chrono::milliseconds budget{3000};
};

class Backoff {
public:
    using Clock = std::chrono::steady_clock;

    // `start`: when the first attempt failed.
    Backoff(BackoffPolicy policy, Clock::time_point start) noexcept
        : policy_(policy), start_(start), delay_(std::max(policy.first, std::chrono::milliseconds(1))) {}

    // After a failed attempt at `now`: when to try again, or nothing when the
    // budget is spent (give up). The last retry falls on the budget's end.
    std::optional<Clock::time_point> next(Clock::time_point now) noexcept {
        const auto end = start_ + policy_.budget;
        if (now >= end) {
            return std::nullopt;
        }
        const auto at = std::min(now + delay_, end);
        delay_ = std::min(delay_ * 2, std::max(policy_.max, policy_.first));
        ++retries_;
        return at;
    }

    // For what is retried for as long as it takes (a bus that is not there):
    // next(), and once the budget is spent, every `max`.
    Clock::time_point next_unbounded(Clock::time_point now) noexcept {
        if (const auto at = next(now)) {
            return *at;
        }
        ++retries_;
        return now + std::max(policy_.max, policy_.first);
    }

    unsigned retries() const noexcept { return retries_; }
    // Time since the first failure, for log lines.
    std::chrono::milliseconds elapsed() const noexcept {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
    }

private:
    BackoffPolicy policy_;
    Clock::time_point start_;
    std::chrono::milliseconds delay_;
    unsigned retries_ = 0;  // retries scheduled so far
};

}  // namespace hpplace
