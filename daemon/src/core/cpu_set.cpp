#include "core/cpu_set.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <stdexcept>

namespace hpplace {

CpuSet CpuSet::from_words(std::span<const std::uint64_t> words) {
    CpuSet s;
    s.words_.assign(words.begin(), words.end());
    s.trim();
    return s;
}

CpuSet CpuSet::range(unsigned first, unsigned last_inclusive) {
    CpuSet s;
    if (first > last_inclusive) {
        return s;
    }
    s.words_.assign(last_inclusive / 64 + 1, 0);
    s.set_words(first, last_inclusive);
    return s;
}

// Sets first..last word by word; words_ already reaches last.
void CpuSet::set_words(unsigned first, unsigned last_inclusive) noexcept {
    constexpr std::uint64_t all = ~std::uint64_t{0};
    for (std::size_t w = first / 64; w <= last_inclusive / 64; ++w) {
        const unsigned low = w == first / 64 ? first % 64 : 0;
        const unsigned high = w == last_inclusive / 64 ? last_inclusive % 64 : 63;
        words_[w] |= (all >> (63 - high)) & (all << low);
    }
}

namespace {

unsigned parse_number(std::string_view text, std::string_view whole) {
    unsigned value = 0;
    const auto* begin = text.data();
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || value >= (1U << 20)) {
        throw std::invalid_argument("bad CPU list \"" + std::string(whole) + "\" at \"" + std::string(text) + "\"");
    }
    return value;
}

std::string_view trim_space(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\n");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(" \t\n");
    return s.substr(first, last - first + 1);
}

}  // namespace

CpuSet CpuSet::parse_list(std::string_view text) {
    const std::string_view whole = trim_space(text);
    // Ranges are merged before any bit is set: a line of "0-1048575,0-1048575,..."
    // (a plan from the daemon may be megabytes) costs one pass, not one per range.
    std::vector<std::pair<unsigned, unsigned>> ranges;
    std::string_view rest = whole;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view part = trim_space(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const auto dash = part.find('-');
        if (dash == std::string_view::npos) {
            const unsigned cpu = parse_number(part, whole);
            ranges.emplace_back(cpu, cpu);
            continue;
        }
        const unsigned first = parse_number(part.substr(0, dash), whole);
        const unsigned last = parse_number(part.substr(dash + 1), whole);
        if (last < first) {
            throw std::invalid_argument("bad CPU list \"" + std::string(whole) + "\": range " + std::string(part) +
                                        " goes backwards");
        }
        ranges.emplace_back(first, last);
    }
    CpuSet s;
    if (ranges.empty()) {
        return s;
    }
    std::sort(ranges.begin(), ranges.end());
    s.words_.assign(std::max_element(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) {
                        return a.second < b.second;
                    })->second / 64 + 1,
                    0);
    auto [first, last] = ranges.front();
    for (const auto& [next_first, next_last] : ranges) {
        if (next_first > last + 1) {
            s.set_words(first, last);
            first = next_first;
        }
        last = std::max(last, next_last);
    }
    s.set_words(first, last);
    return s;
}

void CpuSet::set(unsigned cpu) {
    const std::size_t w = cpu / 64;
    if (w >= words_.size()) {
        words_.resize(w + 1, 0);
    }
    words_[w] |= std::uint64_t{1} << (cpu % 64);
}

void CpuSet::reset(unsigned cpu) {
    const std::size_t w = cpu / 64;
    if (w < words_.size()) {
        words_[w] &= ~(std::uint64_t{1} << (cpu % 64));
        trim();
    }
}

bool CpuSet::test(unsigned cpu) const noexcept {
    const std::size_t w = cpu / 64;
    return w < words_.size() && (words_[w] >> (cpu % 64) & 1U) != 0;
}

std::size_t CpuSet::count() const noexcept {
    std::size_t n = 0;
    for (const auto w : words_) {
        n += static_cast<std::size_t>(__builtin_popcountll(w));
    }
    return n;
}

bool CpuSet::empty() const noexcept { return words_.empty(); }

unsigned CpuSet::end() const noexcept {
    if (words_.empty()) {
        return 0;
    }
    const std::uint64_t top = words_.back();
    return static_cast<unsigned>((words_.size() - 1) * 64 + 64 - static_cast<std::size_t>(__builtin_clzll(top)));
}

std::vector<unsigned> CpuSet::to_vector() const {
    std::vector<unsigned> out;
    out.reserve(count());
    for_each([&](unsigned c) { out.push_back(c); });
    return out;
}

namespace {

// The first bit at or after `from` whose value is `value`; words.size() * 64
// when there is none.
std::size_t find_bit(std::span<const std::uint64_t> words, std::size_t from, bool value) noexcept {
    std::size_t w = from / 64;
    if (w >= words.size()) {
        return words.size() * 64;
    }
    std::uint64_t bits = (value ? words[w] : ~words[w]) & (~std::uint64_t{0} << (from % 64));
    while (bits == 0) {
        if (++w == words.size()) {
            return words.size() * 64;
        }
        bits = value ? words[w] : ~words[w];
    }
    return w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
}

}  // namespace

// Run by run, each found a word at a time: "0-1048575" is one step, not a
// million.
std::string CpuSet::to_list() const {
    std::string out;
    const std::size_t end = words_.size() * 64;
    for (std::size_t first = find_bit(words_, 0, true); first < end;) {
        const std::size_t last = find_bit(words_, first, false) - 1;
        if (!out.empty()) {
            out += ',';
        }
        out += std::to_string(first);
        if (last != first) {
            out += '-';
            out += std::to_string(last);
        }
        first = find_bit(words_, last + 1, true);
    }
    return out;
}

CpuSet& CpuSet::operator|=(const CpuSet& other) {
    if (other.words_.size() > words_.size()) {
        words_.resize(other.words_.size(), 0);
    }
    for (std::size_t i = 0; i < other.words_.size(); ++i) {
        words_[i] |= other.words_[i];
    }
    return *this;
}

CpuSet& CpuSet::operator&=(const CpuSet& other) {
    words_.resize(std::min(words_.size(), other.words_.size()));
    for (std::size_t i = 0; i < words_.size(); ++i) {
        words_[i] &= other.words_[i];
    }
    trim();
    return *this;
}

CpuSet& CpuSet::operator-=(const CpuSet& other) {
    const std::size_t n = std::min(words_.size(), other.words_.size());
    for (std::size_t i = 0; i < n; ++i) {
        words_[i] &= ~other.words_[i];
    }
    trim();
    return *this;
}

bool operator==(const CpuSet& a, const CpuSet& b) noexcept { return a.words_ == b.words_; }

void CpuSet::trim() noexcept {
    while (!words_.empty() && words_.back() == 0) {
        words_.pop_back();
    }
}

}  // namespace hpplace
