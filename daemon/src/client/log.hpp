#pragma once

#include <functional>
#include <string_view>

namespace hpplace::client {

using LogFunction = std::function<void(std::string_view)>;

// The given log function, or one that writes "libhpplace: <line>\n" to stderr.
LogFunction log_or_stderr(LogFunction log);

// Names the calling thread (at most 15 characters; longer names are cut), so that
// /proc/PID/task/*/comm and top -H tell the library's threads from the program's.
void name_this_thread(std::string_view name) noexcept;

}  // namespace hpplace::client
