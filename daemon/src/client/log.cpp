#include "client/log.hpp"

#include <cstdio>
#include <string>

namespace hpplace::client {

LogFunction log_or_stderr(LogFunction log) {
    if (log) {
        return log;
    }
    return [](std::string_view line) {
        const std::string text = "libhpplace: " + std::string(line) + "\n";
        std::fwrite(text.data(), 1, text.size(), stderr);
    };
}

}  // namespace hpplace::client
