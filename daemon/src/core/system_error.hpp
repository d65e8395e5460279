#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace hpplace {

// errno becomes std::system_error at the boundary with the OS.
[[noreturn]] inline void throw_errno(const std::string& what, int error = errno) {
    throw std::system_error(error, std::system_category(), what);
}

inline void throw_system_error_on(bool condition, const std::string& what, int error = errno) {
    if (condition) {
        throw_errno(what, error);
    }
}

}  // namespace hpplace
