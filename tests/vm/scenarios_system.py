"""The packages under a real systemd: boot "system" (tests/vm/system_image.py).

Debian 12's userland with systemd as PID 1, dbus and polkitd, and the packages of `make deb` installed
with dpkg, booted under the same QEMU harness: the units the packages enable start at boot, and a unit
workload's AllowedCPUs= are set through systemd itself and follow a vCPU hot-add. The guest reports with
the harness's markers from hpvm-check.service (tests/vm/system/); every check that fails quotes what
systemd said (systemctl status, the daemon's journal, the failed units).

The packages come from $HPPLACE_DEB_DIR (`make deb-vm-test` sets it, after `make deb`); without it, or
without the .deb files there, the scenarios are skipped with that reason.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import system_image
import vmlib
from scenario import Boot, Failure, Scenario, expect, guest_first, json_document, parse_cpu_list
from scenarios_daemon import expect_hardened

HELPERS = vmlib.VM_DIR / "system_guest.sh"
SYSTEM_DIR = vmlib.VM_DIR / "system"
MEMBER, STRANGER = "hpvmmember", "hpvmstranger"  # system_guest.sh's

# Run in the image after the packages: the test's users, units enabled, no login prompts.
SETUP = f"""
useradd --no-create-home --shell /bin/sh --groups hpplace {MEMBER}
useradd --no-create-home --shell /bin/sh {STRANGER}
systemctl enable web.service hpvm-check.service
systemctl mask getty.target
"""


def deb_dir() -> Path | None:
    value = os.environ.get("HPPLACE_DEB_DIR")
    return (vmlib.REPO_ROOT / value) if value else None


def skip_reason() -> str | None:
    """Why the scenarios cannot run here, or None."""
    if deb_dir() is None:
        return "HPPLACE_DEB_DIR is not set: make deb-vm-test runs these with the packages of make deb"
    try:
        system_image.debs(deb_dir())
    except system_image.Missing as missing:
        return str(missing)
    return None


def make_image(kernel: vmlib.Kernel, artifacts: vmlib.Artifacts, files: dict[str, bytes | str], out: Path) -> Path:
    """The initramfs of boot "system": the image of system_image.build with the harness's files."""
    files = {**files,
             "/hp/lib.sh": (vmlib.GUEST_DIR / "lib.sh").read_bytes(),
             "/hp/boot.sh": (SYSTEM_DIR / "boot.sh").read_bytes(),
             "/etc/systemd/system/hpvm-check.service": (SYSTEM_DIR / "hpvm-check.service").read_bytes(),
             "/etc/systemd/system/web.service": (SYSTEM_DIR / "web.service").read_bytes(),
             "/etc/hpplaced/hpplaced.conf": (SYSTEM_DIR / "hpplaced.conf").read_bytes()}
    try:
        return system_image.build(kernel, artifacts, deb_dir(), files, SETUP, out)
    except system_image.Missing as missing:
        raise vmlib.VmError(str(missing)) from None


def systemd_said(check):
    """A failing check's reason (or the guest's, when a step died: guest_first) gets what systemd said:
    the failed units and the daemon's last journal lines (outputs of unit_report)."""
    check = guest_first(check)

    @functools.wraps(check)
    def checked(ctx) -> str | None:
        try:
            return check(ctx)
        except Failure as failure:
            said = []
            failed = [line for line in ctx.section.outputs.get("failed", []) if line.strip()]
            if failed:
                said.append("failed units: " + "; ".join(failed))
            journal = [line for line in ctx.section.outputs.get("journal", []) if line.strip()]
            if journal:
                said.append("journalctl -u hpplaced: " + " | ".join(journal[-6:]))
            status = [line.strip() for line in ctx.section.outputs.get("unit_status", []) if "Active:" in line]
            if status:
                said.append("systemctl status: " + " | ".join(status))
            raise Failure(f"{failure}; {'; '.join(said) or 'systemd said nothing (no unit_report)'}") from None
    return checked


def lines(ctx, name: str) -> list[str]:
    return [line for line in ctx.output(name) if line.strip()]


@systemd_said
def check_daemon(ctx) -> str:
    expect(lines(ctx, "system_state") in (["running"], ["degraded"]),
           f"the system did not finish booting: is-system-running says {ctx.output('system_state')}")
    expect(ctx.output("active") == ["active", "active"],
           f"systemctl is-active hpplaced.socket hpplaced.service: {ctx.output('active')}")
    expect(ctx.output("enabled") == ["enabled", "enabled"],
           f"systemctl is-enabled hpplaced.socket hpplaced.service: {ctx.output('enabled')}")
    uid, gid = ctx.output("ids")[0].split()
    hardened = expect_hardened(ctx, uid, gid)
    expect(lines(ctx, "socket") == ["root hpplace 660 socket"], f"/run/hpplaced.sock: {ctx.output('socket')}")
    expect(ctx.rc("modules") == 0, "hpnotify is not loaded (modules-load.d/hpnotify.conf)")
    for who in ("root", "member"):
        expect(ctx.rc(f"status_{who}") == 0,
               f"hpctl status as {who} exit status {ctx.rc(f'status_{who}')}: {ctx.output(f'status_{who}.stderr')}")
        status = json_document(ctx, f"status_{who}")
        expect(status.get("source") == "kernel", f"hpctl status as {who}: source {status.get('source')!r}")
    expect("hpplace" in ctx.output("member_groups")[0].split(), f"{MEMBER}'s groups: {ctx.output('member_groups')}")
    # The socket's mode keeps a stranger out before the daemon sees the connection.
    expect(ctx.rc("status_stranger") != 0 and not lines(ctx, "status_stranger")
           and "permission denied" in " ".join(ctx.output("status_stranger.stderr")),
           f"hpctl status as {STRANGER} (no group of the daemon's): exit status {ctx.rc('status_stranger')}, "
           f"{ctx.output('status_stranger')[:2]} {ctx.output('status_stranger.stderr')[:2]}")
    expect(not lines(ctx, "unit_warnings"), f"systemd about the units: {' | '.join(lines(ctx, 'unit_warnings'))}")
    expect(ctx.rc("reload") == 0, f"systemctl reload hpplaced exit status {ctx.rc('reload')}: "
                                  f"{ctx.output('reload.stderr')}")
    expect([line for line in ctx.output("journal") if "config reloaded" in line], "no reload in the daemon's journal")
    expect(ctx.output("active_after_reload") == ["active"], f"after the reload: {ctx.output('active_after_reload')}")
    startup = [line for line in ctx.output("analyze") if line.startswith("Startup finished")]
    return f"{hardened}, uid {uid}; reloaded; {startup[0].strip() if startup else 'no systemd-analyze time'}"


@systemd_said
def check_unit_hotadd(ctx) -> str:
    def planned(name):
        plan = json_document(ctx, name)
        found = [w for w in plan.get("workloads", []) if w.get("name") == "web"]
        expect(found, f"{name}: no workload web: {json.dumps(plan)[:200]}")
        return parse_cpu_list(found[0]["cpuset"]), parse_cpu_list(found[0]["mems"])

    def allowed(name):
        values = {key: value for key, _, value in (line.partition(" ") for line in ctx.output(name))}
        for key in ("AllowedCPUs", "AllowedMemoryNodes", "cpuset.cpus", "cpuset.mems"):
            expect(key in values, f"{name}: no {key}: {values}")
        return values

    shown = {}
    for when in ("before", "after"):
        cpus, mems = planned(f"plan_{when}")
        values = allowed(f"allowed_{when}")
        for key, want in (("AllowedCPUs", cpus), ("cpuset.cpus", cpus), ("AllowedMemoryNodes", mems),
                          ("cpuset.mems", mems)):
            expect(parse_cpu_list(values[key]) == want,
                   f"{when} the hot-add: web.service {key} {values[key]!r}, the plan has {sorted(want)}")
        shown[when] = values["AllowedCPUs"]
    cpus_before, _ = planned("plan_before")
    cpus_after, _ = planned("plan_after")
    expect(2 not in cpus_before and 2 in cpus_after, f"plan cpuset {sorted(cpus_before)} -> {sorted(cpus_after)}")
    expect([line for line in ctx.output("journal") if "unit web.service: AllowedCPUs=" in line],
           "the daemon's journal shows no set unit")
    return f"AllowedCPUs {shown['before']} -> {shown['after']} (cgroup cpuset.cpus the same)"


NEEDS = ("hpnotify", "debs")
BOOTS = {"system": Boot(image=make_image, timeout=600.0, memory_mib=2048)}
SystemScenario = functools.partial(Scenario, helpers=HELPERS, boot="system")
SCENARIOS = [
    SystemScenario("system_daemon", "Debian 12, systemd as PID 1, the packages: hpplaced.socket and .service "
                   "start at boot, user hpplaced with the unit's capabilities, root and group hpplace answered, "
                   "a stranger refused", check_daemon, needs=NEEDS, timeout=240),
    SystemScenario("system_unit_hotadd", "under systemd, web.service's AllowedCPUs (and its cgroup's cpuset) "
                   "follow the plan, set by the daemon through polkit, and a QMP vCPU hot-add", check_unit_hotadd,
                   needs=NEEDS + ("vcpu_hotadd",), timeout=240),
]
