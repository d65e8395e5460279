#!/bin/sh
# Installs the build into a temporary prefix and builds the examples against the
# INSTALLED libhpplace: through pkg-config (examples/Makefile, then examples/
# CMakeLists.txt standalone) and through find_package(hpplace); runs each result.
#   examples/test-installed.sh BUILD_DIR        (ctest runs it as client_examples_installed)
set -eu
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hpplace-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "test-installed: $*" >&2; exit 1; }

# DESTDIR keeps rules with absolute destinations inside the temp dir too.
DESTDIR="$work/root" cmake --install "$build" --prefix /opt/hpplace >"$work/install.log" ||
    { cat "$work/install.log" >&2; fail "cmake --install failed"; }
prefix="$work/root/opt/hpplace"
pc=$(find "$prefix" -name hpplace.pc | head -n1)
[ -n "$pc" ] || fail "no hpplace.pc installed"
for f in include/hpplace/hpplace.hpp include/hpplace/client.hpp include/hpplace/hpplace.h; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
done
ls "$(dirname "$(dirname "$pc")")"/libhpplace.so* >/dev/null || fail "libhpplace.so not installed"
[ -f "$(dirname "$(dirname "$pc")")/libhpplace.a" ] || fail "libhpplace.a not installed"
# The public headers expose neither nlohmann, Asio nor internal headers.
if grep -rnE '#include [<"](nlohmann|boost|core/|client/|control/|planner/)' "$prefix/include/hpplace"; then
    fail "public headers include private ones"
fi

export PKG_CONFIG_PATH="$(dirname "$pc")"
echo "pkg-config --cflags --libs hpplace: $(pkg-config --cflags --libs hpplace)"

mkdir "$work/make"
make -s -C "$here" OUT="$work/make" >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; fail "make -C examples failed"; }
cmake -S "$here" -B "$work/cmake" >/dev/null && cmake --build "$work/cmake" -j2 >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log" >&2; fail "standalone examples/CMakeLists.txt failed"; }

mkdir "$work/pkg"
cat >"$work/pkg/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(consumer LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(hpplace 0.1 REQUIRED)
add_executable(consumer consumer.cpp)
target_link_libraries(consumer PRIVATE hpplace::hpplace)
CMAKE
cat >"$work/pkg/consumer.cpp" <<'CPP'
#include <hpplace/hpplace.hpp>
#include <cstdio>
int main() { std::printf("%u\n", hpplace::active_processor_count()); return hpplace::active_processor_count() > 0 ? 0 : 1; }
CPP
cmake -S "$work/pkg" -B "$work/pkg/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
    cmake --build "$work/pkg/build" >"$work/pkg.log" 2>&1 || { cat "$work/pkg.log" >&2; fail "find_package(hpplace) consumer failed"; }

# C++17 is served by the C API: a C++17 program that includes only hpplace.h.
cat >"$work/pkg/cxx17.cpp" <<'CPP'
#include <hpplace/hpplace.h>
#include <cerrno>
#include <cstdio>
int main() {
    int error = 0;
    hpp_client* client = hpp_open("/nonexistent/hpplaced.sock", &error);
    if (client == nullptr) { std::fprintf(stderr, "hpp_open: %s\n", hpp_strerror(error)); return 1; }
    const bool ok = hpp_connected(client) == 0 && hpp_wait_connected(client, 10) == -ETIMEDOUT &&
                    hpp_active_processor_count(nullptr, 0) > 0;
    hpp_close(client);
    return ok ? 0 : 1;
}
CPP
c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags hpplace) -o "$work/pkg/cxx17" "$work/pkg/cxx17.cpp" \
    $(pkg-config --libs hpplace) >"$work/cxx17.log" 2>&1 || { cat "$work/cxx17.log" >&2; fail "C++17 consumer of hpplace.h failed to build"; }

# The installed binaries run (no daemon: they keep retrying in the background).
LD_LIBRARY_PATH="$(dirname "$(dirname "$pc")")" "$work/pkg/build/consumer" >/dev/null || fail "consumer did not run"
for dir in "$work/make" "$work/cmake"; do
    ldd "$dir/hpplace-example-service" | grep -q "$prefix" || fail "$dir/hpplace-example-service does not use the installed library"
    "$dir/hpplace-example-processor-arrival" --socket "$work/none.sock" --seconds 1 >/dev/null 2>"$work/run.log" ||
        { cat "$work/run.log" >&2; fail "processor-arrival example failed"; }
    ldd "$dir/hpplace-example-c-arrival" | grep -q "$prefix" || fail "$dir/hpplace-example-c-arrival does not use the installed library"
    "$dir/hpplace-example-c-arrival" --socket "$work/none.sock" --seconds 1 >"$work/c-run.out" 2>"$work/c-run.log" ||
        { cat "$work/c-run.log" >&2; fail "C arrival example failed"; }
    grep -q "active processors" "$work/c-run.out" || fail "the C example printed no processor count"
done
LD_LIBRARY_PATH="$(dirname "$(dirname "$pc")")" "$work/pkg/cxx17" || fail "the C++17 consumer did not run"
grep -q "cannot connect to hpplaced" "$work/run.log" || fail "no 'cannot connect' line from the example"
echo "test-installed: ok (Makefile, CMake via pkg-config, find_package; C99 and C++17 consumers of hpplace.h)"
