#pragma once

#include <string_view>

namespace hpplace {

// The project version (CMake's project(VERSION)), e.g. "0.1.0".
std::string_view version() noexcept;
// `git describe --always --dirty` of the source tree at build time, e.g.
// "42e91b0-dirty"; empty when the tree is not a git checkout (a tarball).
std::string_view revision() noexcept;
// "0.1.0" or "0.1.0 (git 42e91b0-dirty)", for --version.
std::string_view version_line() noexcept;

}  // namespace hpplace
