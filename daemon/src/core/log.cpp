#include "core/log.hpp"

#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace hpplace::log {

std::string line(Priority priority, std::string_view text) {
    std::string out = "<";
    out += static_cast<char>('0' + static_cast<int>(priority));
    out += '>';
    out += text;
    return out;
}

Parsed parse(std::string_view text) noexcept {
    if (text.size() >= 3 && text[0] == '<' && text[1] >= '0' && text[1] <= '7' && text[2] == '>') {
        const int level = text[1] - '0';
        return {level < static_cast<int>(Priority::err) ? Priority::err : static_cast<Priority>(level), text.substr(3)};
    }
    return {Priority::info, text};
}

std::string format(Target target, std::string_view program, std::string_view text) {
    const Parsed parsed = parse(text);
    std::string out;
    if (target == Target::journal) {
        out = line(parsed.priority, parsed.text);
    } else {
        out.reserve(program.size() + 2 + parsed.text.size() + 1);
        out.append(program).append(": ").append(parsed.text);
    }
    out += '\n';
    return out;
}

bool is_journal_stream(int fd, const char* journal_stream) noexcept {
    if (journal_stream == nullptr) {
        return false;
    }
    const std::string_view value = journal_stream;
    const auto colon = value.find(':');
    if (colon == std::string_view::npos) {
        return false;
    }
    unsigned long long device = 0;
    unsigned long long inode = 0;
    const auto parse_number = [](std::string_view digits, unsigned long long& out) {
        const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
        return !digits.empty() && error == std::errc{} && end == digits.data() + digits.size();
    };
    if (!parse_number(value.substr(0, colon), device) || !parse_number(value.substr(colon + 1), inode)) {
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return false;
    }
    return static_cast<unsigned long long>(st.st_dev) == device && static_cast<unsigned long long>(st.st_ino) == inode;
}

Target stderr_target() noexcept {
    return is_journal_stream(2, std::getenv("JOURNAL_STREAM")) ? Target::journal : Target::plain;
}

void to_stderr(std::string_view program, std::string_view text) noexcept {
    static const Target target = stderr_target();
    try {
        const std::string out = format(target, program, text);
        std::fwrite(out.data(), 1, out.size(), stderr);
    } catch (...) {
        // Out of memory for a log line: the line is lost, nothing else.
    }
}

}  // namespace hpplace::log
