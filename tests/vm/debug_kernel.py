#!/usr/bin/env python3
"""The module under the kernel's own checkers (`make test-debug-kernel`).

Debian's kernels have none of the kernel's debug checkers on. This builds one that has: the newest
linux-source-6.1 of the Debian mirror the system's apt sources use (fetched as kernels.py fetches kernel
packages, into the same cache), configured as x86_64_defconfig plus kvm_guest.config plus
tests/vm/debug-kernel.config (lockdep with PROVE_LOCKING and PROVE_RCU, DEBUG_ATOMIC_SLEEP, KASAN,
kmemleak, DEBUG_OBJECTS, DEBUG_LIST, and the hotplug options the scenarios need), built out of tree
with ccache under $HPNOTIFY_KERNEL_CACHE/debug (kept between runs: a second run rebuilds only what
changed). kmod/ is built against it, and tests/vm/run_tests.py boots it for the module's scenarios,
the stress among them with $HPVM_STRESS_ROUNDS (default here 1000) loads and unloads against a CPU
and a memory block toggling. A scenario fails on any kernel warning, lockdep splat, KASAN report or
"BUG: sleeping function called from invalid context" in its part of the kernel log (run_tests.py
greps every section and the log outside them), and the stress on any kmemleak report after its last
rmmod. The logs of a failing boot are kept in the --out directory.

    python3 tests/vm/debug_kernel.py [--out DIR] [--jobs N] [--keep-logs] [SCENARIO...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import kernels

VM_DIR = Path(__file__).resolve().parent
FRAGMENT = VM_DIR / "debug-kernel.config"
SOURCE_PACKAGE = "linux-source-6.1"
DEBUG_DIR = kernels.CACHE / "debug"
#: The module's scenarios the matrix runs, and the stress, which is the point here.
SCENARIOS = [*kernels.module_scenarios(), "stress"]
#: Lockdep, KASAN and kmemleak make the guest several times slower under TCG: every limit of the
#: harness and of the guest's waits is this many times longer.
TIMEOUT_SCALE = 4


def fetch_source(mirrors: dict[str, str]) -> tuple[str, Path]:
    """The newest SOURCE_PACKAGE of the release's main and security suites, unpacked into the cache:
    (its version, the source tree)."""
    suites = kernels.release_suites()
    candidates = []
    for what, suite in suites:
        if what not in mirrors:
            continue
        apt = kernels.Apt(mirrors[what], suite)
        apt.update()
        try:
            candidates.append((apt.show(SOURCE_PACKAGE)["Version"], apt))
        except subprocess.CalledProcessError:
            continue  # not in this suite
    if not candidates:
        raise kernels.Skip(f"no {SOURCE_PACKAGE} in {' or '.join(suite for _, suite in suites)}")
    version, apt = max(candidates, key=lambda c: kernels._version_key(c[0]))
    # One tree, replaced when the package is: the build directory stays, so make rebuilds what changed.
    tree = DEBUG_DIR / SOURCE_PACKAGE
    stamp = tree / ".hpnotify-version"
    if (tree / "Makefile").is_file() and stamp.is_file() and stamp.read_text().strip() == version:
        return version, tree
    [deb] = apt.download([(SOURCE_PACKAGE, version)], DEBUG_DIR / "debs")
    unpacked = DEBUG_DIR / "deb"
    shutil.rmtree(unpacked, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    [tarball] = (unpacked / "usr" / "src").glob(f"{SOURCE_PACKAGE}.tar.*")
    print(f"unpacking {tarball.name} ({version})", flush=True)
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["tar", "-xaf", str(tarball), "-C", str(DEBUG_DIR)], check=True)
    shutil.rmtree(unpacked)
    if not (tree / "Makefile").is_file():
        raise RuntimeError(f"{tarball.name} did not unpack into {tree}")
    stamp.write_text(version + "\n")
    return version, tree


def config_options(text: str) -> dict[str, str]:
    """A kernel configuration's (or fragment's) options: name -> value, "n" for "# CONFIG_X is not set"."""
    options = {}
    for line in text.splitlines():
        if match := re.fullmatch(r"(CONFIG_\w+)=(.*)", line):
            options[match.group(1)] = match.group(2)
        elif match := re.fullmatch(r"# (CONFIG_\w+) is not set", line):
            options[match.group(1)] = "n"
    return options


def configure(source: Path, build: Path) -> None:
    """defconfig + kvm_guest.config + the fragment; fails when the result lacks one of the fragment's
    options (a dependency Kconfig did not meet), which merge_config.sh only warns about."""
    build.mkdir(parents=True, exist_ok=True)
    make = ["make", "-s", "-C", str(source), f"O={build}"]
    subprocess.run([*make, "x86_64_defconfig"], check=True)
    subprocess.run([str(source / "scripts" / "kconfig" / "merge_config.sh"), "-m", "-O", str(build),
                    str(build / ".config"), str(source / "kernel" / "configs" / "kvm_guest.config"), str(FRAGMENT)],
                   check=True, cwd=build, stdout=subprocess.DEVNULL)
    subprocess.run([*make, "olddefconfig"], check=True)
    final = config_options((build / ".config").read_text())
    wanted = config_options(FRAGMENT.read_text())
    wrong = [f"{name}={value} (got {final.get(name, 'n')})" for name, value in wanted.items()
             if final.get(name, "n") != value]
    if wrong:
        raise RuntimeError(f"the kernel configuration lacks {', '.join(wrong)} ({build}/.config)")


def build_kernel(source: Path, build: Path, root: Path, jobs: int) -> str:
    """Builds bzImage and the modules; installs them under ``root`` as a kernel package would
    (boot/vmlinuz-<release>, boot/config-<release>, lib/modules/<release>); returns the release."""
    compiler = "ccache gcc" if shutil.which("ccache") else "gcc"
    make = ["make", "-C", str(source), f"O={build}", f"-j{jobs}", f"CC={compiler}"]
    started = time.monotonic()
    log = build / "build.log"
    with log.open("w") as out:
        result = subprocess.run([*make, "bzImage", "modules"], stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise RuntimeError("kernel build failed (" + str(log) + "):\n" + "\n".join(tail))
    print(f"kernel built in {time.monotonic() - started:.0f} s ({log})", flush=True)
    release = (build / "include" / "config" / "kernel.release").read_text().strip()
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run([*make, "-s", f"INSTALL_MOD_PATH={root}", "INSTALL_MOD_STRIP=1", "modules_install"],
                   check=True, stdout=subprocess.DEVNULL)
    (root / "boot").mkdir(parents=True)
    shutil.copy2(build / "arch" / "x86" / "boot" / "bzImage", root / "boot" / f"vmlinuz-{release}")
    shutil.copy2(build / ".config", root / "boot" / f"config-{release}")
    return release


def build_module(build: Path, into: Path) -> Path:
    """A copy of kmod/ built against the debug kernel; fails on any warning (the module must build
    clean there as on Debian's kernels)."""
    kernels.copy_module(into)
    result = subprocess.run(["make", "-C", str(into / "kmod"), f"KDIR={build}"], capture_output=True, text=True)
    output = result.stdout + result.stderr
    (into / "build.log").write_text(output)
    warnings = kernels.build_warnings(output)
    if result.returncode != 0 or warnings:
        raise RuntimeError(f"kmod/ against the debug kernel: {(warnings or output.splitlines()[-1:])[0]} "
                           f"({into}/build.log)")
    return into / "kmod"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"run_tests.py scenarios (default: {' '.join(SCENARIOS)})")
    parser.add_argument("--out", type=Path, default=VM_DIR / "out" / "debug-kernel", help="log directory")
    parser.add_argument("--keep-logs", action="store_true", help="keep the logs of passing boots too")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel jobs of the kernel build")
    args = parser.parse_args()
    missing = [tool for tool in ("flex", "bison", "bc", "make", "gcc") if not shutil.which(tool)]
    if missing:
        print(f"debug_kernel.py: {', '.join(missing)} missing (scripts/install-deps.sh installs them)",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        version, source = fetch_source(kernels.debian_mirrors())
        build = DEBUG_DIR / "build"
        root = DEBUG_DIR / "root"
        print(f"{SOURCE_PACKAGE} {version}: configuring {build}", flush=True)
        configure(source, build)
        release = build_kernel(source, build, root, args.jobs)
        kmod = build_module(build, DEBUG_DIR / "kmod")
    except (kernels.Skip, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"debug_kernel.py: {error}", file=sys.stderr)
        return 1
    print(f"kernel {release} and the module ready after {time.monotonic() - started:.0f} s", flush=True)
    env = {**os.environ, "KDIR": str(build), "HPVM_KERNEL_ROOT": str(root), "HPVM_KMOD_DIR": str(kmod),
           "HPVM_TIMEOUT_SCALE": os.environ.get("HPVM_TIMEOUT_SCALE", str(TIMEOUT_SCALE)),
           "HPVM_STRESS_ROUNDS": os.environ.get("HPVM_STRESS_ROUNDS", "1000")}
    result = subprocess.run([sys.executable, str(VM_DIR / "run_tests.py"), "--out", str(args.out),
                             *(["--keep-logs"] if args.keep_logs else []), *(args.scenarios or SCENARIOS)], env=env)
    print(f"debug kernel {release}: run_tests.py exited {result.returncode} after "
          f"{time.monotonic() - started:.0f} s in all; logs of failing boots in {args.out}", flush=True)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
