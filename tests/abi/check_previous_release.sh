#!/bin/sh
# A C program of the first release still builds, links and runs against the current libhpplace.so,
# and the current hpplace.h keeps the release's layout (tests/abi/layout.c).
#   check_previous_release.sh CC SOURCE_DIR LIBRARY_DIR [CFLAGS]     (ctest client_abi_previous_release)
set -eu
cc=${1:?usage: $0 CC SOURCE_DIR LIBRARY_DIR}
src=${2:?}
lib=${3:?}
here=$src/tests/abi
release=$here/release-1
work=$(mktemp -d "${TMPDIR:-/tmp}/hpplace-abi.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "check_previous_release: $*" >&2; exit 1; }
flags="-std=c99 -Wall -Wextra -Wpedantic -Werror ${4:-}"

# shellcheck disable=SC2086
"$cc" $flags -I"$release" -o "$work/old" "$here/previous_release.c" -L"$lib" -lhpplace -Wl,-rpath,"$lib" ||
    fail "the release's program does not build against its header and the current library"
# Every libhpplace function it calls is bound to the C node.
unversioned=$(nm -D --undefined-only --with-symbol-versions "$work/old" | awk '$2 ~ /^hpp_/ && $2 !~ /@HPPLACE_1$/')
[ -z "$unversioned" ] || fail "calls not bound to version HPPLACE_1: $unversioned"
"$work/old" || fail "the release's program fails against the current library"

# shellcheck disable=SC2086
"$cc" $flags -I"$release" -o "$work/layout-release" "$here/layout.c" && "$work/layout-release" >"$work/release.txt" ||
    fail "layout.c does not build against the release's header"
# shellcheck disable=SC2086
"$cc" $flags -I"$src/daemon/include" -o "$work/layout-current" "$here/layout.c" &&
    "$work/layout-current" >"$work/current.txt" || fail "layout.c does not build against the current header"
missing=$(grep -vxFf "$work/current.txt" "$work/release.txt" || true)
[ -z "$missing" ] || fail "the current hpplace.h moved or changed what the release had:
$missing
(now: $(grep -F "$(echo "$missing" | head -1 | cut -d' ' -f1-3) " "$work/current.txt" || echo gone))"
echo "check_previous_release: ok ($(wc -l <"$work/release.txt") members, values and element sizes of release 1 unchanged)"
