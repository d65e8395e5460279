#include "client/log.hpp"

#include <pthread.h>

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

void name_this_thread(std::string_view name) noexcept {
    const std::string cut(name.substr(0, 15));
    ::pthread_setname_np(::pthread_self(), cut.c_str());
}

}  // namespace hpplace::client
