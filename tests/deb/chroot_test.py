#!/usr/bin/env python3
"""The Debian packages of `make deb` install and purge cleanly in a Debian 12 chroot.

    tests/deb/chroot_test.py DEB_DIR            (make deb-test, part of make test)

The chroot is bookworm's minbase plus what the packages depend on (read from the .deb files),
linux-headers-amd64 and dbus, polkitd and systemd, made with mmdebstrap from the mirror the system's apt sources name and kept as a
tarball in HPNOTIFY_CHROOT_CACHE (default /var/cache/hpnotify-chroots), one per set of packages. Each
run unpacks it into a temporary directory and, in a private mount namespace with /proc and /dev:

- dpkg -i all four packages: status "install ok installed", hpctl and hpplaced run, group hpplace
  and user hpplaced exist (sysusers.d), the unit is enabled by deb-systemd-helper (the
  multi-user.target.wants link and its state file) and not started (no systemd runs here), the
  config is a conffile, libhpplace is in the multiarch directory with its pkg-config and CMake files,
  the man pages are there;
- polkit: a polkitd on the chroot's own system bus, asked with pkcheck, lets a process of the user
  hpplaced set units' properties and nothing else of systemd's manage-units, and nobody not even that;
- hpnotify-dkms ships no prebuilt module; dkms builds and installs hpnotify.ko for the headers'
  kernel, without "bad exit status" (the postinst builds only for the running kernel, and only when
  its headers are there: this runs dkms build and install for every kernel with headers);
- dpkg -P all four: every file the packages or their scripts made is gone (module, unit link,
  deb-systemd-helper state, /etc/hpplaced), except the system user and group (kept, as Debian's
  policy asks for system accounts) and depmod's index files.

Prints each phase's duration. Exit status 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vm"))
from kernels import debian_mirrors  # noqa: E402  (the same reading of the apt sources)

CACHE = Path(os.environ.get("HPNOTIFY_CHROOT_CACHE", "/var/cache/hpnotify-chroots"))
SUITE = "bookworm"
OURS = ("hpnotify-dkms", "hpplaced", "libhpplace1", "libhpplace-dev")
# Base system files a purge may leave changed: the system group and user stay.
ACCOUNT_FILES = {f"/etc/{name}{suffix}" for name in ("passwd", "group", "shadow", "gshadow") for suffix in ("", "-")}
# What dpkg, apt and the triggers keep for themselves, not the packages' files.
IGNORED = re.compile(r"^/(proc|dev|sys|run|tmp|var/lib/dpkg|var/log|var/cache/debconf|var/cache/ldconfig)(/|$)"
                     # depmod's indexes of a kernel's modules, written when dkms installs one
                     r"|^/usr/lib/modules/[^/]+/modules\.[a-z.]+$")

# A real polkitd on a system bus of the chroot's own judges the package's rule against systemd's
# action (systemd ships org.freedesktop.systemd1.policy); hpplaced recommends polkitd.
POLKIT_PACKAGES = ("dbus", "polkitd", "systemd")
# pkcheck for action manage-units with verb V for a process of user U: its exit status, one line each.
POLKIT_CHECK = r"""
    mkdir -p /run/dbus
    dbus-daemon --system --fork || { echo "polkit: dbus-daemon did not start"; exit 1; }
    /usr/lib/polkit-1/polkitd --no-debug >/tmp/polkitd.log 2>&1 &
    polkitd=$!
    i=0
    until dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner             string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q 'boolean true'; do
        i=$((i + 1)); [ $i -le 300 ] || { echo "polkit: polkitd not on the bus within 30 s"; cat /tmp/polkitd.log; break; }
        sleep 0.1
    done
    for case in hpplaced:set-property hpplaced:start hpplaced:stop nobody:set-property; do
        user=${case%%:*} verb=${case#*:}
        setpriv --reuid="$user" --regid=nogroup --clear-groups sleep 60 &
        pid=$!
        # Asked before setpriv has exec'd sleep as $user, polkit would judge a root process.
        i=0
        until [ "$(readlink /proc/$pid/exe)" = /usr/bin/sleep ] && [ "$(stat -c %u /proc/$pid)" = "$(id -u "$user")" ]; do
            i=$((i + 1)); [ $i -le 100 ] || { echo "polkit: process $pid never became sleep as $user"; break; }
            sleep 0.05
        done
        pkcheck --action-id org.freedesktop.systemd1.manage-units --process "$pid"             --detail unit web.service --detail verb "$verb" >/dev/null 2>&1
        echo "polkit $user $verb $?"
        kill "$pid"
    done
    kill "$polkitd"
    kill "$(cat /run/dbus/pid)"
"""

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        failures.append(what)


def depends(deb: Path) -> set[str]:
    """The packages ``deb`` depends on, first alternative of each, versions dropped."""
    names: set[str] = set()
    for field in ("Pre-Depends", "Depends"):
        text = subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True,
                              check=True).stdout
        for clause in filter(None, (c.strip() for c in text.replace("\n", " ").split(","))):
            names.add(re.split(r"[\s(:]", clause.split("|")[0].strip())[0])
    return names


def chroot_tarball(packages: list[str], options: tuple[str, ...] = ()) -> Path:
    """bookworm's minbase with ``packages`` (and mmdebstrap ``options``), made once and cached."""
    key = hashlib.sha256(" ".join([SUITE, *packages, *options]).encode()).hexdigest()[:16]
    tarball = CACHE / f"{SUITE}-{key}.tar"
    if tarball.exists():
        print(f"chroot: {tarball} (cached)")
        return tarball
    mirrors = debian_mirrors()
    sources = [f"deb {mirrors['debian']} {SUITE} main", f"deb {mirrors['debian']} {SUITE}-updates main"]
    if "security" in mirrors:
        sources.append(f"deb {mirrors['security']} {SUITE}-security main")
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial.tar")
    print(f"chroot: making {tarball} from {', '.join(mirrors.values())} with {' '.join(packages)}", flush=True)
    result = subprocess.run(["mmdebstrap", "--variant=minbase", f"--include={','.join(packages)}", *options,
                             SUITE, str(partial), *sources], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"chroot_test: mmdebstrap failed:\n{result.stderr[-3000:]}")
    partial.rename(tarball)
    return tarball


def run_in(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) in the chroot, in a mount namespace of its own with /proc and the host's /dev."""
    setup = ('mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && '
             'exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 sh -c "$1"')
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", setup, str(root), script],
                          capture_output=True, text=True)


def files(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = "/" + os.path.relpath(dirpath, root).lstrip(".")
        rel = "/" if rel == "/" else rel.rstrip("/")
        dirnames[:] = [d for d in dirnames if not IGNORED.match(f"{rel.rstrip('/')}/{d}")]
        for name in dirnames + filenames:
            path = f"{rel.rstrip('/')}/{name}"
            if not IGNORED.match(path):
                found.add(path)
    return found


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    debs = sorted(p for p in Path(sys.argv[1]).glob("*.deb") if not p.name.split("_")[0].endswith("-dbgsym"))
    names = [p.name.split("_")[0] for p in debs]
    if sorted(names) != sorted(OURS):
        sys.exit(f"chroot_test: expected the .deb files of {', '.join(OURS)} in {sys.argv[1]}, found {names}")
    started = time.monotonic()
    shipped = subprocess.run(["dpkg-deb", "-c", str(debs[names.index("hpnotify-dkms")])], capture_output=True,
                             text=True, check=True).stdout
    check(".ko" not in shipped and "/usr/src/hpnotify-1.0/dkms.conf" in shipped,
          "hpnotify-dkms ships the DKMS source and no prebuilt module")
    wanted = set().union(*(depends(deb) for deb in debs)) - set(OURS)
    tarball = chroot_tarball(sorted(wanted | {"linux-headers-amd64", *POLKIT_PACKAGES}))
    made = time.monotonic()

    work = Path(tempfile.mkdtemp(prefix="hpplace-chroot-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    try:
        root = work / "root"
        root.mkdir()
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(root)], check=True)
        # deb-systemd-invoke asks policy-rc.d: start nothing (no systemd runs here anyway).
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (root / "tmp/debs").mkdir(parents=True)
        for deb in debs:
            shutil.copy(deb, root / "tmp/debs")
        before = files(root)
        unpacked = time.monotonic()

        print("dpkg -i " + " ".join(p.name for p in debs), flush=True)
        install = run_in(root, "dpkg -i /tmp/debs/*.deb")
        check(install.returncode == 0, f"dpkg -i exit status {install.returncode}")
        if install.returncode != 0:
            print(install.stdout[-4000:] + install.stderr[-4000:])
        check("bad exit status" not in install.stdout + install.stderr, "no 'bad exit status' from dkms")
        state = run_in(root, "dpkg-query -W -f='${Package} ${Status}\\n' " + " ".join(OURS)).stdout
        for name in OURS:
            check(f"{name} install ok installed" in state, f"{name} installed")
        probe = run_in(root, r"""
            hpctl --help >/dev/null && echo hpctl-runs
            hpplaced --help >/dev/null && echo hpplaced-runs
            getent group hpplace >/dev/null && echo group-hpplace
            getent passwd hpplaced >/dev/null && echo user-hpplaced
            [ "$(readlink /etc/systemd/system/multi-user.target.wants/hpplaced.service)" = /lib/systemd/system/hpplaced.service ] && echo unit-enabled
            [ -e /var/lib/systemd/deb-systemd-helper-enabled/hpplaced.service.dsh-also ] && echo dsh-state
            [ "$(readlink /etc/systemd/system/sockets.target.wants/hpplaced.socket)" = /lib/systemd/system/hpplaced.socket ] && echo socket-enabled
            dpkg-query -W -f='${Conffiles}' hpplaced | grep -q ' /etc/hpplaced/hpplaced.conf ' && echo conffile
            m=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
            [ -e /usr/lib/$m/libhpplace.so.1 ] && [ -e /usr/lib/$m/pkgconfig/hpplace.pc ] && [ -e /usr/lib/$m/cmake/hpplace/hpplaceConfig.cmake ] && echo multiarch
            grep -qx hpnotify /usr/lib/modules-load.d/hpnotify.conf && echo modules-load
            doc=$(sed -n 's|^Documentation=.*file:\([^ ]*\).*|\1|p' /lib/systemd/system/hpplaced.service)
            [ -n "$doc" ] && [ -f "$doc" ] && echo documentation
            grep -q '^ExecStart=/usr/sbin/hpplaced$' /lib/systemd/system/hpplaced.service && echo execstart
            for page in man8/hpplaced.8 man8/hpctl.8 man5/hpplaced.conf.5; do
                [ -f /usr/share/man/$page.gz ] || exit 0
            done
            echo man-pages
        """).stdout.split()
        for token, what in (("hpctl-runs", "hpctl --help runs"), ("hpplaced-runs", "hpplaced --help runs"),
                            ("group-hpplace", "group hpplace exists"), ("user-hpplaced", "user hpplaced exists"),
                            ("unit-enabled", "multi-user.target.wants/hpplaced.service links the unit"),
                            ("dsh-state", "deb-systemd-helper holds hpplaced.service as enabled"),
                            ("socket-enabled", "sockets.target.wants/hpplaced.socket links the socket unit"),
                            ("conffile", "/etc/hpplaced/hpplaced.conf is a conffile"),
                            ("multiarch", "libhpplace, hpplace.pc and the CMake package in /usr/lib/<multiarch>"),
                            ("modules-load", "modules-load.d entry hpnotify"),
                            ("documentation", "the unit's Documentation= file is installed"),
                            ("execstart", "the unit's ExecStart= is /usr/sbin/hpplaced"),
                            ("man-pages", "man pages hpplaced(8), hpctl(8), hpplaced.conf(5)")):
            check(token in probe, what)
        polkit = run_in(root, POLKIT_CHECK)
        verdicts = dict((tuple(line.split()[1:3]), line.split()[3]) for line in polkit.stdout.splitlines()
                        if line.startswith("polkit ") and len(line.split()) == 4)
        if len(verdicts) != 4:
            print(polkit.stdout[-3000:] + polkit.stderr[-3000:])
        # pkcheck: 0 authorized; 1 not authorized, 2 only after an administrator's authentication, which
        # the daemon's calls (not interactive) never offer: both are refusals.
        for user, verb, allowed in (("hpplaced", "set-property", True), ("hpplaced", "start", False),
                                    ("hpplaced", "stop", False), ("nobody", "set-property", False)):
            got = verdicts.get((user, verb))
            check(got == "0" if allowed else got in ("1", "2"),
                  f"polkit: manage-units verb {verb} for user {user} {'allowed' if allowed else 'refused'} "
                  f"(pkcheck exit status {got})")
        installed = time.monotonic()

        headers = sorted(p.name for p in (root / "lib/modules").iterdir() if (p / "build").exists())
        check(bool(headers), f"kernel headers in the chroot: {headers}")
        for kernel in headers:
            build = run_in(root, f"dkms build -m hpnotify -v 1.0 -k {kernel} && dkms install -m hpnotify -v 1.0 -k {kernel}"
                                 " && dkms status -m hpnotify")
            out = build.stdout + build.stderr
            check(build.returncode == 0, f"dkms build and install for {kernel} (exit status {build.returncode})")
            if build.returncode != 0:
                print(out[-4000:])
                log = root / f"var/lib/dkms/hpnotify/1.0/build/make.log"
                if log.exists():
                    print(log.read_text()[-3000:])
            check("bad exit status" not in out, f"dkms build for {kernel}: no 'bad exit status'")
            check(re.search(rf"hpnotify/1\.0, {re.escape(kernel)}, x86_64: installed", out) is not None,
                  f"dkms status: hpnotify/1.0 installed for {kernel}")
            modules = list((root / "lib/modules" / kernel).rglob("hpnotify.ko*"))
            check(len(modules) == 1, f"one hpnotify.ko for {kernel}: {[str(m.relative_to(root)) for m in modules]}")
        built = time.monotonic()

        purge = run_in(root, "dpkg -P " + " ".join(OURS))
        check(purge.returncode == 0, f"dpkg -P exit status {purge.returncode}")
        if purge.returncode != 0:
            print(purge.stdout[-4000:] + purge.stderr[-4000:])
        after = files(root)
        left = sorted(after - before - ACCOUNT_FILES)
        check(not left, f"nothing left after purge: {left[:20]}")
        gone = sorted(before - after)
        check(not gone, f"nothing of the base system removed: {gone[:20]}")
        accounts = run_in(root, "getent group hpplace; getent passwd hpplaced").stdout.splitlines()
        check(len(accounts) == 2, "the system group and user stay after purge (Debian policy)")
        purged = time.monotonic()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"durations: chroot {made - started:.0f} s, unpack {unpacked - made:.0f} s, dpkg -i "
          f"{installed - unpacked:.0f} s, dkms {built - installed:.0f} s, dpkg -P {purged - built:.0f} s, "
          f"total {time.monotonic() - started:.0f} s")
    if failures:
        print(f"chroot_test: {len(failures)} check(s) failed: {'; '.join(failures)}")
        return 1
    print("chroot_test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
