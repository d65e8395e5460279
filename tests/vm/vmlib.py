"""vmlib: boot Debian's kernel under QEMU (TCG) with a busybox initramfs and talk to the guest.

A small library for VM scenarios (kernel module, daemon, client library). Python 3.11 stdlib only.

Pieces, in the order a test uses them:

- ``find_kernel()`` picks the kernel the same way ``scripts/kdir.sh`` does and returns a ``Kernel``
  (version, image, build tree, module tree).
- ``Artifacts.from_env()`` locates what the project built: ``kmod/hpnotify.ko``, ``kmod/test/*.ko`` and
  the binaries in ``$HPPLACE_BUILD_DIR/bin`` (default ``build/``).
- ``Initramfs`` collects files (with the shared libraries of executables, found by ``ldd``, and Debian
  kernel modules with their dependencies) and writes a gzip'd cpio "newc" archive in pure Python.
  ``build_initramfs()`` assembles the standard guest: busybox, ``/init``, ``/hp/lib.sh``, our artifacts,
  an unprivileged user and a guest script.
- ``Vm`` boots QEMU in the standard two-node NUMA layout (``Vm``'s docstring). Two serial ports:
  ttyS0 carries the kernel console (saved to ``<name>.console.log``), ttyS1 the guest's user space
  (``/init`` and the scenario scripts: ``<name>.guest.log``). User space therefore never interleaves
  with kernel messages and marker lines stay whole. ``<name>.log`` merges both with host timestamps.
- ``Vm.run()`` follows the guest's marker lines (see below) and returns a ``GuestRun``.
- ``Qmp`` is a tiny QMP client; ``hotadd_cpu()`` and ``hotadd_dimm()`` are the hotplug helpers.

Guest -> host markers (one per line on ttyS1, matched anywhere in the line):

    @@BOOTED                       /init reached user space
    @@BEGIN <section>              a scenario section starts
    @@OUT <section>/<name>: <text> one line of output <name>
    @@OUTEND <section>/<name>      output <name> is complete (may have had no lines)
    @@RC <section>/<name> <int>    exit status of command <name>
    @@HOST <action> [k=v ...]      ask the host to act (QMP); the host answers "ok" or "error: ..."
                                   on ttyS1, which the guest reads (``host`` in lib.sh)
    @@END <section> <int>          the section's exit status
    @@EXIT <int>                   the guest script's exit status, then /init powers off

The guest side of these markers lives in ``guest/lib.sh`` (installed as ``/hp/lib.sh``).
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import io
import json
import lzma
import os
import queue
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

REPO_ROOT = Path(__file__).resolve().parents[2]
VM_DIR = Path(__file__).resolve().parent
GUEST_DIR = VM_DIR / "guest"
DEFAULT_OUT_DIR = VM_DIR / "out"

#: Kernel log patterns that mean something went wrong in the kernel.
KERNEL_TROUBLE_PATTERNS = ("WARNING:", "BUG:", "Oops", "general protection", "Call Trace", "Kernel panic")

#: Block size of hot-added memory in the guest and of the DIMM helper's default.
MiB = 1 << 20

#: The virtio-mem device of a VM made with ``virtio_mem=``: its id and its block size, the memory block
#: size of x86-64, so that every plug or unplug is whole memory blocks with their notifier events (with
#: smaller blocks the driver unplugs parts of an online block without offlining it, which no hotplug
#: notifier reports).
VIRTIO_MEM_ID = "vmem0"
VIRTIO_MEM_BLOCK = 128 * MiB

UNPRIVILEGED_USER = "user"
UNPRIVILEGED_UID = 1000
DAEMON_USER = "hpplaced"
DAEMON_UID = 990  # daemon_guest.sh's DAEMON_UID
# Host executables every guest gets, in /hp/host: util-linux setpriv starts hpplaced with the
# uid, capability bounding set, ambient capabilities and no_new_privs of dist/hpplaced.service. Call them
# by that absolute path: busybox sh runs its own applet of the same name (a smaller setpriv without
# --bounding-set) for a bare name, whatever PATH says.
GUEST_HOST_TOOLS = ("setpriv",)


class VmError(Exception):
    """Anything that keeps a VM from booting or the harness from talking to it."""


# --------------------------------------------------------------------------------------------------
# Kernel and artifacts
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A Debian kernel that can be booted: its image, its headers and its module tree."""

    version: str
    image: Path
    build_dir: Path
    modules_dir: Path

    def boot_image(self, cache_dir: Path = DEFAULT_OUT_DIR) -> Path:
        """What QEMU's -kernel gets. Under TCG the bzImage's own xz decompression costs 6-9 s per boot,
        so when the kernel can boot as a PVH ELF (CONFIG_PVH=y) the decompressed vmlinux is extracted
        once into ``cache_dir`` and booted directly. HPVM_BZIMAGE=1 forces the bzImage."""
        config = self.image.parent / f"config-{self.version}"
        if os.environ.get("HPVM_BZIMAGE") == "1" or not config.is_file() \
                or "CONFIG_PVH=y" not in config.read_text(errors="replace").splitlines():
            return self.image
        vmlinux = Path(cache_dir) / f"vmlinux-{self.version}"
        if vmlinux.is_file() and vmlinux.stat().st_mtime >= self.image.stat().st_mtime:
            return vmlinux
        data = self.image.read_bytes()
        start = data.find(b"\xfd7zXZ\x00")
        if start < 0:
            return self.image
        try:
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
        except lzma.LZMAError:
            return self.image
        if not elf.startswith(b"\x7fELF"):
            return self.image
        vmlinux.parent.mkdir(parents=True, exist_ok=True)
        partial = vmlinux.with_suffix(".partial")
        partial.write_bytes(elf)
        partial.replace(vmlinux)
        return vmlinux

    def is_builtin(self, name: str) -> bool:
        """Whether modules.builtin lists ``name`` (``-`` and ``_`` are equivalent)."""
        builtin = self.modules_dir / "modules.builtin"
        wanted = name.replace("-", "_") + ".ko"
        return builtin.is_file() and any(line.rsplit("/", 1)[-1].replace("-", "_") == wanted
                                         for line in builtin.read_text().split())

    def find_module(self, name: str) -> Path:
        """Path of the Debian module ``name`` (``-`` and ``_`` are equivalent) under kernel/."""
        wanted = {name.replace("-", "_") + suffix for suffix in (".ko", ".ko.xz", ".ko.zst", ".ko.gz")}
        for path in sorted((self.modules_dir / "kernel").rglob("*.ko*")):
            if path.name.replace("-", "_") in wanted:
                return path
        raise VmError(f"kernel module {name} not found under {self.modules_dir}/kernel")


def find_kernel(release: str | None = None) -> Kernel:
    """Pick the kernel like scripts/kdir.sh: $KDIR's when set (the Makefile exports it, so the VM boots
    the kernel the module was built for), else the running one's build tree if present, else the newest
    /lib/modules/<ver>/build that has a /boot/vmlinuz-<ver>. The VM boots it, so its image must exist."""
    kdir = os.environ.get("KDIR")
    if release is None and kdir:
        return _kernel_of_build_tree(Path(kdir))
    release = release or os.uname().release
    running = Path("/lib/modules") / release
    candidates = []
    if (running / "build").is_dir():
        candidates.append(release)
    versions = sorted(
        (p.parent.name for p in Path("/lib/modules").glob("*/build") if p.is_dir()),
        key=_version_key,
        reverse=True,
    )
    candidates += [v for v in versions if v not in candidates]
    for version in candidates:
        image = Path("/boot") / f"vmlinuz-{version}"
        if image.is_file():
            modules = Path("/lib/modules") / version
            return Kernel(version, image, modules / "build", modules)
    raise VmError("no kernel with both /lib/modules/<ver>/build and /boot/vmlinuz-<ver> "
                  "(install linux-image-amd64 linux-headers-amd64)")


def _kernel_of_build_tree(build: Path) -> Kernel:
    header = build / "include" / "generated" / "utsrelease.h"
    match = re.search(r'UTS_RELEASE "([^"]+)"', header.read_text()) if header.is_file() else None
    if not match:
        raise VmError(f"KDIR={build}: no kernel build tree (no release in {header})")
    version = match.group(1)
    # $HPVM_KERNEL_ROOT: a directory Debian's kernel packages were unpacked into (tests/vm/kernels.py),
    # holding boot/vmlinuz-<ver> and lib/modules/<ver>; default: the installed ones.
    root = Path(os.environ.get("HPVM_KERNEL_ROOT") or "/")
    image = root / "boot" / f"vmlinuz-{version}"
    if not image.is_file():
        raise VmError(f"KDIR={build} is kernel {version}, but {image} is not installed: the VM boots the "
                      f"kernel the module is built for (apt-get install linux-image-{version})")
    return Kernel(version, image, build, root / "lib" / "modules" / version)


def _version_key(version: str) -> list:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-+~]", version)]


@dataclasses.dataclass(frozen=True)
class Artifacts:
    """Where the project's build products are. ``None``/empty when not built."""

    build_dir: Path
    kmod_dir: Path

    @classmethod
    def from_env(cls) -> "Artifacts":
        """$HPPLACE_BUILD_DIR (default build/) and $HPVM_KMOD_DIR (default kmod/), relative to the
        repository."""
        build = REPO_ROOT / os.environ.get("HPPLACE_BUILD_DIR", "build")
        return cls(build_dir=build, kmod_dir=REPO_ROOT / os.environ.get("HPVM_KMOD_DIR", "kmod"))

    @property
    def hpnotify_ko(self) -> Path | None:
        path = self.kmod_dir / "hpnotify.ko"
        return path if path.is_file() else None

    @property
    def test_modules(self) -> list[Path]:
        return sorted((self.kmod_dir / "test").glob("*.ko"))

    def binary(self, name: str) -> Path | None:
        path = self.build_dir / "bin" / name
        return path if path.is_file() and os.access(path, os.X_OK) else None


# --------------------------------------------------------------------------------------------------
# Initramfs
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Entry:
    mode: int
    data: bytes = b""
    uid: int = 0
    gid: int = 0
    rdev: tuple[int, int] = (0, 0)


class Initramfs:
    """An initramfs under construction: guest path -> file. ``write()`` makes the .cpio.gz."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self._entries: dict[str, _Entry] = {}
        self._module_deps: dict[str, list[str]] = {}  # guest relative path -> deps (modules.dep)
        self._host_deps: dict[str, list[str]] | None = None

    # -- plain entries --------------------------------------------------------------------------

    def add_dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        path = _normalize(path)
        self._add_parents(path)
        self._entries[path] = _Entry(stat.S_IFDIR | mode, uid=uid, gid=gid)

    def add_bytes(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """A regular file with the given content."""
        path = _normalize(path)
        self._add_parents(path)
        if isinstance(data, str):
            data = data.encode()
        self._entries[path] = _Entry(stat.S_IFREG | mode, data)

    def add_file(self, path: str, host_path: Path, mode: int | None = None) -> None:
        """A copy of a host file (symlinks followed), keeping its permission bits unless given."""
        host_path = Path(host_path)
        data = host_path.read_bytes()
        self.add_bytes(path, data, mode if mode is not None else stat.S_IMODE(host_path.stat().st_mode))

    def add_symlink(self, path: str, target: str) -> None:
        path = _normalize(path)
        self._add_parents(path)
        self._entries[path] = _Entry(stat.S_IFLNK | 0o777, target.encode())

    def add_char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = _normalize(path)
        self._add_parents(path)
        self._entries[path] = _Entry(stat.S_IFCHR | mode, rdev=(major, minor))

    def add_tree(self, host_root: Path) -> None:
        """Everything under ``host_root`` at the same paths below /, with its owners and modes
        (a root file system: tests/vm/system_image.py). Hard links become copies; sockets and FIFOs
        are left out."""
        host_root = Path(host_root)
        for directory, dirnames, filenames in os.walk(host_root):
            for name in sorted(dirnames) + sorted(filenames):
                host_path = Path(directory) / name
                path = _normalize(host_path.relative_to(host_root).as_posix())
                info = host_path.lstat()
                kind = stat.S_IFMT(info.st_mode)
                if kind == stat.S_IFREG:
                    data = host_path.read_bytes()
                elif kind == stat.S_IFLNK:
                    data = os.readlink(host_path).encode()
                elif kind in (stat.S_IFDIR, stat.S_IFCHR, stat.S_IFBLK):
                    data = b""
                else:
                    continue
                rdev = (os.major(info.st_rdev), os.minor(info.st_rdev)) if kind in (stat.S_IFCHR, stat.S_IFBLK) \
                    else (0, 0)
                self._entries[path] = _Entry(info.st_mode, data, info.st_uid, info.st_gid, rdev)

    def __contains__(self, path: str) -> bool:
        return _normalize(path) in self._entries

    # -- executables and modules ----------------------------------------------------------------

    def add_executable(self, host_path: Path, path: str | None = None) -> str:
        """An executable plus its shared libraries and ELF interpreter (from ``ldd``), at the paths
        ldd names so the guest's loader finds them. Returns the guest path."""
        host_path = Path(host_path)
        path = path or f"/hp/bin/{host_path.name}"
        self.add_file(path, host_path, 0o755)
        for library in shared_libraries(host_path):
            if library not in self:
                self.add_file(library, Path(library), 0o755)
        return path

    def add_python(self, imports: Iterable[str]) -> str:
        """Debian's python3 (``GUEST_PYTHON``) and, byte-compiled, the standard-library modules that
        importing ``imports`` loads on the host, plus the repository's package ``python/hpplace`` in
        ``/hp/python`` (on ``PYTHONPATH`` in the guest: guest/init.sh). Only what is imported goes in,
        not the whole standard library. Returns the guest path of the interpreter."""
        files = python_files(GUEST_PYTHON, REPO_ROOT / "python", imports)
        for path, data in files.items():
            self.add_bytes(path, data, 0o755 if path.endswith(".so") else 0o644)
            if path.endswith(".so"):
                for library in shared_libraries(Path(path)):
                    if library not in self:
                        self.add_file(library, Path(library), 0o755)
        executable = os.path.realpath(GUEST_PYTHON)
        self.add_executable(Path(executable), executable)
        self.add_symlink("/usr/bin/python3", os.path.basename(executable))
        # The interpreter finds its prefix by these landmarks next to its own directory.
        self.add_dir(f"/usr/lib/{os.path.basename(executable)}/lib-dynload")
        return executable

    def add_kernel_module(self, name: str) -> str:
        """A Debian kernel module and, recursively, those it depends on (``modinfo -F depends``),
        under /lib/modules/<ver>/kernel/, listed in modules.dep so busybox ``modprobe <name>`` works.
        Compressed modules are stored decompressed. Returns the guest path; "" for a module the kernel
        has built in (modules.builtin: virtio_pci from 6.12 on), which modprobe then finds there."""
        if self.kernel.is_builtin(name):
            builtin = f"/lib/modules/{self.kernel.version}/modules.builtin"
            if builtin not in self._entries:
                self.add_bytes(builtin, (self.kernel.modules_dir / "modules.builtin").read_bytes(), 0o644)
            return ""
        host_path = self.kernel.find_module(name)
        relative = host_path.relative_to(self.kernel.modules_dir).as_posix()
        data = _read_module(host_path)
        relative = _strip_compression(relative)
        guest = f"/lib/modules/{self.kernel.version}/{relative}"
        if guest in self:
            return guest
        self.add_bytes(guest, data, 0o644)
        deps = []
        for dep in _module_depends(host_path):
            dep_guest = self.add_kernel_module(dep)
            if dep_guest:
                deps.append(dep_guest.split(f"/lib/modules/{self.kernel.version}/", 1)[1])
        # modules.dep lists every module a module needs, directly or not, in reverse load order (modprobe
        # loads from the last): the host's line has that order, our direct list only when it is one deep.
        self._module_deps[relative] = self._host_module_deps().get(relative, deps)
        return guest

    def _host_module_deps(self) -> dict[str, list[str]]:
        """The kernel's modules.dep, read once: module -> dependencies, without compression suffixes."""
        if self._host_deps is None:
            self._host_deps = {}
            path = self.kernel.modules_dir / "modules.dep"
            for line in (path.read_text().splitlines() if path.is_file() else []):
                module, _, deps = line.partition(":")
                self._host_deps[_strip_compression(module)] = [_strip_compression(d) for d in deps.split()]
        return self._host_deps

    # -- output ---------------------------------------------------------------------------------

    def write(self, out: Path) -> Path:
        """Writes the gzip'd newc cpio archive; returns ``out``."""
        if self._module_deps:
            dep_lines = "".join(f"{m}: {' '.join(d)}\n" for m, d in sorted(self._module_deps.items()))
            self.add_bytes(f"/lib/modules/{self.kernel.version}/modules.dep", dep_lines)
        raw = io.BytesIO()
        for inode, (path, entry) in enumerate(sorted(self._entries.items()), start=1):
            _cpio_entry(raw, path.lstrip("/"), entry, inode)
        _cpio_entry(raw, "TRAILER!!!", _Entry(0), 0)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(out, "wb", compresslevel=1) as f:
            f.write(raw.getvalue())
        return out

    def _add_parents(self, path: str) -> None:
        parent = path.rsplit("/", 1)[0]
        if parent and parent not in self._entries:
            self._add_parents(parent)
            self._entries[parent] = _Entry(stat.S_IFDIR | 0o755)


def _normalize(path: str) -> str:
    path = "/" + str(path).strip("/")
    if "/../" in path + "/" or "/./" in path + "/":
        raise VmError(f"initramfs path {path!r} must be normalized")
    return path


def _cpio_entry(out: io.BytesIO, name: str, entry: _Entry, inode: int) -> None:
    name_bytes = name.encode() + b"\0"
    fields = (inode, entry.mode, entry.uid, entry.gid, 1, 0, len(entry.data), 0, 0,
              entry.rdev[0], entry.rdev[1], len(name_bytes), 0)
    out.write(b"070701" + b"".join(b"%08X" % v for v in fields))
    out.write(name_bytes)
    out.write(b"\0" * (-(110 + len(name_bytes)) % 4))
    out.write(entry.data)
    out.write(b"\0" * (-len(entry.data) % 4))


def shared_libraries(executable: Path) -> list[str]:
    """The shared libraries and the ELF interpreter ``ldd`` lists for ``executable`` (empty for a
    static one)."""
    result = subprocess.run(["ldd", str(executable)], capture_output=True, text=True)
    if result.returncode != 0:
        if "not a dynamic executable" in result.stdout + result.stderr:
            return []
        raise VmError(f"ldd {executable}: {result.stderr.strip() or result.stdout.strip()}")
    libraries = []
    for line in result.stdout.splitlines():
        line = line.strip()
        if "=> not found" in line:
            raise VmError(f"ldd {executable}: {line}")
        match = re.match(r"\S+ => (/\S+)", line) or re.match(r"(/\S+) \(0x", line)
        if match:
            libraries.append(match.group(1))
    return libraries


#: The interpreter the guest's Python programs run on (``Initramfs.add_python``).
GUEST_PYTHON = Path("/usr/bin/python3")
#: Run by GUEST_PYTHON: imports argv[3:] with argv[2] on the path, byte-compiles every module loaded
#: from the standard library and every module under argv[2] into argv[1] (unchecked-hash pycs: the guest
#: never recompiles them, whatever the files' times) and prints what it loaded.
_PYTHON_MANIFEST = r"""
import importlib, os, sys
out, root, names = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, root)
for name in names:
    importlib.import_module(name)
loaded = list(sys.modules.values())
import importlib.util, json, py_compile  # after the list: the guest does not need them
stdlib = os.path.dirname(os.__file__)
package = [os.path.join(d, f) for d, _, fs in os.walk(root) if "/build" not in d[len(root):] for f in fs
           if f.endswith(".py")]  # all of it: __main__ is run, not imported
files = {}
for path in [getattr(module, "__file__", None) for module in loaded] + package:
    if not path:
        continue
    path = os.path.realpath(path)
    if path.startswith(root + "/"):
        guest = "/hp/python/" + os.path.relpath(path, root)
    elif path.startswith(stdlib + "/"):
        guest = path
    else:
        continue
    files[guest] = path
    if path.endswith(".py"):
        cfile = importlib.util.cache_from_source(guest)
        py_compile.compile(path, cfile=out + cfile, dfile=guest, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        files[cfile] = out + cfile
print(json.dumps(files))
"""


def python_files(python: Path, root: Path, imports: Iterable[str]) -> dict[str, bytes]:
    """Guest path -> content of the modules ``python`` loads to import ``imports`` from ``root``
    (sources, their pycs, extension modules); run in the C locale, as the guest runs."""
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run([str(python), "-c", _PYTHON_MANIFEST, out, str(root.resolve()), "runpy",
                                 "encodings.ascii", "encodings.latin_1", *imports],
                                capture_output=True, text=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
        if result.returncode != 0:
            raise VmError(f"{python}: listing the modules of {list(imports)} failed: {result.stderr.strip()}")
        return {guest: Path(host).read_bytes() for guest, host in json.loads(result.stdout).items()}


def _strip_compression(name: str) -> str:
    return re.sub(r"\.(xz|zst|gz)$", "", name)


def _read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return data


def _module_depends(path: Path) -> list[str]:
    result = subprocess.run(["modinfo", "-F", "depends", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise VmError(f"modinfo {path}: {result.stderr.strip()}")
    return [d for d in result.stdout.strip().split(",") if d]


def build_initramfs(
    kernel: Kernel,
    artifacts: Artifacts,
    guest_script: str,
    out: Path,
    *,
    extra_binaries: Iterable[Path] = (),
    kernel_modules: Iterable[str] = (),
    extra_files: dict[str, bytes | str] | None = None,
    python_imports: Iterable[str] = (),
) -> Path:
    """The standard guest image:

    - /bin/busybox (symlinks made at boot), /init (guest/init.sh), /hp/lib.sh (guest/lib.sh);
    - the host's ``GUEST_HOST_TOOLS`` (util-linux ``setpriv``) in /hp/host, with their shared libraries;
    - /hp/hpnotify.ko and /hp/test/*.ko when built; /hp/bin/hpctl and /hp/bin/hpplaced when built,
      plus ``extra_binaries``, each with its shared libraries;
    - the Debian ``kernel_modules`` (and their dependencies, for modprobe);
    - /etc/passwd, /etc/group with root and an unprivileged ``user`` (uid/gid 1000, home /home/user);
    - ``guest_script`` as /hp/scenario.sh, run by /init; ``extra_files`` at their guest paths;
    - with ``python_imports``, python3 and what importing them needs (``Initramfs.add_python``), and
      /hp/python_client.py (guest/python_client.py);
    """
    image = Initramfs(kernel)
    for directory in ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/proc", "/sys", "/dev", "/run",
                      "/etc", "/root", "/lib", "/mnt"):
        image.add_dir(directory)
    image.add_dir("/tmp", 0o1777)
    image.add_dir("/home/user", 0o755, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    image.add_char_device("/dev/console", 5, 1)
    image.add_char_device("/dev/null", 1, 3, 0o666)
    busybox = shutil.which("busybox", path="/bin:/usr/bin") or "/bin/busybox"
    if shared_libraries(Path(busybox)):
        raise VmError(f"{busybox} is not static: install busybox-static")
    image.add_file("/bin/busybox", Path(busybox), 0o755)
    for tool in GUEST_HOST_TOOLS:
        host_tool = shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")
        if not host_tool:
            raise VmError(f"{tool} not found on the host (Debian package util-linux)")
        image.add_executable(Path(host_tool), f"/hp/host/{tool}")
    image.add_file("/init", GUEST_DIR / "init.sh", 0o755)
    image.add_file("/hp/lib.sh", GUEST_DIR / "lib.sh", 0o644)
    # hpplaced runs as its system user (daemon_guest.sh's DAEMON_UID), which the package's sysusers.d
    # entry makes on a real host: dbus-daemon drops a peer whose uid it cannot look up.
    image.add_bytes("/etc/passwd", f"root:x:0:0:root:/root:/bin/sh\n"
                    f"{UNPRIVILEGED_USER}:x:{UNPRIVILEGED_UID}:{UNPRIVILEGED_UID}:"
                    f"unprivileged:/home/user:/bin/sh\n"
                    f"{DAEMON_USER}:x:{DAEMON_UID}:{DAEMON_UID}:hpplaced:/nonexistent:/bin/false\n")
    image.add_bytes("/etc/group", f"root:x:0:\n{UNPRIVILEGED_USER}:x:{UNPRIVILEGED_UID}:\n"
                    f"{DAEMON_USER}:x:{DAEMON_UID}:\n")
    if artifacts.hpnotify_ko:
        image.add_file("/hp/hpnotify.ko", artifacts.hpnotify_ko, 0o644)
    for module in artifacts.test_modules:
        image.add_file(f"/hp/test/{module.name}", module, 0o644)
    for name in ("hpctl", "hpplaced"):
        if artifacts.binary(name):
            image.add_executable(artifacts.binary(name))
    for binary in extra_binaries:
        image.add_executable(Path(binary))
    for module in kernel_modules:
        image.add_kernel_module(module)
    python_imports = list(python_imports)
    if python_imports:
        image.add_python(python_imports)
        image.add_file("/hp/python_client.py", GUEST_DIR / "python_client.py", 0o644)
    for path, data in (extra_files or {}).items():
        image.add_bytes(path, data, 0o755 if path.endswith(".sh") else 0o644)
    image.add_bytes("/hp/scenario.sh", guest_script, 0o755)
    return image.write(out)


# --------------------------------------------------------------------------------------------------
# QMP
# --------------------------------------------------------------------------------------------------


class QmpError(VmError):
    """A QMP command answered with an error."""


class Qmp:
    """A minimal QMP client: the greeting and ``qmp_capabilities`` on connect, then ``execute()``.
    Asynchronous events are not acted on; they are kept in ``events``."""

    def __init__(self, path: Path, timeout: float = 10.0):
        self.events: list[dict] = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(timeout)
        self._socket.connect(str(path))
        self._reader = self._socket.makefile("rb")
        greeting = self._read_message()
        if "QMP" not in greeting:
            raise VmError(f"QMP: unexpected greeting {greeting}")
        self.execute("qmp_capabilities")

    def execute(self, command: str, arguments: dict | None = None, **kwargs) -> object:
        """Runs ``command`` with ``arguments`` (and keyword arguments; use the dict for names with
        hyphens such as ``socket-id``); returns the "return" value or raises QmpError."""
        request: dict = {"execute": command}
        args = {**(arguments or {}), **kwargs}
        if args:
            request["arguments"] = args
        self._socket.sendall(json.dumps(request).encode() + b"\n")
        while True:
            reply = self._read_message()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                error = reply["error"]
                raise QmpError(f"QMP {command}: {error.get('class')}: {error.get('desc')}")
            return reply.get("return")

    def close(self) -> None:
        self._reader.close()
        self._socket.close()

    def _read_message(self) -> dict:
        line = self._reader.readline()
        if not line:
            raise VmError("QMP: connection closed")
        return json.loads(line)


def hotadd_cpu(qmp: Qmp, socket_id: int, core_id: int = 0, thread_id: int = 0) -> str:
    """Hot-adds the vCPU at (socket, core, thread), which must be a free slot of
    ``query-hotpluggable-cpus``; returns the device id. Sockets 2 and 3 are node 1 in our layout."""
    slots = qmp.execute("query-hotpluggable-cpus")
    wanted = {"socket-id": socket_id, "core-id": core_id, "thread-id": thread_id}
    for slot in slots:
        props = slot.get("props", {})
        if all(props.get(k) == v for k, v in wanted.items()):
            if "qom-path" in slot:
                raise VmError(f"vCPU slot {wanted} is already populated ({slot['qom-path']})")
            device_id = cpu_device_id(socket_id, core_id, thread_id)
            qmp.execute("device_add", {"driver": slot["type"], "id": device_id, **props})
            return device_id
    raise VmError(f"no hotpluggable vCPU slot {wanted}")


def unplug(qmp: Qmp, device_id: str) -> str:
    """Asks the guest to eject device ``device_id`` (a vCPU or a pc-dimm): ``device_del`` only starts
    the ACPI eject; the guest offlines the device and QEMU removes it once the guest has ejected it
    (a guest that refuses, e.g. memory it cannot offline, keeps it). Returns the device id."""
    qmp.execute("device_del", {"id": device_id})
    return device_id


def cpu_device_id(socket_id: int, core_id: int = 0, thread_id: int = 0) -> str:
    """The device id ``hotadd_cpu()`` gives the vCPU at (socket, core, thread)."""
    return f"cpu-s{socket_id}c{core_id}t{thread_id}"


def hotadd_dimm(qmp: Qmp, size: int, node: int, device_id: str) -> str:
    """Hot-adds a pc-dimm of ``size`` bytes into NUMA ``node`` backed by a new memory-backend-ram;
    returns the device id."""
    backend = f"{device_id}-ram"
    qmp.execute("object-add", {"qom-type": "memory-backend-ram", "id": backend, "size": size})
    qmp.execute("device_add", {"driver": "pc-dimm", "id": device_id, "memdev": backend, "node": node})
    return device_id


# --------------------------------------------------------------------------------------------------
# The VM
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Section:
    """What the guest reported between ``@@BEGIN <name>`` and ``@@END <name> <rc>``."""

    name: str
    rc: int | None = None  # None: never ended
    outputs: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    rcs: dict[str, int] = dataclasses.field(default_factory=dict)
    guest_lines: list[str] = dataclasses.field(default_factory=list)
    host_errors: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def output(self, name: str) -> list[str]:
        """Lines of output ``name``; raises KeyError with a readable message if never reported."""
        if name not in self.outputs:
            raise KeyError(f"guest did not report output {name!r}")
        return self.outputs[name]


@dataclasses.dataclass
class GuestRun:
    """The outcome of ``Vm.run()``."""

    exit_code: int | None  # None: no @@EXIT (timeout, crash, power-off)
    sections: dict[str, Section]
    failure: str | None  # why the run ended badly, if it did
    console: list[str]  # kernel console lines (ttyS0)
    seconds: float

    def console_between(self, begin: str, end: str) -> list[str]:
        """Kernel console lines after the first line containing ``begin`` up to the line containing
        ``end`` (or to the end of the log)."""
        lines, inside = [], False
        for line in self.console:
            if not inside and begin in line:
                inside = True
            elif inside and end in line:
                break
            elif inside:
                lines.append(line)
        return lines


def kernel_defines(kernel: Kernel, header: str, macro: str) -> bool:
    """Whether ``include/<header>`` of the kernel's build tree defines ``macro``. Debian splits the tree in
    a flavour part and a common part its Makefile includes; both are searched."""
    trees = [kernel.build_dir]
    makefile = kernel.build_dir / "Makefile"
    if makefile.is_file():
        trees += [Path(m) for m in re.findall(r"^include\s+(\S+)/Makefile", makefile.read_text(), re.M)]
    for tree in trees:
        path = tree / "include" / header
        if path.is_file() and re.search(rf"^\s*#\s*define\s+{macro}\b", path.read_text(errors="replace"), re.M):
            return True
    return False


def qemu() -> list[str]:
    """The QEMU the VMs run: ``$HPVM_QEMU`` (a command, e.g. kernels.py's wrapper of a newer suite's QEMU),
    else this system's qemu-system-x86_64."""
    return shlex.split(os.environ.get("HPVM_QEMU", "qemu-system-x86_64"))


def qemu_version() -> str:
    """``qemu-system-x86_64 --version``'s first line."""
    result = subprocess.run([*qemu(), "--version"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()[0].strip()


def qemu_name() -> str:
    """"QEMU 7.2.22": qemu_version() short, for messages."""
    return re.sub(r"^QEMU emulator version (\S+).*", r"QEMU \1", qemu_version())


def large_layout_refusal() -> str | None:
    """Why this QEMU cannot run ``Vm(large=True)`` under TCG (None when it can): APIC ids above 255 need
    x2APIC, which QEMU 7.2 gives only with KVM's in-kernel irqchip ("current -smp configuration requires
    kernel irqchip and X2APIC API support"); 10.0 emulates it. Found by starting the machine paused: a
    QEMU that refuses the layout exits at once, one that takes it is still running after the wait."""
    return _layout_refusal(tuple(qemu()))


@functools.cache
def _layout_refusal(qemu_command: tuple[str, ...]) -> str | None:
    command = [*qemu_command, "-accel", "tcg", "-S", "-display", "none", "-monitor", "none", "-nodefaults",
               *LARGE_MACHINE, "-smp", LARGE_SMP]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    return (lines or [f"exit status {result.returncode}"])[-1]


# The large layout (Vm(large=True)): q35 with interrupt remapping and x2APIC, 288 possible vCPUs (QEMU's
# q35 maximum) in 8 NUMA nodes of 36, 257 present (so the next hot-added vCPU gets a CPU id above 255: the
# kernel numbers a hot-added CPU with the lowest id not present), of which the kernel brings up 2.
LARGE_MACHINE = ("-machine", "q35", "-device", "intel-iommu,intremap=on,eim=on", "-cpu", "qemu64,x2apic=on")
LARGE_SMP = "257,maxcpus=288,sockets=288,cores=1,threads=1"
LARGE_NODES = 8
LARGE_POSSIBLE = 288


def hotplug_cpus(kernel: Kernel, artifacts: "Artifacts", out_dir: Path = DEFAULT_OUT_DIR) -> tuple[int, str]:
    """How many vCPU hot-add slots this kernel under this QEMU gives the standard layout, and the kernel
    line that says so ("smpboot: Allowing 4 CPUs, 2 hotplug CPUs"; 6.12: "Allowing 2 present CPUs plus 0
    hotplug CPUs"). The guest kernel counts
    them from QEMU's ACPI tables (MADT), whose Enabled=0 entries newer kernels take as hot-pluggable only
    under a hypervisor they detect, which TCG is not (6.12: "plus 0 hotplug CPUs", with QEMU 7.2 as with
    10.0; tests/vm/README.md). Learned from one boot with nothing
    to run, remembered per kernel and QEMU in ``out_dir``."""
    key = (kernel.version, str(out_dir))
    if key not in _hotplug_cpus:
        try:
            _hotplug_cpus[key] = _probe_hotplug_cpus(kernel, artifacts, Path(out_dir))
        except (VmError, OSError) as error:
            _hotplug_cpus[key] = error  # one probe per run, even when it fails
    if isinstance(_hotplug_cpus[key], Exception):
        raise _hotplug_cpus[key]
    return _hotplug_cpus[key]


_hotplug_cpus: dict[tuple[str, str], tuple[int, str] | Exception] = {}


def _probe_hotplug_cpus(kernel: Kernel, artifacts: "Artifacts", out_dir: Path) -> tuple[int, str]:
    qemu = qemu_version()
    cache = Path(out_dir) / "hotplug-cpus" / re.sub(r"[^\w.+-]", "_", f"{kernel.version}@{qemu}")
    if cache.is_file():
        count, line = cache.read_text().split("\n", 1)
        return int(count), line.strip()
    initramfs = build_initramfs(kernel, artifacts, "# probe: boot and power off\n",
                                Path(out_dir) / "hotplug-probe.cpio.gz")
    with Vm(kernel, initramfs, name="hotplug-probe", out_dir=out_dir) as vm:
        run = vm.run(timeout=300)
    found = [(int(m.group(1)), line.strip()) for line in run.console
             if (m := re.search(r"Allowing \d+ (?:present )?CPUs(?:,| plus) (\d+) hotplug CPUs", line))]
    if not found:
        raise VmError(f"hotplug probe: the kernel did not say how many CPUs it allows "
                      f"({run.failure or 'no smpboot line'}; see {vm.console_path})")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(f"{found[0][0]}\n{found[0][1]}\n")
    for path in (vm.log_path, vm.console_path, vm.guest_path, initramfs):
        path.unlink(missing_ok=True)
    return found[0]


HostAction = Callable[["Vm", dict[str, str]], str | None]
"""A handler for ``@@HOST <action> k=v ...``: gets the VM and the k=v pairs; returns a note for the log
or raises to answer the guest with an error."""


class Vm:
    """One QEMU guest. Use as a context manager; ``start()`` boots, ``run()`` follows the guest script.

    The standard layout: 1 GiB (``memory_mib``) in two 512 MiB NUMA nodes, 2 of 4 vCPUs present (sockets 0,1 are
    node 0; 2,3 are node 1), room for 4 DIMMs up to 4 GiB in total. ``memoryless_nodes`` adds nodes
    2, 3 ... with neither CPUs nor memory (a DIMM gives such a node its first memory).
    ``memhp_offline`` puts memhp_default_state=offline on the kernel command line. ``virtio_mem=(node,
    MiB)`` adds a virtio-mem-pci device on that node with that much backing memory, requested size 0
    (host action ``virtio_mem``). ``large`` boots the large layout instead (``LARGE_MACHINE``: 288
    possible vCPUs, 257 present, 2 online, 8 nodes sharing ``memory_mib``; ``large_layout_refusal()``)."""

    def __init__(
        self,
        kernel: Kernel,
        initramfs: Path,
        *,
        name: str,
        out_dir: Path = DEFAULT_OUT_DIR,
        memhp_offline: bool = False,
        memoryless_nodes: int = 0,
        cmdline: Iterable[str] = (),
        actions: dict[str, HostAction] | None = None,
        virtio_mem: tuple[int, int] | None = None,
        memory_mib: int = 1024,
        large: bool = False,
    ):
        self.kernel = kernel
        self.large = large
        self.memory_mib = memory_mib
        self.initramfs = Path(initramfs)
        self.name = name
        self.out_dir = Path(out_dir)
        self.memhp_offline = memhp_offline
        self.memoryless_nodes = memoryless_nodes
        self.extra_cmdline = list(cmdline)
        self.virtio_mem = virtio_mem  # (node, MiB of backing memory): a virtio-mem-pci device, size 0
        self.actions = {**default_actions(), **(actions or {})}
        self.qmp: Qmp | None = None
        self.console: list[str] = []
        self.dimms = 0
        self._process: subprocess.Popen | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="hpvm-")
        self._guest_socket: socket.socket | None = None
        self._guest_lines: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._log_lock = threading.Lock()
        self._t0 = time.monotonic()
        # When the guest last showed life: a heartbeat on the kernel log (guest/init.sh) or a line on
        # ttyS1. Written by the reader threads, read by run().
        self._last_alive = self._t0
        self._booted = False  # the stall clock runs from @@BOOTED on; the boot has the run's timeout
        self.stall_dumps = 0
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.out_dir / f"{name}.log"
        self.console_path = self.out_dir / f"{name}.console.log"
        self.guest_path = self.out_dir / f"{name}.guest.log"
        self._log = open(self.log_path, "w", encoding="utf-8")
        self._console_log = open(self.console_path, "w", encoding="utf-8")
        self._guest_log = open(self.guest_path, "w", encoding="utf-8")

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> "Vm":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kernel_cmdline(self) -> str:
        # No oops=panic/panic_on_warn: a scenario should finish and report, and the harness greps the
        # console for KERNEL_TROUBLE_PATTERNS. panic=-1 + -no-reboot ends QEMU on a panic.
        # no_timer_check: under TCG on a loaded host the boot-time IO-APIC timer check can time out
        # and panic ("IO-APIC + timer doesn't work!"); the emulated timer is fine, skip the check.
        # sysrq_always_enabled: the stall report's sysrq dumps (l, w) are debugging keys that Debian's
        # default sysrq mask leaves off.
        args = ["console=ttyS0", "panic=-1", "rdinit=/init", "no_timer_check", "sysrq_always_enabled"]
        if self.memhp_offline:
            args.append("memhp_default_state=offline")
        if self.large:
            args.append("maxcpus=2")  # the other present vCPUs stay offline: TCG runs two
        return " ".join(args + self.extra_cmdline)

    def qemu_command(self) -> list[str]:
        tmp = Path(self._tmp.name)
        if self.large:
            per_node = LARGE_POSSIBLE // LARGE_NODES
            topology = [*LARGE_MACHINE, "-smp", LARGE_SMP]
            for n in range(LARGE_NODES):
                topology += ["-object", f"memory-backend-ram,id=r{n},size={self.memory_mib // LARGE_NODES}M",
                             "-numa", f"node,nodeid={n},cpus={n * per_node}-{(n + 1) * per_node - 1},memdev=r{n}"]
        else:
            topology = [
                "-smp", "2,maxcpus=4,sockets=4,cores=1,threads=1",
                "-object", f"memory-backend-ram,id=r0,size={self.memory_mib // 2}M",
                "-object", f"memory-backend-ram,id=r1,size={self.memory_mib // 2}M",
                "-numa", "node,nodeid=0,cpus=0-1,memdev=r0",
                "-numa", "node,nodeid=1,cpus=2-3,memdev=r1"]
        return [
            *qemu(), "-accel", "tcg",
            "-m", f"{self.memory_mib}M,slots=4,maxmem={self.memory_mib + 3072}M",
            *topology,
            *(a for n in range(self.memoryless_nodes) for a in ("-numa", f"node,nodeid={2 + n}")),
            *self._virtio_mem_args(),
            "-kernel", str(self.kernel.boot_image(self.out_dir)), "-initrd", str(self.initramfs),
            "-append", self.kernel_cmdline(),
            "-nographic", "-no-reboot", "-monitor", "none", "-nic", "none",
            "-qmp", f"unix:{tmp / 'qmp.sock'},server=on,wait=off",
            "-serial", "stdio",
            "-chardev", f"socket,id=guest,path={tmp / 'guest.sock'},server=on,wait=on",
            "-serial", "chardev:guest",
        ]

    def _virtio_mem_args(self) -> list[str]:
        if not self.virtio_mem:
            return []
        node, mib = self.virtio_mem
        return ["-object", f"memory-backend-ram,id={VIRTIO_MEM_ID}-ram,size={mib}M",
                "-device", f"virtio-mem-pci,id={VIRTIO_MEM_ID},memdev={VIRTIO_MEM_ID}-ram,node={node},"
                           f"requested-size=0,block-size={VIRTIO_MEM_BLOCK // MiB}M"]

    def start(self, timeout: float = 20.0) -> None:
        """Starts QEMU, connects the guest channel (QEMU waits for it before running) and QMP."""
        tmp = Path(self._tmp.name)
        command = self.qemu_command()
        self._note("qemu: " + " ".join(command))
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT)
        self._spawn(self._read_console)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._guest_socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._guest_socket.connect(str(tmp / "guest.sock"))
                break
            except OSError:
                self._guest_socket.close()
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise VmError(f"QEMU did not open its guest channel (exit {self._process.poll()}); "
                                  f"see {self.log_path}")
                time.sleep(0.05)
        self._spawn(self._read_guest)
        self.qmp = Qmp(tmp / "qmp.sock")

    def close(self) -> None:
        """Stops QEMU (if still running) and closes the logs."""
        if self._process and self._process.poll() is None:
            try:
                if self.qmp:
                    self.qmp.execute("quit")
            except (OSError, VmError):
                pass
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self.qmp:
            self.qmp.close()
        if self._guest_socket:
            self._guest_socket.close()
        for thread in self._threads:
            thread.join(5)
        self._log.close()
        self._console_log.close()
        self._guest_log.close()
        self._tmp.cleanup()

    # -- following the guest --------------------------------------------------------------------

    def run(self, timeout: float, section_timeouts: dict[str, float] | None = None,
            on_line: Callable[[str], None] | None = None, stall_seconds: float = 60.0) -> GuestRun:
        """Follows the guest until ``@@EXIT`` (or QEMU ends, or ``timeout`` seconds pass, or a section
        runs longer than its ``section_timeouts`` entry, or the guest stalls), answering ``@@HOST``
        requests with ``self.actions``. ``on_line`` sees every guest line as it arrives.

        A stall is ``stall_seconds`` without any sign of life from the guest's user space: no line on
        ttyS1 and no heartbeat (every 5 s) on the kernel log. It is reported as such, after sysrq l
        (backtraces of the CPUs) and w (blocked tasks) dumps taken over QMP into the kernel log; a
        section that times out while the heartbeat goes on is a wait that did not end, and its
        failure names the last thing the guest printed."""
        start = time.monotonic()
        deadline = start + timeout
        sections: dict[str, Section] = {}
        current: Section | None = None
        section_start = start
        exit_code: int | None = None
        failure: str | None = None
        while True:
            now = time.monotonic()
            limit = deadline
            section_timeout = (section_timeouts or {}).get(current.name) if current else None
            if section_timeout:
                limit = min(limit, section_start + section_timeout)
            silent = now - self._last_alive
            if self._booted and silent >= stall_seconds:
                failure = self._report_stall(current.name if current else None, silent)
                break
            if now >= limit:
                last = (current.guest_lines[-1] if current and current.guest_lines else None)
                alive = f"the guest is alive (heartbeat {silent:.0f} s ago)"
                alive += f", last line: {last[:160]!r}" if last else ", section printed nothing"
                if limit < deadline:
                    failure = f"timeout: section {current.name} did not end within {section_timeout:.0f} s; {alive}"
                else:
                    failure = f"timeout: the guest did not finish within {timeout:.0f} s; {alive}"
                break
            try:
                line = self._guest_lines.get(timeout=min(0.5, limit - now))
            except queue.Empty:
                continue
            if line is None:
                failure = f"QEMU exited (status {self._process.poll()}) before the guest script finished"
                break
            if on_line:
                on_line(line)
            marker = _parse_marker(line)
            if marker is None:
                if current:
                    current.guest_lines.append(line)
                continue
            kind, rest = marker
            if kind == "BEGIN":
                current = sections.setdefault(rest, Section(rest))
                section_start = time.monotonic()
            elif kind == "END":
                name, _, rc = rest.rpartition(" ")
                section = sections.setdefault(name, Section(name))
                section.rc = _int(rc)
                section.seconds = time.monotonic() - section_start
                current = None
            elif kind in ("OUT", "OUTEND"):
                key, _, text = rest.partition(": ") if kind == "OUT" else (rest, "", "")
                section_name, _, name = key.partition("/")
                section = sections.setdefault(section_name, Section(section_name))
                lines = section.outputs.setdefault(name, [])
                if kind == "OUT":
                    lines.append(text)
            elif kind == "RC":
                key, _, rc = rest.rpartition(" ")
                section_name, _, name = key.partition("/")
                sections.setdefault(section_name, Section(section_name)).rcs[name] = _int(rc)
            elif kind == "HOST":
                error = self._host_action(rest)
                if error and current:
                    current.host_errors.append(error)
            elif kind == "EXIT":
                exit_code = _int(rest)
                break
        if exit_code is not None:
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        return GuestRun(exit_code, sections, failure, list(self.console), time.monotonic() - start)

    def sysrq(self, key: str) -> None:
        """Presses Alt+SysRq+``key`` on the guest's keyboard (QMP send-key)."""
        self.qmp.execute("send-key", {"keys": [{"type": "qcode", "data": "alt"},
                                               {"type": "qcode", "data": "sysrq"},
                                               {"type": "qcode", "data": key}]})

    def _report_stall(self, section: str | None, silent: float) -> str:
        """Takes the sysrq dumps of a stalled guest and returns the failure line."""
        console_before = len(self.console)
        taken = []
        for key in ("l", "w"):
            try:
                self.sysrq(key)
                taken.append(key)
            except (OSError, VmError) as error:
                self._note(f"stall: sysrq {key} over QMP failed: {error}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
                "Show Blocked State" in line for line in self.console[console_before:]):
            time.sleep(0.2)
        self.stall_dumps += 1
        printed = len(self.console) - console_before
        where = f"in section {section}" if section else "outside any section"
        self._note(f"stall {where}: no heartbeat or guest line for {silent:.0f} s; sysrq {' '.join(taken)} "
                   f"printed {printed} kernel lines")
        return (f"stall: the guest's user space showed no life (no heartbeat, no output) for {silent:.0f} s "
                f"{where}; sysrq {'+'.join(taken) or '(none)'} dumps: {printed} kernel log lines")

    def reply(self, text: str) -> None:
        """One line to the guest on ttyS1 (the guest reads it in ``host``)."""
        self._guest_socket.sendall(text.encode() + b"\n")

    def _host_action(self, request: str) -> str | None:
        words = request.split()
        if not words:
            self.reply("error: empty host request")
            return "empty host request"
        action, args = words[0], dict(w.partition("=")[::2] for w in words[1:])
        handler = self.actions.get(action)
        try:
            if handler is None:
                raise VmError(f"unknown host action {action!r}")
            note = handler(self, args)
            self._note(f"host: {request}: ok{': ' + note if note else ''}")
            self.reply("ok")
            return None
        except Exception as error:  # reported to the guest and to the section, never fatal here
            message = f"host action {request!r} failed: {error}"
            if self._process.poll() is not None:
                message += f" (QEMU exited with status {self._process.poll()})"
            self._note("host: " + message)
            try:
                self.reply("error: " + str(error).replace("\n", " "))
            except OSError:
                pass  # QEMU is gone; run() sees its guest channel close
            return message

    # -- plumbing -------------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _stamp(self) -> str:
        return f"{time.monotonic() - self._t0:8.3f}"

    def _note(self, text: str) -> None:
        with self._log_lock:
            self._log.write(f"{self._stamp()} H {text}\n")
            self._log.flush()

    def _read_console(self) -> None:
        for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if "hpvm: alive" in line:
                self._last_alive = time.monotonic()
            self.console.append(line)
            with self._log_lock:
                self._console_log.write(line + "\n")
                self._console_log.flush()
                self._log.write(f"{self._stamp()} K {line}\n")
                self._log.flush()

    def _read_guest(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._guest_socket.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    self._last_alive = time.monotonic()
                    self._booted = self._booted or "@@BOOTED" in line
                    with self._log_lock:
                        self._guest_log.write(line + "\n")
                        self._guest_log.flush()
                        self._log.write(f"{self._stamp()} G {line}\n")
                        self._log.flush()
                    self._guest_lines.put(line)
        except OSError:
            pass
        self._guest_lines.put(None)


_MARKER = re.compile(r"@@(BOOTED|BEGIN|END|OUTEND|OUT|RC|HOST|EXIT)\b ?(.*)$")


def _parse_marker(line: str) -> tuple[str, str] | None:
    match = _MARKER.search(line)
    return (match.group(1), match.group(2)) if match else None


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Host actions the guest can ask for
# --------------------------------------------------------------------------------------------------


def _action_hotadd_cpu(vm: Vm, args: dict[str, str]) -> str:
    return hotadd_cpu(vm.qmp, int(args.get("socket", 2)), int(args.get("core", 0)), int(args.get("thread", 0)))


def _action_hotadd_dimm(vm: Vm, args: dict[str, str]) -> str:
    vm.dimms += 1
    size = int(args.get("mib", 128)) * MiB
    return hotadd_dimm(vm.qmp, size, int(args.get("node", 1)), args.get("id", f"dimm{vm.dimms}"))


def _action_remove_cpu(vm: Vm, args: dict[str, str]) -> str:
    return unplug(vm.qmp, cpu_device_id(int(args.get("socket", 2)), int(args.get("core", 0)),
                                        int(args.get("thread", 0))))


def _action_remove_dimm(vm: Vm, args: dict[str, str]) -> str:
    return unplug(vm.qmp, args["id"])


def _action_virtio_mem(vm: Vm, args: dict[str, str]) -> str:
    """``virtio_mem mib=N``: the virtio-mem device's requested size (the guest driver follows it)."""
    if not vm.virtio_mem:
        raise VmError("this VM has no virtio-mem device (Vm(virtio_mem=...))")
    size = int(args["mib"]) * MiB
    vm.qmp.execute("qom-set", {"path": f"/machine/peripheral/{VIRTIO_MEM_ID}", "property": "requested-size",
                               "value": size})
    return f"requested-size {size}"


def default_actions() -> dict[str, HostAction]:
    """``hotadd_cpu socket=S [core=C thread=T]``, ``remove_cpu socket=S [core=C thread=T]``,
    ``hotadd_dimm [mib=128] [node=1] [id=ID]``, ``remove_dimm id=ID`` and ``virtio_mem mib=N``."""
    return {"hotadd_cpu": _action_hotadd_cpu, "remove_cpu": _action_remove_cpu,
            "hotadd_dimm": _action_hotadd_dimm, "remove_dimm": _action_remove_dimm,
            "virtio_mem": _action_virtio_mem}


def kernel_trouble(lines: Iterable[str]) -> list[str]:
    """The kernel log lines that match KERNEL_TROUBLE_PATTERNS."""
    return [line for line in lines if any(p in line for p in KERNEL_TROUBLE_PATTERNS)]
