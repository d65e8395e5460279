#pragma once

#include <functional>
#include <string_view>

namespace hpplace::client {

using LogFunction = std::function<void(std::string_view)>;

// The given log function, or one that writes "libhpplace: <line>\n" to stderr.
LogFunction log_or_stderr(LogFunction log);

}  // namespace hpplace::client
