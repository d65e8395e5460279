#pragma once

// Log lines with syslog priorities. A line travels from where it is written to
// the one sink (hpplaced_main.cpp) as text that may begin with sd-daemon(3)'s
// priority prefix, "<4>cgroup write failed": the daemon's LogLine callbacks
// stay plain strings, and a line without a prefix is info. The sink writes it
// to stderr as journald reads it when stderr is the journal (prefix kept, no
// program name: journald shows the identifier), else as "hpplaced: text".

#include <string>
#include <string_view>

namespace hpplace::log {

enum class Priority : int { err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

std::string line(Priority priority, std::string_view text);
inline std::string err(std::string_view text) { return line(Priority::err, text); }
inline std::string warning(std::string_view text) { return line(Priority::warning, text); }
inline std::string notice(std::string_view text) { return line(Priority::notice, text); }
inline std::string info(std::string_view text) { return line(Priority::info, text); }
inline std::string debug(std::string_view text) { return line(Priority::debug, text); }

struct Parsed {
    Priority priority;
    std::string_view text;  // without the prefix
};
// A leading "<N>" with N in 0..7 is the priority (0..2 count as err); else info.
Parsed parse(std::string_view line) noexcept;

enum class Target { journal, plain };

// What the sink writes for one line, '\n' included: "<N>text\n" for the
// journal, "program: text\n" otherwise.
std::string format(Target target, std::string_view program, std::string_view line);

// Whether fd is the stream $JOURNAL_STREAM names ("DEV:INO", set by systemd for
// a service whose stderr goes to the journal): inherited by a child whose
// stderr was redirected, the variable alone would be wrong.
bool is_journal_stream(int fd, const char* journal_stream) noexcept;
// is_journal_stream(2, getenv("JOURNAL_STREAM")) as a Target.
Target stderr_target() noexcept;

// Writes format(stderr_target(), program, line) to stderr in one call; the
// target is found once per process.
void to_stderr(std::string_view program, std::string_view line) noexcept;

}  // namespace hpplace::log
