#!/usr/bin/env python3
"""The kernel matrix (`make test-kernels`): kmod/ built and the VM suite run on each Debian kernel line.

For each row of KERNELS this fetches the newest matching kernel image, modules and headers packages from
the Debian mirror the system's apt sources use (apt-get with a private state directory, so the system's
own apt state is untouched and the archive signatures are checked), unpacks them under the cache
directory ($HPNOTIFY_KERNEL_CACHE, default /var/cache/hpnotify-kernels; kept between runs), builds a copy
of kmod/ against those headers (counting warnings) with the kernel's own compiler (in a chroot of its
suite when this system has another), checks it with sparse (counting what sparse says about the module's
files), and runs tests/vm/run_tests.py booting that kernel ($KDIR, $HPVM_KERNEL_ROOT, $HPVM_KMOD_DIR).
A table of what happened comes last.

When the kernel's build refuses the suite's sparse (7.x and trixie's 0.6.4), the sparse program is built
from sid's source package where that row builds and kept in the cache (sparse/); headers that lack the
kernel's scripts/checker-valid.sh get one written by this file (supply_checker_test).

A kernel whose build tools cannot run here (linked against a newer C library than this system's) is
skipped with the loader's complaint as the reason. Scenarios the kernel under this QEMU cannot run are
skipped by run_tests.py with the kernel's own word for it (Scenario.needs).

    python3 tests/vm/kernels.py [--only 5.10,6.12] [--module-scenarios] [SCENARIO...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

VM_DIR = Path(__file__).resolve().parent
REPO_ROOT = VM_DIR.parents[1]
CACHE = Path(os.environ.get("HPNOTIFY_KERNEL_CACHE", "/var/cache/hpnotify-kernels"))
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclasses.dataclass(frozen=True)
class Line:
    """A kernel line: the newest image package matching ``release`` (the part of
    linux-image-<release>-amd64) in the first group of ``suites`` that has one."""

    name: str
    suites: tuple[tuple[str, ...], ...]
    release: str  # regular expression


KERNELS = [
    Line("5.10", (("bullseye", "bullseye-security"),), r"5\.10\.0-\d+"),
    Line("6.1", (("bookworm", "bookworm-security"),), r"6\.1\.0-\d+"),
    Line("6.12", (("bookworm", "bookworm-security"), ("trixie",)), r"6\.12\.\d+\+deb1[23]"),
    Line("7.x", (("sid", "trixie-backports"),), r"7\.\d+[^-]*(-\d+)?(\+bpo)?"),
]
KERNEL_PACKAGE = re.compile(r"^linux-(image|headers|kbuild|modules|base|binary)-")  # 7.x splits the image in base, binary, modules


class Skip(Exception):
    """This row cannot be done here; the message says why."""


def release_suites() -> tuple[tuple[str, str], ...]:
    """This system's release's main suite ("debian") and security suite ("security"), by their names
    (VERSION_CODENAME of /etc/os-release; bookworm when it names none)."""
    codename = re.search(r"^VERSION_CODENAME=(\S+)", Path("/etc/os-release").read_text(), re.M)
    codename = codename.group(1) if codename else "bookworm"
    return (("debian", codename), ("security", f"{codename}-security"))


def debian_mirrors() -> dict[str, str]:
    """The URIs of the system's apt sources for release_suites(), from deb822 .sources files and
    one-line .list files."""
    found: dict[str, str] = {}
    suites = release_suites()
    for what, suite in suites:
        uri = _apt_source(suite)
        if uri:
            found[what] = uri
    if "debian" not in found:
        raise Skip(f"no apt source for {suites[0][1]} main in /etc/apt/sources.list{{,.d}}")
    return found


def _apt_source(codename: str) -> str | None:
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
                if "deb" in fields.get("Types", "").split() and codename in fields.get("Suites", "").split() \
                        and "main" in fields.get("Components", "").split():
                    return fields["URIs"].split()[0].rstrip("/")
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 4 and words[0] == "deb" and words[2] == codename and "main" in words[3:]:
                    return words[1].rstrip("/")
    return None


class Apt:
    """apt-get / apt-cache on one suite of the mirror, with their own lists and archives under the cache."""

    def __init__(self, mirror: str, suite: str, kind: str = "deb"):
        """``kind`` "deb-src": the suite's source packages (a state of their own: binary lists stay small)."""
        self.suite, self.mirror = suite, mirror
        self.dir = CACHE / "apt" / (suite if kind == "deb" else f"{suite}-{kind}")
        for sub in ("lists/partial", "archives/partial", "etc"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "etc" / "sources.list").write_text(f"{kind} [signed-by={KEYRING}] {mirror} {suite} main\n")
        self.options = [f"-oDir::State={self.dir}", f"-oDir::State::Lists={self.dir / 'lists'}",
                        "-oDir::State::status=/dev/null", f"-oDir::Cache={self.dir}",
                        f"-oDir::Etc::SourceList={self.dir / 'etc' / 'sources.list'}",
                        "-oDir::Etc::SourceParts=/nonexistent", "-oAPT::Architecture=amd64",
                        "-oDebug::NoLocking=1", "-qq"]
        if os.geteuid() == 0:  # the downloads land in the cache, which apt's sandbox user cannot write
            self.options.append("-oAPT::Sandbox::User=root")

    def update(self) -> None:
        """Once per run, so that the newest kernel is the one tested."""
        subprocess.run(["apt-get", *self.options, "update"], check=True, stdout=subprocess.DEVNULL)

    def names(self, pattern: str) -> list[str]:
        result = subprocess.run(["apt-cache", *self.options, "pkgnames", "linux-image-"], check=True,
                                capture_output=True, text=True)
        return [n for n in result.stdout.split() if re.fullmatch(pattern, n)]

    def show(self, package: str) -> dict[str, str]:
        result = subprocess.run(["apt-cache", *self.options, "show", "--no-all-versions", package],
                                check=True, capture_output=True, text=True)
        return dict(re.findall(r"^(\S+): (.*)$", result.stdout, re.M))

    def closure(self, package: str) -> list[tuple[str, str]]:
        """``package`` and the kernel packages it depends on, recursively: (name, version)."""
        todo, seen = [package], {}
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            fields = self.show(name)
            seen[name] = fields["Version"]
            for dep in re.split(r"[,|]", fields.get("Depends", "")):
                dep = dep.split("(")[0].split(":")[0].strip()
                if KERNEL_PACKAGE.match(dep):
                    todo.append(dep)
        return sorted(seen.items())

    def download(self, packages: list[tuple[str, str]], into: Path) -> list[Path]:
        into.mkdir(parents=True, exist_ok=True)
        wanted = [f"{name}={version}" for name, version in packages]
        debs = [into / f"{name}_{version.replace(':', '%3a')}_{arch}.deb" for name, version in packages
                for arch in ("amd64", "all")]
        if sum(deb.is_file() for deb in debs) < len(packages):
            subprocess.run(["apt-get", *self.options, "download", *wanted], check=True, cwd=into)
        found = [deb for deb in debs if deb.is_file()]
        if len(found) != len(packages):
            raise Skip(f"apt-get download gave {len(found)} of {len(packages)} packages in {into}")
        return found

    def source(self, package: str, into: Path) -> tuple[str, Path]:
        """The newest source of ``package`` downloaded into ``into`` (apt checks each file against the
        signed Sources index): (version, its .dsc)."""
        result = subprocess.run(["apt-cache", *self.options, "showsrc", "--only-source", package],
                                capture_output=True, text=True)
        versions = re.findall(r"^Version: (\S+)$", result.stdout, re.M)
        if result.returncode != 0 or not versions:
            raise Skip(f"no source package {package} in {self.suite} on {self.mirror}")
        version = max(versions, key=_version_key)
        into.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", *self.options, "source", "--download-only", f"{package}={version}"],
                       check=True, cwd=into, stdout=subprocess.DEVNULL)
        dsc = into / f"{package}_{version.split(':')[-1]}.dsc"
        if not dsc.is_file():
            raise Skip(f"apt-get source gave no {dsc.name} in {into}")
        return version, dsc


@dataclasses.dataclass
class Row:
    line: Line
    version: str = ""  # the kernel release, e.g. 5.10.0-32-amd64
    suite: str = ""
    build: str = "-"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def fetch(line: Line, mirrors: dict[str, str]) -> tuple[str, str, Path]:
    """Picks the kernel of ``line``, fetches and unpacks it; returns (release, suite, root)."""
    candidates = []
    for group in line.suites:
        for suite in group:
            mirror = mirrors.get("security" if suite.endswith("-security") else "debian")
            if not mirror:
                continue
            apt = Apt(mirror, suite)
            try:
                apt.update()
            except subprocess.CalledProcessError:
                continue  # the mirror does not serve this suite
            candidates += [(name, apt) for name in apt.names(rf"linux-image-({line.release})-amd64")]
        if candidates:
            break
    if not candidates:
        raise Skip(f"no linux-image-{line.release}-amd64 in {', '.join(sum(line.suites, ()))} on "
                   f"{', '.join(mirrors.values())}")
    name, apt = max(candidates, key=lambda c: _version_key(c[0]))
    release = name.removeprefix("linux-image-")
    root = CACHE / "kernels" / release
    stamp = root / ".unpacked"
    if not stamp.is_file():
        headers = f"linux-headers-{release}"
        packages = sorted(set(apt.closure(name)) | set(apt.closure(headers)))
        debs = apt.download(packages, CACHE / "debs" / apt.suite)
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        if (root / "usr" / "lib" / "modules").is_dir() and not (root / "lib").exists():
            (root / "lib").symlink_to("usr/lib")  # merged /usr (trixie on)
        modules = root / "lib" / "modules" / release
        if not (root / "boot" / f"vmlinuz-{release}").exists() and (modules / "vmlinuz").is_file():
            # 7.x ships the image and its config in the module tree (usr/lib/modules/<ver>/vmlinuz, config).
            (root / "boot").mkdir(exist_ok=True)
            for name in ("vmlinuz", "config", "System.map"):
                if (modules / name).is_file():
                    (root / "boot" / f"{name}-{release}").symlink_to(f"../lib/modules/{release}/{name}")
        # modules.dep is made by the image package's postinst, which unpacking does not run; the guest's
        # modprobe needs it (vmlib.Initramfs.add_kernel_module).
        subprocess.run(["depmod", "-b", str(root), release], check=True)
        stamp.write_text("".join(f"{deb.name}\n" for deb in debs))
    return release, apt.suite, root


def _version_key(text: str) -> list:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-+~]", text)]


def compiler_of(kdir: Path) -> str | None:
    """The compiler Debian's headers name (CC = ... gcc-N in .kernelvariables), if they name one."""
    variables = kdir / ".kernelvariables"
    match = re.search(r"^CC = .*?(\S*gcc-\d+)\s*$", variables.read_text(), re.M) if variables.is_file() else None
    return match.group(1).replace("$(CROSS_COMPILE)", "") if match else None


CHROOT_PACKAGES = ("make", "libc6-dev", "dwarves", "kmod", "bc", "sparse")


def make_chroot(suite: str, mirror: str, target: Path, packages: tuple[str, ...], needed: tuple[str, ...]) -> Path:
    """``target``: a chroot of ``suite`` with ``packages``, made once with mmdebstrap (from bookworm) and
    kept in the cache; made again when one of the programs ``needed`` (in /usr/bin) is missing."""
    if all((target / "usr" / "bin" / tool).exists() for tool in needed):
        return target
    if not shutil.which("mmdebstrap"):
        raise Skip(f"{' and '.join(needed)} from a {suite} chroot need mmdebstrap: apt-get install mmdebstrap")
    partial = target.with_name(f"{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    print(f"making a {suite} chroot with {', '.join(packages)} in {target}", flush=True)
    result = subprocess.run(["mmdebstrap", "--variant=apt", f"--include={','.join(packages)}", suite, str(partial),
                             mirror], capture_output=True, text=True)
    if result.returncode != 0:
        raise Skip(f"mmdebstrap {suite} failed: {(result.stderr.strip().splitlines() or ['?'])[-1][:200]}")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def chroot(suite: str, mirror: str, compiler: str) -> Path:
    """A chroot of ``suite`` with ``compiler`` and what kbuild and the sparse check need."""
    return make_chroot(suite, mirror, CACHE / "chroot" / suite, (compiler, *CHROOT_PACKAGES), (compiler, "sparse"))


def newer_qemu(suite: str, mirror: str) -> Path:
    """A wrapper that runs ``suite``'s qemu-system-x86_64 from a chroot of that suite (made once in the
    cache), through the chroot's own loader and libraries, with its firmware and modules: no mounts and
    no chroot(2), so the VM's paths (kernel, initramfs, sockets) stay the host's. For the layouts
    bookworm's QEMU 7.2 cannot run under TCG (vmlib.large_layout_refusal)."""
    root_dir = make_chroot(suite, mirror, CACHE / "chroot" / f"{suite}-qemu", ("qemu-system-x86",),
                           ("qemu-system-x86_64",))
    binary = root_dir / "usr" / "bin" / "qemu-system-x86_64"
    wrapper = CACHE / "qemu" / suite / "qemu-system-x86_64"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    r = root_dir
    wrapper.write_text(
        "#!/bin/sh\n"
        f"# {suite}'s QEMU, run by tests/vm/kernels.py --qemu {suite}\n"
        f"QEMU_MODULE_DIR={r}/usr/lib/x86_64-linux-gnu/qemu exec {r}/usr/lib64/ld-linux-x86-64.so.2 "
        f"--library-path {r}/usr/lib/x86_64-linux-gnu {binary} -L {r}/usr/share/qemu -L {r}/usr/share/seabios "
        '"$@"\n')
    wrapper.chmod(0o755)
    version = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True)
    if version.returncode != 0:
        raise RuntimeError(f"{suite}'s QEMU does not start here: {(version.stderr.strip() or '?')[:200]}")
    print(f"QEMU: {version.stdout.splitlines()[0]} ({wrapper})", flush=True)
    return wrapper


SPARSE_SOURCE = "sid"  # the suite whose sparse source is built when kbuild refuses the build suite's sparse
CHECKER_TEST_MARK = "# Made by tests/vm/kernels.py"


def supply_checker_test(root: Path, kdir: Path) -> bool:
    """Writes a scripts/checker-valid.sh of ours when the kernel's Makefile runs one and the headers
    package lacks it (Debian's 7.x): without it kbuild refuses every checker. The Makefile calls it as
    ``checker-valid.sh $(CHECK) $(CHECKFLAGS)`` and runs the checker only when it prints 1. Ours prints 1
    when the checker, given those flags, parses the construct these headers hand it (``__typeof_unqual__``,
    which compiler_types.h uses under __CHECKER__) without an error and reports a plain 0 used as a NULL
    pointer: it read the file and checks it. sparse exits 0 after errors, so its output is what tells.
    True when ours is there."""
    script = kdir / "scripts" / "checker-valid.sh"
    if script.exists() and CHECKER_TEST_MARK not in script.read_text(errors="replace"):
        return False  # the kernel's own
    if not any("checker-valid.sh" in m.read_text(errors="replace") for m in (root / "usr" / "src").glob("*/Makefile")):
        return False
    script.write_text(
        f"#!/bin/sh\n{CHECKER_TEST_MARK}: the headers package lacks the kernel's own.\n"
        "# Prints 1 when \"$@\" (the checker and its flags) parses __typeof_unqual__ without an error and\n"
        "# reports the plain 0 used as a NULL pointer; 0 otherwise.\n"
        'command -v "$1" >/dev/null 2>&1 || { echo 0; exit 0; }\n'
        'dir=$(mktemp -d) || { echo 0; exit 0; }\n'
        "trap 'rm -rf \"$dir\"' EXIT\n"
        "cat >\"$dir/probe.c\" <<'EOF'\n"
        "static int first(const volatile int *p)\n"
        "{\n"
        "\t__typeof_unqual__(*p) v = *p;\n"
        "\treturn ++v;\n"
        "}\n"
        "int probe(void);\n"
        "int probe(void)\n"
        "{\n"
        "\tstatic const volatile int x;\n"
        "\tint *none = 0;\n"
        "\treturn first(&x) + !none;\n"
        "}\n"
        "EOF\n"
        'out=$("$@" "$dir/probe.c" 2>&1) || { echo 0; exit 0; }\n'
        'case $out in\n'
        '*": error:"*) echo 0 ;;\n'
        '*"plain integer as NULL pointer"*) echo 1 ;;\n'
        '*) echo 0 ;;\n'
        'esac\n')
    script.chmod(0o755)
    return True


def newer_sparse(mirror: str, place: str, wrap, compiler: str) -> tuple[str, Path]:
    """sparse built from SPARSE_SOURCE's source package by ``wrap`` (which runs a command where the row
    builds, ``place``: a chroot's suite or "host") with ``compiler``, kept in the cache and built again
    only when missing: (the source's version, the program). The program alone: no GTK, libxml, LLVM or
    SQLite parts."""
    home = CACHE / "sparse" / place
    program, stamp = home / "src" / "sparse", home / "version"
    if program.is_file() and stamp.is_file():
        return stamp.read_text().strip(), program
    if not shutil.which("dpkg-source"):
        raise Skip(f"unpacking {SPARSE_SOURCE}'s sparse source needs dpkg-source: apt-get install dpkg-dev")
    apt = Apt(mirror, SPARSE_SOURCE, "deb-src")
    try:
        apt.update()
        version, dsc = apt.source("sparse", CACHE / "sparse" / "source")
    except subprocess.CalledProcessError as error:
        verb = next(arg for arg in error.cmd[1:] if not arg.startswith("-"))
        raise Skip(f"no {SPARSE_SOURCE} sparse source from {mirror} ({error.cmd[0]} {verb} exited "
                   f"{error.returncode})") from None
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # apt-get checked every file against the signed Sources index; dpkg-source checks them against the
    # .dsc again (the uploader's signature on the .dsc it cannot check without debian-keyring: a warning).
    unpack = subprocess.run(["dpkg-source", "-x", str(dsc), str(home / "src")], capture_output=True, text=True)
    if unpack.returncode != 0:
        raise Skip(f"dpkg-source -x {dsc.name} failed: {(unpack.stderr.strip().splitlines() or ['?'])[-1][:200]}")
    print(f"building sparse {version} from {SPARSE_SOURCE}'s source in {home}", flush=True)
    result = subprocess.run(wrap(["make", "-C", str(home / "src"), f"-j{os.cpu_count() or 1}", "sparse",
                                  f"CC={compiler}", "HAVE_GTK=no", "HAVE_LIBXML=no", "HAVE_LLVM=no",
                                  "HAVE_SQLITE=no"]), capture_output=True, text=True)
    (home / "build.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0 or not program.is_file():
        raise Skip(f"building {SPARSE_SOURCE}'s sparse {version} failed ({home}/build.log)")
    stamp.write_text(f"{version}\n")
    return version, program


def in_chroot(root_dir: Path, command: list[str]) -> list[str]:
    """``command`` run in ``root_dir`` with the cache at its own path and /proc (objtool reads it), mounted
    in a private mount namespace: gone when the command ends."""
    script = (f'mkdir -p "$0{CACHE}" && mount --bind "{CACHE}" "$0{CACHE}" && mount -t proc proc "$0/proc" '
              f'&& exec chroot "$0" "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(root_dir), *command]


def own_finding(line: str, tree: Path, cwd: Path) -> bool:
    """Whether ``line`` of sparse's output is a finding in a file under ``tree``. sparse says
    "file:line:col: warning: ..." (or error) and the build goes on; only the module's own files count (a
    kernel's headers may have findings of their own). The file is named as kbuild named it: absolute up
    to 6.12, relative to the module's directory (``cwd``) on 7.x, whose kbuild works in that directory."""
    match = re.match(r"(\S+?):\d+:\d+: (warning|error):", line)
    return bool(match) and os.path.normpath(cwd / match.group(1)).startswith(f"{tree}{os.sep}")


def copy_module(tree: Path) -> None:
    """A fresh copy of kmod/ and common/ (without build products) in ``tree``, to build against another
    kernel without touching the checkout's own build."""
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "common", tree / "common")
    shutil.copytree(REPO_ROOT / "kmod", tree / "kmod",
                    ignore=shutil.ignore_patterns("*.o", "*.ko", "*.mod", "*.mod.c", ".*.cmd", "*.symvers",
                                                  "modules.order", ".tmp*"))


def build_warnings(log: str) -> list[str]:
    """The compiler's and modpost's warnings in a module build's output."""
    return [line for line in log.splitlines() if re.search(r"\bwarning:|^WARNING:", line)]


def build(release: str, root: Path, notes: list[str], suite: str = "",
          mirror: str = "") -> tuple[Path, Path, int, int | None]:
    """A copy of kmod/ (and common/) built against ``release``'s headers, then checked with sparse
    (``make -C kmod check``: every file again; with SPARSE_SOURCE's sparse built from source when the
    kernel's build refuses the one of the build's suite); (kdir, kmod copy, build warnings, sparse
    findings or None when no sparse the kernel's build accepts could be had)."""
    kdir = root / "usr" / "src" / f"linux-headers-{release}"
    if not (kdir / "Makefile").is_file():
        raise Skip(f"no {kdir}/Makefile in the headers package")
    # Debian's per-flavour Makefile includes the common one by its installed path: point it into root.
    makefile = kdir / "Makefile"
    makefile.write_text(re.sub(r"(?<=[\s=])/usr/src/", f"{root}/usr/src/", makefile.read_text()))
    tool = kdir / "scripts" / "basic" / "fixdep"
    probe = subprocess.run([str(tool)], capture_output=True, text=True)
    if "GLIBC" in probe.stderr or "not found" in probe.stderr:
        raise Skip(f"its build tools need a newer C library: {probe.stderr.strip().splitlines()[0]}")
    tree = CACHE / "build" / release
    copy_module(tree)
    make = ["make", "-C", str(tree / "kmod"), f"KDIR={kdir}"]
    wrap = lambda argv: argv  # noqa: E731
    place = "host"
    compiler = compiler_of(kdir)
    if compiler and not shutil.which(compiler):
        # The kernel's own compiler (bullseye's gcc-10 for 5.10, trixie's gcc-14 for 7.x) is not in this
        # release: build in a chroot of the kernel's suite, which has it.
        place = suite.split("-")[0]
        root_dir = chroot(place, mirror, compiler)
        notes.append(f"built with {compiler} in a {place} chroot")
        wrap = lambda argv: in_chroot(root_dir, argv)  # noqa: E731

    def run(step: str, argv: list[str]) -> str:
        result = subprocess.run(wrap(argv), capture_output=True, text=True)
        log = result.stdout + result.stderr
        (tree / f"{step}.log").write_text(log)
        if result.returncode != 0:
            errors = [line for line in log.splitlines() if "error" in line.lower()]
            raise RuntimeError(f"{step} failed: {(errors or log.splitlines()[-1:])[0][:200]} ({tree}/{step}.log)")
        return log

    log = run("build", make)
    warnings = build_warnings(log)
    for line in warnings:
        print(f"  build: {line}")
    if supply_checker_test(root, kdir):
        notes.append("scripts/checker-valid.sh (missing from the headers) supplied by kernels.py")
    log = run("sparse", [*make, "check"])
    refused = "not available or not up to date"
    if refused in log:
        # kbuild's own test of the checker refused this suite's sparse (7.x: trixie's 0.6.4 cannot parse the
        # headers' __typeof_unqual__): a newer one from source, else no count.
        packaged = subprocess.run(wrap(["dpkg-query", "-W", "-f=${Version}", "sparse"]), capture_output=True,
                                  text=True).stdout.strip() or "?"
        why = (f"the kernel's build refuses {place}'s sparse {packaged} (\"C=2 specified, but sparse is not "
               f"available or not up to date\")")
        try:
            version, program = newer_sparse(mirror, place, wrap, compiler or "gcc")
        except Skip as skip:
            notes.append(f"sparse not run: {why}; {skip}")
            return kdir, tree / "kmod", len(warnings), None
        log = run("sparse", [*make, "check", f"CHECK={program}"])
        if refused in log:
            notes.append(f"sparse not run: {why}, and {SPARSE_SOURCE}'s {version} built from source too")
            return kdir, tree / "kmod", len(warnings), None
        notes.append(f"sparse {version} built from {SPARSE_SOURCE}'s source: {why}")
    findings = [line for line in log.splitlines() if own_finding(line, tree, tree / "kmod")]
    for line in findings:
        print(f"  sparse: {line}")
    return kdir, tree / "kmod", len(warnings), len(findings)



def run_suite(release: str, kdir: Path, root: Path, kmod: Path, scenarios: list[str], out: Path,
              qemu: Path | None = None) -> list[dict]:
    env = {**os.environ, "KDIR": str(kdir), "HPVM_KERNEL_ROOT": str(root), "HPVM_KMOD_DIR": str(kmod)}
    if qemu:
        env["HPVM_QEMU"] = str(qemu)
    verdicts = out / f"verdicts-{release}.json"
    verdicts.unlink(missing_ok=True)
    subprocess.run([sys.executable, str(VM_DIR / "run_tests.py"), "--out", str(out / release),
                    "--json", str(verdicts), *scenarios], env=env)
    if not verdicts.is_file():
        raise RuntimeError("run_tests.py wrote no verdicts (see its output above)")
    return json.loads(verdicts.read_text())


def table(rows: list[Row]) -> str:
    head = ("kernel", "suite", "build (warnings; sparse)", "passed", "failed", "skipped", "minutes", "notes")
    body = [(r.version or r.line.name, r.suite or "-", r.build, str(r.passed), str(r.failed), str(r.skipped),
             f"{sum(r.seconds.values()) / 60:.1f}", "; ".join(r.notes)) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(x, widths)) + "  " + x[-1] for x in [head, *body]]
    return "\n".join(lines)


def skip_reasons(verdicts: list[dict]) -> list[str]:
    """The distinct reasons of the skipped scenarios, each with the scenarios it covers."""
    reasons: dict[str, list[str]] = {}
    for v in verdicts:
        if v["verdict"] == "SKIP":
            reasons.setdefault(v["reason"], []).append(v["name"])
    return [f"skipped {', '.join(names)}: {reason}" for reason, names in reasons.items()]


def module_scenarios() -> list[str]:
    """The module's own scenarios (scenarios_kernel.py) but the 250-round stress and the harness's
    self-tests, which no kernel changes: what CI runs on every row."""
    import scenarios_kernel
    return [s.name for s in scenarios_kernel.SCENARIOS if s.name != "stress" and not s.name.startswith("harness_")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--module-scenarios", action="store_true",
                        help="run the module's own scenarios (the kernel ones but stress and the harness checks)")
    parser.add_argument("--only", help="comma-separated kernel lines (of " + ", ".join(k.name for k in KERNELS) + ")")
    parser.add_argument("--qemu", metavar="SUITE", help="boot with SUITE's QEMU (e.g. trixie), run from a chroot")
    args = parser.parse_args()
    if args.module_scenarios:
        args.scenarios += module_scenarios()
    only = args.only.split(",") if args.only else None
    unknown = set(only or ()) - {k.name for k in KERNELS}
    if unknown:
        parser.error(f"unknown kernel line(s) {', '.join(sorted(unknown))}")
    out = VM_DIR / "out" / "kernels"
    out.mkdir(parents=True, exist_ok=True)
    rows = [Row(line) for line in KERNELS if not only or line.name in only]
    try:
        mirrors = debian_mirrors()
    except Skip as skip:
        print(f"kernels.py: {skip}", file=sys.stderr)
        return 1
    print(f"mirrors {', '.join(mirrors.values())}, cache {CACHE}")
    qemu = None
    if args.qemu:
        try:
            qemu = newer_qemu(args.qemu, mirrors["debian"])
        except (Skip, RuntimeError) as error:
            print(f"kernels.py: --qemu {args.qemu}: {error}", file=sys.stderr)
            return 1
    for row in rows:
        print(f"\n=== {row.line.name} ===", flush=True)
        step = "fetch"
        started = time.monotonic()
        try:
            row.version, row.suite, root = fetch(row.line, mirrors)
            print(f"kernel {row.version} from {row.suite}, unpacked in {root}", flush=True)
            row.seconds[step] = time.monotonic() - started
            step, started = "build", time.monotonic()
            kdir, kmod, warnings, sparse = build(row.version, root, row.notes, row.suite, mirrors['debian'])
            row.build = f"ok ({warnings}; sparse {'-' if sparse is None else sparse})"
            row.seconds[step] = time.monotonic() - started
            step, started = "vm", time.monotonic()
            verdicts = run_suite(row.version, kdir, root, kmod, args.scenarios, out, qemu)
            row.seconds[step] = time.monotonic() - started
            row.passed = sum(v["verdict"] == "PASS" for v in verdicts)
            row.failed = sum(v["verdict"] == "FAIL" for v in verdicts)
            row.skipped = sum(v["verdict"] == "SKIP" for v in verdicts)
            row.notes += [f"FAIL {v['name']}: {v['reason'][:120]}" for v in verdicts if v["verdict"] == "FAIL"]
            row.notes += skip_reasons(verdicts)
        except Skip as skip:
            row.seconds[step] = time.monotonic() - started
            row.build = "skipped" if step in ("fetch", "build") else row.build
            row.notes.append(f"{step} skipped: {skip}")
        except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
            row.seconds[step] = time.monotonic() - started
            row.build = "FAILED" if step in ("fetch", "build") else row.build
            row.failed += 1
            row.notes.append(f"{step}: {error}")
        print(f"{row.line.name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in row.seconds.items()), flush=True)
    print("\n" + table(rows))
    return 1 if any(r.failed or r.build == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
