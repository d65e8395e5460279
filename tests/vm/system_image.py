"""The guest of boot "system": Debian 12 with systemd as PID 1 and the packages of `make deb`.

``build(kernel, artifacts, deb_dir, files, out)`` makes the initramfs:

- bookworm's minbase with systemd, dbus, polkitd, udev, kmod and what the packages depend on (read from
  the .deb files, as tests/deb/chroot_test.py does), without documentation, manual pages and
  translations; made once with mmdebstrap and cached as a tarball (chroot_test's cache,
  HPNOTIFY_CHROOT_CACHE), one per package set;
- unpacked into a temporary directory, where ``dpkg -i`` installs hpplaced, libhpplace1 and
  libhpplace-dev as an administrator would (postinsts run: sysusers makes the user and group, the
  units are enabled). hpnotify-dkms is only unpacked (``dpkg --unpack``): its postinst runs dkms,
  which needs a compiler and the kernel's headers, which the image does not carry. The module the
  harness built goes into /lib/modules/<ver>/updates/ (depmod), and the package's modules-load.d
  entry loads it at boot;
- ``files`` (guest path -> content: the test's units, the daemon's config, the guest scripts) and
  ``/init``, a link to systemd;
- packed as a gzip'd cpio archive (vmlib.Initramfs).

A missing package set is ``Missing`` (the scenarios are skipped with its reason).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import vmlib

sys.path.insert(0, str(vmlib.REPO_ROOT / "tests" / "deb"))
import chroot_test  # noqa: E402  (its cached mmdebstrap tarballs and run_in)

#: The .deb files of `make deb`, by package name.
PACKAGES = chroot_test.OURS
#: What the guest runs besides the packages: systemd as PID 1, the system bus, polkit (the daemon's
#: SetUnitProperties is authorised by the package's rule), udev (the daemon's fallback source) and kmod
#: (systemd-modules-load).
BASE = ("dbus", "kmod", "polkitd", "systemd", "udev")
#: dkms is what hpnotify-dkms depends on; the image has the built module instead (module docstring).
LEFT_OUT = {"dkms"}
#: No documentation, manual pages or translations: the image is unpacked into the guest's RAM.
DPKG_OPTIONS = tuple(f"--dpkgopt={option}" for option in (
    "path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/hpplaced/*", "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*", "path-exclude=/usr/share/info/*"))
#: Not needed by a guest that lives for a minute: udev's hardware database (compiled and sources) and
#: apt's caches.
PRUNED = ("usr/lib/udev/hwdb.bin", "usr/lib/udev/hwdb.d", "etc/udev/hwdb.bin", "var/cache/apt", "var/lib/apt/lists")


class Missing(Exception):
    """What the image needs is not there; the message says what and how to make it."""


def debs(deb_dir: Path) -> dict[str, Path]:
    """The packages' .deb files in ``deb_dir``; Missing unless all of PACKAGES are there."""
    found = {p.name.split("_")[0]: p for p in sorted(Path(deb_dir).glob("*.deb"))}
    absent = [name for name in PACKAGES if name not in found]
    if absent:
        raise Missing(f"no {', '.join(absent)} .deb in {deb_dir} (make deb)")
    return {name: found[name] for name in PACKAGES}


def packages(packages_debs: dict[str, Path]) -> list[str]:
    """What the rootfs holds besides minbase: BASE and the packages' dependencies."""
    wanted = set(BASE).union(*(chroot_test.depends(deb) for deb in packages_debs.values()))
    return sorted(wanted - set(PACKAGES) - LEFT_OUT)


def build(kernel: vmlib.Kernel, artifacts: vmlib.Artifacts, deb_dir: Path, files: dict[str, bytes | str],
          setup: str, out: Path) -> Path:
    """The initramfs (module docstring); ``setup`` is a shell script run in the root after the
    packages are installed (users, enabled units). Returns ``out``."""
    found = debs(deb_dir)
    if not artifacts.hpnotify_ko:
        raise Missing(f"no {artifacts.kmod_dir}/hpnotify.ko (make kmod)")
    tarball = chroot_test.chroot_tarball(packages(found), DPKG_OPTIONS)
    work = Path(tempfile.mkdtemp(prefix="hpvm-system-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    try:
        root = work / "root"
        root.mkdir()
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(root)], check=True)
        (root / "tmp/debs").mkdir(parents=True, exist_ok=True)
        for deb in found.values():
            shutil.copy(deb, root / "tmp/debs")
        names = {name: f"/tmp/debs/{deb.name}" for name, deb in found.items()}
        installed = [names[n] for n in PACKAGES if n != "hpnotify-dkms"]
        _run(root, f"dpkg --unpack {names['hpnotify-dkms']} && dpkg -i {' '.join(installed)}", "installing the packages")
        shutil.rmtree(root / "tmp/debs")
        for path, data in files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.encode() if isinstance(data, str) else data)
            target.chmod(0o755 if path.endswith(".sh") else 0o644)
        _run(root, setup, "setting the guest up")
        modules = root / "lib/modules" / kernel.version
        (modules / "updates").mkdir(parents=True, exist_ok=True)
        shutil.copy(artifacts.hpnotify_ko, modules / "updates/hpnotify.ko")
        for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
            if (kernel.modules_dir / name).is_file():
                shutil.copy(kernel.modules_dir / name, modules / name)
        subprocess.run(["depmod", "-b", str(root), kernel.version], check=True)
        for path in PRUNED:
            target = root / path
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        image = vmlib.Initramfs(kernel)
        image.add_tree(root)
        image.add_symlink("/init", "/lib/systemd/systemd")
        return image.write(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(root: Path, script: str, what: str) -> None:
    result = chroot_test.run_in(root, "set -e\n" + script)
    if result.returncode != 0:
        raise vmlib.VmError(f"{what} in the image failed (exit status {result.returncode}): "
                            f"{(result.stdout + result.stderr).strip()[-1500:]}")


if __name__ == "__main__":
    # python3 tests/vm/system_image.py DEB_DIR: makes (or finds) the cached rootfs tarball.
    print(chroot_test.chroot_tarball(packages(debs(Path(sys.argv[1]))), DPKG_OPTIONS))
