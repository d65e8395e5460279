#pragma once

// What the C API's files share: the boundary where C++ exceptions become
// negative errno values, the C log callback as a LogFunction, and the C
// assignment as the C++ one. Nothing here is exported.

#include <cerrno>
#include <new>
#include <stdexcept>
#include <system_error>

#include "client/log.hpp"
#include "hpplace/assignment.hpp"
#include "hpplace/hpplace.h"

namespace hpplace::c_api {

// Runs f (returning 0 or a negative errno value) and turns what it throws into
// -ENOMEM, a std::system_error's errno, -EINVAL (std::invalid_argument) or -EIO.
template <typename F>
int guarded(F&& f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (const std::system_error& e) {
        const int value = e.code().value();
        return value > 0 ? -value : -EIO;
    } catch (const std::invalid_argument&) {
        return -EINVAL;
    } catch (...) {
        return -EIO;
    }
}

// Stores error (when the caller gave a place for it) and returns nullptr.
inline std::nullptr_t fail(int* where, int error) noexcept {
    if (where != nullptr) {
        *where = error;
    }
    return nullptr;
}

// Runs make(), which returns a std::unique_ptr, at the boundary: its object
// with *error = 0, or nullptr with *error the negative errno value.
template <typename Make>
auto create(int* error, Make&& make) noexcept -> decltype(make().release()) {
    decltype(make().release()) result = nullptr;
    const int status = guarded([&] {
        result = make().release();
        return 0;
    });
    if (error != nullptr) {
        *error = status;
    }
    return result;
}

// The C log function with its context; empty when fn is NULL (the library's default then).
client::LogFunction log_function(hpp_log_function fn, void* context);

// Reads an input struct the caller filled: the members up to its struct_size,
// zero for the rest. -EINVAL when struct_size does not even cover itself.
template <typename T>
int read_input(const T* in, T& out) noexcept {
    out = T{};
    if (in == nullptr) {
        return 0;
    }
    if (in->struct_size < sizeof(in->struct_size)) {
        return -EINVAL;
    }
    const std::size_t size = in->struct_size < sizeof(T) ? in->struct_size : sizeof(T);
    __builtin_memcpy(static_cast<void*>(&out), static_cast<const void*>(in), size);
    return 0;
}

// The C++ assignment of a C one. Throws std::invalid_argument on NULL arrays with counts.
Assignment assignment_of(const hpp_assignment& assignment);

}  // namespace hpplace::c_api
