# hpnotify / hpplaced
#
#   make            build kmod/hpnotify.ko and build/bin/{hpplaced,hpctl}, build/lib/libhpplace.*
#   make test       install what is needed, build, run the unit tests and the VM tests
#   make demo       install what is needed, build, run the demo in a VM
#   make unit-test  / make vm-test   one half of `make test`
#   make bench      the placement benchmarks
#   make bench-vm   install what is needed, build, measure hotplug latencies end to end in a VM
#   make test-kernels  the module built and the VM suite run on Debian's 5.10, 6.1, 6.12 and newest 7.x
#   make test-large    the 288-vCPU, 8-node machine on each kernel of the matrix, with trixie's QEMU
#   make test-debug-kernel  the module's scenarios and a 1000-round load/unload stress on a 6.1 kernel
#                   built with lockdep, KASAN, kmemleak and the other debug checkers
#   make fuzz       every fuzz harness for FUZZ_SECONDS (or FUZZ_RUNS executions)
#   make fuzz-smoke / make asan-test / make tsan-test   parts of `make test`
#   make deb        the Debian packages in build-deb/; make deb-test installs and purges them in a
#                   Debian 12 chroot (part of `make test`)
#   make deb-vm-test  the packages of make deb booted under systemd in a VM (part of `make test`,
#                   after deb-test)
#
# KDIR picks the kernel build tree; default: scripts/kdir.sh (docs/contract.md).

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
KDIR ?= $(shell scripts/kdir.sh 2>/dev/null)
export KDIR

.PHONY: all kmod userspace deps test check unit-test vm-test demo demo-run bench bench-vm bench-vm-run install clean \
	deb deb-test deb-vm-test \
	test-kernels test-kernels-run test-large test-debug-kernel test-debug-kernel-run \
	fuzzers fuzz fuzz-smoke asan-test tsan-test

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
	$(MAKE) asan-test
	$(MAKE) tsan-test
	$(MAKE) fuzz-smoke
	$(MAKE) vm-test
	$(MAKE) deb-test
	$(MAKE) deb-vm-test

unit-test: userspace
	ctest --test-dir $(BUILD_DIR) --output-on-failure

vm-test: all
	python3 tests/vm/run_tests.py

# Kernels fetched into $(HPNOTIFY_KERNEL_CACHE) (default /var/cache/hpnotify-kernels); KERNELS=5.10,6.12
# picks lines, SCENARIOS the VM scenarios (MODULE_SCENARIOS=1: the module's own, as .ci/run has it),
# QEMU_SUITE=trixie boots them with that suite's QEMU
# (tests/vm/kernels.py). make test-large: the 288-vCPU machine, which needs trixie's QEMU.
test-kernels: deps
	$(MAKE) test-kernels-run

test-kernels-run: userspace
	python3 tests/vm/kernels.py $(if $(KERNELS),--only $(KERNELS)) $(if $(QEMU_SUITE),--qemu $(QEMU_SUITE)) \
		$(if $(MODULE_SCENARIOS),--module-scenarios) $(SCENARIOS)

test-large: deps
	$(MAKE) test-kernels-run QEMU_SUITE=$(or $(QEMU_SUITE),trixie) SCENARIOS=large_machine

# The kernel is built from Debian's linux-source-6.1 into the kernel cache (tests/vm/debug_kernel.py).
test-debug-kernel: deps
	$(MAKE) test-debug-kernel-run

test-debug-kernel-run: userspace
	python3 tests/vm/debug_kernel.py $(SCENARIOS)

demo-run: all
	python3 tests/vm/demo.py

bench: userspace
	$(BUILD_DIR)/bin/placement_bench
	$(BUILD_DIR)/bin/event_loop_bench 2>/dev/null

# Like test and demo: the packages first, then make again so that KDIR sees the headers. The
# userspace build has the guest probe (bench/vm/CMakeLists.txt); results in $(BUILD_DIR)/bench-vm-results.md.
bench-vm: deps
	$(MAKE) bench-vm-run

bench-vm-run: all
	HPPLACE_BUILD_DIR=$(BUILD_DIR) python3 bench/vm/bench_vm.py

# ---- fuzzing and sanitizers (README, "Fuzzing and sanitizers") ----
#
# make fuzz [FUZZ_SECONDS=300] [FUZZ_RUNS=10000000] [FUZZ_HARNESSES="netlink config"]
# runs each harness in turn (FUZZ_SECONDS=0 with FUZZ_RUNS: until that many
# executions) and prints harness, execs, exec/s, cov, ft and crashes; the table
# is kept in $(FUZZ_BUILD_DIR)/fuzz-report.txt, findings next to it.
FUZZ_BUILD_DIR ?= build-fuzz
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_RUNS ?= 0
FUZZ_HARNESSES ?=
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# -Wno-tsan: Asio's fenced blocks use std::atomic_thread_fence, which TSan does
# not model (GCC warns about each one); its queues are mutex-protected.
TSAN_FLAGS = -fsanitize=thread -Wno-tsan
# The unit tests whose code starts threads (libhpplace's worker pools, its C API and
# connection, the daemon service, the control server, the daemon's appliers
# and their worker thread), the ones TSan runs.
TSAN_TESTS = *client_worker_pool_test.cpp,*client_connection_test.cpp,*client_c_api_test.cpp,*daemon_service_test.cpp,*control_server_test.cpp,*blocking_worker_test.cpp,*cgroup_applier_test.cpp,*auto_online_policy_test.cpp
# Left out: it registers its callbacks after the Client has started connecting,
# and under TSan the connection and the first plan often win that race (3 of 9
# runs), so the callbacks never hear of them and the test times out. (A
# wildcard: doctest cuts filters at commas.)
TSAN_EXCLUDE = client: reconnects after the daemon restarts*

$(FUZZ_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
		-DCMAKE_CXX_COMPILER=clang++ -DHPPLACE_FUZZ=ON -DHPPLACE_BUILD_BENCH=OFF

fuzzers: $(FUZZ_BUILD_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD_DIR) -j$(JOBS) --target fuzzers

fuzz: fuzzers
	tests/fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_RUNS) $(FUZZ_HARNESSES)

fuzz-smoke: fuzzers
	tests/fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SMOKE_SECONDS) 0 $(FUZZ_HARNESSES)

# The whole unit suite (and the fuzz corpus replay) built with ASan and UBSan,
# leak checking on. Left out: the examples' install test (it builds the
# examples against an installed copy, which adds nothing here) and
# daemon_abuse, whose RSS and open-file checks measure the daemon's own
# allocator and descriptors, which ASan's quarantine and runtime change, and
# python_client (the Python package; the daemon is only its peer there).
$(ASAN_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHPPLACE_BUILD_BENCH=OFF \
		"-DCMAKE_C_FLAGS=$(ASAN_FLAGS)" "-DCMAKE_CXX_FLAGS=$(ASAN_FLAGS)"

asan-test: $(ASAN_BUILD_DIR)/CMakeCache.txt
	cmake --build $(ASAN_BUILD_DIR) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -E '^(client_examples_installed|daemon_abuse|python_client)$$'

$(TSAN_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(TSAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHPPLACE_BUILD_BENCH=OFF \
		"-DCMAKE_C_FLAGS=$(TSAN_FLAGS)" "-DCMAKE_CXX_FLAGS=$(TSAN_FLAGS)"

tsan-test: $(TSAN_BUILD_DIR)/CMakeCache.txt
	cmake --build $(TSAN_BUILD_DIR) -j$(JOBS) --target unit_tests
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(TSAN_BUILD_DIR)/bin/unit_tests '--source-file=$(TSAN_TESTS)' \
		'--test-case-exclude=$(TSAN_EXCLUDE)'

# make install [DESTDIR=/staging] [PREFIX=/usr/local] [SYSCONFDIR=/etc]: what
# `cmake --install` installs (dist/CMakeLists.txt: hpplaced in sbin, hpctl,
# libhpplace in the libdir GNUInstallDirs picks for PREFIX, lib/x86_64-linux-gnu
# for /usr, its headers, pkg-config and CMake files, the unit with ExecStart
# pointed at PREFIX, sysusers.d and modules-load.d entries, the example config
# unless one is there) and the module's DKMS source under /usr/src/hpnotify-1.0.
# No hpnotify.ko: DKMS builds and installs it (updates/dkms) for every kernel,
# and a copy in extra/ would be a second one that shadows or outlives it.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc

install: userspace
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DCMAKE_INSTALL_SYSCONFDIR=$(SYSCONFDIR) >/dev/null
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --component dkms
	@echo "installed under $(DESTDIR)$(PREFIX); as root without DESTDIR: systemd-sysusers; dkms install hpnotify/1.0; systemctl daemon-reload"

# make deb [DEB_DIR=build-deb]: the four Debian packages (debian/) built with
# dpkg-buildpackage from a copy of the tree's files (git ls-files: tracked and
# untracked, not ignored) in DEB_DIR/src; the .deb files, .buildinfo and
# .changes land in DEB_DIR, outside that copy. make deb-test installs and
# purges them in a Debian 12 chroot (tests/deb/chroot_test.py). noddebs: no
# -dbgsym packages (compressing their debug information is most of the time
# after the build; DEB_BUILD_OPTIONS= adds options).
DEB_DIR ?= $(BUILD_DIR)-deb

deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src/hpplace
	git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/src/hpplace
	cd $(DEB_DIR)/src/hpplace && CCACHE_DIR=$${CCACHE_DIR:-$$HOME/.cache/ccache} \
		CCACHE_CONFIGPATH=$${CCACHE_CONFIGPATH:-$$HOME/.config/ccache/ccache.conf} \
		DEB_BUILD_OPTIONS="parallel=$(JOBS) noddebs $$DEB_BUILD_OPTIONS" dpkg-buildpackage -us -uc -b
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/src/*.changes $(DEB_DIR)/
	lintian --fail-on error $(DEB_DIR)/*.changes
	@ls $(DEB_DIR)/*.deb

deb-test: deb
	python3 tests/deb/chroot_test.py $(DEB_DIR)

# The packages already in DEB_DIR (make deb) and the module in a Debian 12 guest with systemd as PID 1
# (tests/vm/scenarios_system.py); skipped, with the reason, when they are not there.
deb-vm-test: kmod
	HPPLACE_DEB_DIR=$(DEB_DIR) python3 tests/vm/run_tests.py system_daemon system_unit_hotadd

clean:
	-$(MAKE) -C kmod KDIR=$(KDIR) clean
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR) $(DEB_DIR)
