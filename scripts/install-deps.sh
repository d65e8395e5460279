#!/bin/sh
# Installs the Debian 12 packages that building, the demo and the tests need.
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
set -eu

PACKAGES="
build-essential cmake pkg-config git
linux-image-amd64 linux-headers-amd64 kmod sparse
qemu-system-x86 busybox-static cpio gzip util-linux
libmnl-dev libudev-dev libnuma-dev libboost-dev libsystemd-dev
nlohmann-json3-dev libtomlplusplus-dev doctest-dev libbenchmark-dev
python3 python3-yaml python3-pytest python3-pip python3-setuptools python3-wheel systemd ccache scdoc
clang libclang-rt-14-dev llvm
dwarves flex bison bc libelf-dev libssl-dev
debhelper dh-dkms dkms lintian mmdebstrap
dbus-daemon
"
# clang, libclang-rt-14-dev (libFuzzer and clang's ASan/UBSan runtimes) and llvm
# (llvm-symbolizer, for readable sanitizer stacks) are for make fuzz; GCC's
# ASan/UBSan/TSan runtimes (make asan-test, tsan-test) come with build-essential.
# python3-pytest, -pip, -setuptools and -wheel: the Python package's tests
# install it with pip offline (no build isolation) and run it (ctest python_client).
# dwarves (pahole) is for make test-kernels: newer kernels' headers make BTF for
# every module they build. flex, bison, bc, libelf-dev and libssl-dev build the
# debug kernel of make test-debug-kernel. scdoc makes the man pages (docs/man).
# debhelper, dh-dkms, dkms, lintian and mmdebstrap are for make deb and make deb-test (the
# Debian packages, and the chroot they are installed and purged in; dpkg-dev comes with
# build-essential, and Rules-Requires-Root: no spares fakeroot).
# dbus-daemon runs the private bus of the unit workloads' tests (tests/systemd).

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing" >&2
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# promtool, for the metrics check of the ctest cli_conventions: Debian has it only
# in the prometheus package (19 MB), whose installation would also add a user and
# start a Prometheus server. Only its promtool is taken out, into a cache.
PROMTOOL_DIR=/var/cache/hpnotify-tools
if [ ! -x "$PROMTOOL_DIR/promtool" ]; then
	echo "install-deps: fetching promtool (Debian package prometheus) into $PROMTOOL_DIR" >&2
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	chmod 0755 "$work"
	if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
		$SUDO apt-get update -qq
		(cd "$work" && apt-get download prometheus >/dev/null)
	fi
	dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
	$SUDO install -D -m 0755 "$work/usr/bin/promtool" "$PROMTOOL_DIR/promtool"
fi
