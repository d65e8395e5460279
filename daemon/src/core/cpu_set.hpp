#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hpplace {

// A set of CPU (or node) numbers: a growable bitmap, the user-space side of the
// kernel's cpumask. Text form is the kernel's "cpulist" ("0-3,8,10-11"), the one
// sysfs and cgroup cpuset files use.
class CpuSet {
public:
    CpuSet() = default;

    static CpuSet from_words(std::span<const std::uint64_t> words);
    // Parses "0-3,8" (whitespace and a trailing newline allowed, "" is empty).
    // Throws std::invalid_argument naming the bad part.
    static CpuSet parse_list(std::string_view text);
    static CpuSet range(unsigned first, unsigned last_inclusive);

    void set(unsigned cpu);
    void reset(unsigned cpu);
    bool test(unsigned cpu) const noexcept;
    std::size_t count() const noexcept;
    bool empty() const noexcept;
    // Number of the highest set bit plus one (0 when empty).
    unsigned end() const noexcept;

    // The set bits in increasing order.
    std::vector<unsigned> to_vector() const;
    std::string to_list() const;
    std::span<const std::uint64_t> words() const noexcept { return words_; }

    template <typename F>
    void for_each(F&& f) const {
        for (std::size_t w = 0; w < words_.size(); ++w) {
            std::uint64_t bits = words_[w];
            while (bits != 0) {
                const unsigned bit = static_cast<unsigned>(__builtin_ctzll(bits));
                f(static_cast<unsigned>(w * 64 + bit));
                bits &= bits - 1;
            }
        }
    }

    CpuSet& operator|=(const CpuSet& other);
    CpuSet& operator&=(const CpuSet& other);
    CpuSet& operator-=(const CpuSet& other);
    friend CpuSet operator|(CpuSet a, const CpuSet& b) { return a |= b; }
    friend CpuSet operator&(CpuSet a, const CpuSet& b) { return a &= b; }
    friend CpuSet operator-(CpuSet a, const CpuSet& b) { return a -= b; }
    friend bool operator==(const CpuSet& a, const CpuSet& b) noexcept;

private:
    void set_words(unsigned first, unsigned last_inclusive) noexcept;
    void trim() noexcept;
    std::vector<std::uint64_t> words_;  // no trailing zero words
};

}  // namespace hpplace
