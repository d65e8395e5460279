#!/bin/sh
# Prints the kernel build tree to build the module against (docs/contract.md):
# the running kernel's if its headers are installed, else the newest Debian
# kernel whose headers and image are both installed (the one the VM boots).
set -eu
running="/lib/modules/$(uname -r)/build"
if [ -d "$running" ]; then
	echo "$running"
	exit 0
fi
for build in $(ls -d /lib/modules/*/build 2>/dev/null | sort -rV); do
	ver=$(basename "$(dirname "$build")")
	if [ -f "/boot/vmlinuz-$ver" ]; then
		echo "$build"
		exit 0
	fi
done
echo "kdir.sh: no kernel build tree found; install linux-headers-amd64 or pass KDIR=" >&2
exit 1
