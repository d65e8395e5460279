# hpnotify / hpplaced
#
#   make            build kmod/hpnotify.ko and build/bin/{hpplaced,hpctl}, build/lib/libhpplace.*
#   make test       install what is needed, build, run the unit tests and the VM tests
#   make demo       install what is needed, build, run the demo in a VM
#   make unit-test  / make vm-test   one half of `make test`
#   make bench      the placement benchmarks
#
# KDIR picks the kernel build tree; default: scripts/kdir.sh (CONTRACT.md).

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
KDIR ?= $(shell scripts/kdir.sh 2>/dev/null)
export KDIR

.PHONY: all kmod userspace deps test check unit-test vm-test demo demo-run bench install clean

all: kmod userspace

kmod:
	@test -n "$(KDIR)" || { echo "make: no kernel build tree (install linux-headers-amd64 or pass KDIR=)" >&2; exit 1; }
	$(MAKE) -C kmod KDIR=$(KDIR)

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

userspace: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

deps:
	scripts/install-deps.sh

# The README's two commands: each installs its packages first, then re-enters
# make so that KDIR is computed with the kernel headers present.
test: deps
	$(MAKE) check

demo: deps
	$(MAKE) demo-run

check: all
	$(MAKE) unit-test
	$(MAKE) vm-test

unit-test: userspace
	ctest --test-dir $(BUILD_DIR) --output-on-failure

vm-test: all
	python3 tests/vm/run_tests.py

demo-run: all
	python3 tests/vm/demo.py

bench: userspace
	$(BUILD_DIR)/bin/placement_bench

# make install [DESTDIR=/staging] [PREFIX=/usr/local]: binaries, libhpplace and
# its headers, the systemd unit (ExecStart pointed at PREFIX), the example
# config (an existing one is kept), hpnotify.ko for the kernel it was built
# against and its DKMS source under /usr/src/hpnotify-<version>.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DKMS_VERSION = $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' kmod/dkms.conf)
KERNEL_RELEASE = $(shell sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)

install: all
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix $(PREFIX)
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|^ExecStart=/usr/bin/|ExecStart=$(PREFIX)/bin/|' dist/hpplaced.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/hpplaced.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/hpplaced.service
	install -d $(DESTDIR)$(SYSCONFDIR)/hpplaced
	test -e $(DESTDIR)$(SYSCONFDIR)/hpplaced/hpplaced.conf || install -m 0644 dist/hpplaced.conf $(DESTDIR)$(SYSCONFDIR)/hpplaced/hpplaced.conf
	install -D -m 0644 kmod/hpnotify.ko $(DESTDIR)/lib/modules/$(KERNEL_RELEASE)/extra/hpnotify.ko
	install -d $(DESTDIR)/usr/src/hpnotify-$(DKMS_VERSION)/common
	install -m 0644 kmod/Kbuild kmod/Makefile kmod/dkms.conf $(filter-out %.mod.c,$(wildcard kmod/*.c)) kmod/*.h $(DESTDIR)/usr/src/hpnotify-$(DKMS_VERSION)/
	install -m 0644 common/hpnotify.h $(DESTDIR)/usr/src/hpnotify-$(DKMS_VERSION)/common/
	@echo "installed under $(DESTDIR)$(PREFIX); as root without DESTDIR: depmod -a $(KERNEL_RELEASE); systemctl daemon-reload"

clean:
	-$(MAKE) -C kmod KDIR=$(KDIR) clean
	rm -rf $(BUILD_DIR)
