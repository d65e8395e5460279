#!/usr/bin/env python3
"""VM scenarios for the kernel module, hpctl, the daemon and the client library.

    python3 tests/vm/run_tests.py [--list] [--keep-logs] [--isolate] [--verbose] [SCENARIO ...]

Each scenario has a guest part (tests/vm/scenarios/<name>.sh, run by the guest as a section of the
boot's /hp/scenario.sh) and a host part (a check function that asserts on what the guest reported).
The scenarios are those of scenarios_kernel.py, scenarios_daemon.py and scenarios_client.py, in that
order; scenario.py has what they share. Scenarios that share a boot run in one VM, in that order;
--isolate boots one VM per scenario. Artifacts come from kmod/ and $HPPLACE_BUILD_DIR (default
build/). Logs land in tests/vm/out/ (kept for failing boots, or always with --keep-logs) and are
printed on failure. Exit status: 0 when every selected scenario passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios_client  # noqa: E402
import scenarios_daemon  # noqa: E402
import scenarios_kernel  # noqa: E402
import scenarios_system  # noqa: E402
import vmlib  # noqa: E402
from scenario import Boot, Context, Failure, Scenario, expect  # noqa: E402

MODULES = (scenarios_kernel, scenarios_daemon, scenarios_client, scenarios_system)
SCENARIOS: list[Scenario] = [s for module in MODULES for s in module.SCENARIOS]
BOOTS: dict[str, Boot] = {name: boot for module in MODULES for name, boot in module.BOOTS.items()}


def timeout_scale() -> int:
    """$HPVM_TIMEOUT_SCALE (default 1): how many times longer than their own limits boots and
    sections may take, and the guest's waits (guest/lib.sh wait_until), on a slower kernel (a debug
    kernel: tests/vm/debug_kernel.py)."""
    text = os.environ.get("HPVM_TIMEOUT_SCALE", "1")
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"run_tests.py: HPVM_TIMEOUT_SCALE={text!r}: a whole number of at least 1 expected")
    return int(text)


def list_problems() -> list[str]:
    """Names the modules define twice (a later one would hide the first) and boots nobody defines."""
    problems = []
    for what, names in (("boot", [name for module in MODULES for name in module.BOOTS]),
                        ("scenario", [s.name for s in SCENARIOS])):
        problems += [f"{what} {name} is defined twice" for name in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"scenario {s.name} runs in boot {s.boot!r}, which no module defines"
                 for s in SCENARIOS if s.boot not in BOOTS]
    return problems


# --------------------------------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    scenario: Scenario
    passed: bool
    reason: str
    seconds: float = 0.0
    skipped: bool = False  # a need the kernel or QEMU cannot meet (unmet_needs); reason says which

    @property
    def verdict(self) -> str:
        return "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"


def missing_needs(scenario: Scenario, artifacts: vmlib.Artifacts) -> list[str]:
    missing = []
    for need in scenario.needs:
        if need == "hpnotify" and not artifacts.hpnotify_ko:
            missing.append(f"{artifacts.kmod_dir}/hpnotify.ko (make kmod)")
        elif need == "hpctl" and not artifacts.binary("hpctl"):
            missing.append(f"{artifacts.build_dir}/bin/hpctl (make userspace or set HPPLACE_BUILD_DIR)")
        elif need == "hpplaced" and not artifacts.binary("hpplaced"):
            missing.append(f"{artifacts.build_dir}/bin/hpplaced (make userspace or set HPPLACE_BUILD_DIR)")
        elif need.startswith("bin:") and not artifacts.binary(need[4:]):
            missing.append(f"{artifacts.build_dir}/bin/{need[4:]} (make userspace or set HPPLACE_BUILD_DIR)")
        elif need == "failonline" and not any(m.name == "hpnotify_failonline.ko" for m in artifacts.test_modules):
            missing.append(f"{artifacts.kmod_dir}/test/hpnotify_failonline.ko (make kmod)")
    return missing


def unmet_needs(scenario: Scenario, kernel: vmlib.Kernel, artifacts: vmlib.Artifacts, out_dir: Path) -> list[str]:
    """Needs this kernel under this QEMU cannot meet: the scenario is skipped, with these reasons."""
    if "debs" in scenario.needs and scenarios_system.skip_reason():
        return [scenarios_system.skip_reason()]  # before the hot-add probe, which boots a VM
    unmet = []
    if "vcpu_hotadd" in scenario.needs:
        slots, line = vmlib.hotplug_cpus(kernel, artifacts, out_dir)
        if slots < 2:
            unmet.append(f"vCPU hot-add: kernel {kernel.version} under {vmlib.qemu_name()} says "
                         f"\"{line.split('] ')[-1]}\" (the standard layout needs 2)")
    if "large_layout" in scenario.needs and (refusal := vmlib.large_layout_refusal()):
        unmet.append(f"288 possible vCPUs under TCG: {vmlib.qemu_name()} says \"{refusal}\" "
                     f"(kernels.py --qemu trixie runs a newer one)")
    if "mcast_cap" in scenario.needs and not vmlib.kernel_defines(kernel, "net/genetlink.h", "GENL_MCAST_CAP_NET_ADMIN"):
        unmet.append(f"joining a multicast group as any user: kernel {kernel.version}'s genetlink has no "
                     f"GENL_MCAST_CAP_NET_ADMIN (6.8; Debian's 6.1 has the backport), so the events group is "
                     f"open to every user there (kmod/compat.h)")
    return unmet


def guest_script(scenarios: list[Scenario]) -> str:
    lines = ["# generated by tests/vm/run_tests.py", ". /hp/lib.sh"]
    lines += [f"section {s.name} /hp/scenarios/{s.name}.sh" for s in scenarios]
    return "\n".join(lines) + "\n"


def evaluate(scenario: Scenario, run: vmlib.GuestRun) -> Result:
    section = run.sections.get(scenario.name)
    if scenario.stalls and section is not None:
        try:
            return Result(scenario, True, scenario.check(Context(section, run)) or "", section.seconds)
        except Failure as failure:
            return Result(scenario, False, str(failure), section.seconds)
    if section is None:
        return Result(scenario, False, f"did not run ({run.failure or 'the guest never began it'})")
    kernel_log = run.console_between(f"hpvm: begin {scenario.name}", f"hpvm: end {scenario.name}")
    trouble = vmlib.kernel_trouble(kernel_log)
    try:
        expect(not section.host_errors, "; ".join(section.host_errors))
        expect(section.rc is not None, f"did not finish ({run.failure or 'no @@END'})")
        detail = scenario.check(Context(section, run))
        if trouble:
            raise Failure(f"kernel log: {trouble[0].strip()}")
        notes = [line for line in section.guest_lines if line.startswith("FAIL:")]
        expect(section.rc == 0, f"guest section exited {section.rc}{': ' + notes[0] if notes else ''}")
    except Failure as failure:
        reason = str(failure)
        if trouble and "kernel log" not in reason:
            reason += f" (kernel log: {trouble[0].strip()})"
        return Result(scenario, False, reason, section.seconds)
    return Result(scenario, True, detail or "", section.seconds)


def kernel_log_outside_sections(console: list[str]) -> list[str]:
    """Kernel console lines not between a "hpvm: begin X" and its "hpvm: end X"."""
    lines, inside = [], False
    for line in console:
        if "hpvm: begin " in line:
            inside = True
        elif "hpvm: end " in line:
            inside = False
        elif not inside:
            lines.append(line)
    return lines


def run_boot(name: str, boot: Boot, scenarios: list[Scenario], kernel: vmlib.Kernel,
             artifacts: vmlib.Artifacts, out_dir: Path, verbose: bool) -> tuple[list[Result], list[Path]]:
    extra_files = {f"/hp/scenarios/{s.name}.sh": s.guest_script.read_text() for s in scenarios}
    for guest_path, repo_path in boot.files:
        extra_files[guest_path] = (vmlib.REPO_ROOT / repo_path).read_bytes()
    extra_files["/hp/params.sh"] = "".join(f"{k}={v}\n" for k, v in os.environ.items() if k.startswith("HPVM_"))
    binaries = [artifacts.binary(b) for b in boot.binaries if artifacts.binary(b)]
    for tool in boot.host_binaries:
        host_tool = shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")
        if not host_tool:
            raise vmlib.VmError(f"{tool} not found on the host (scripts/install-deps.sh installs it)")
        binaries.append(Path(host_tool))
    if boot.image:
        extra_files["/hp/scenario.sh"] = guest_script(scenarios)
        initramfs = boot.image(kernel, artifacts, extra_files, out_dir / f"{name}.cpio.gz")
    else:
        initramfs = vmlib.build_initramfs(kernel, artifacts, guest_script(scenarios), out_dir / f"{name}.cpio.gz",
                                          extra_binaries=binaries, kernel_modules=boot.kernel_modules,
                                          extra_files=extra_files, python_imports=boot.python_imports)
    on_line = (lambda line: print(f"  | {line}", flush=True)) if verbose else None
    with vmlib.Vm(kernel, initramfs, name=name, out_dir=out_dir, memhp_offline=boot.memhp_offline,
                  memoryless_nodes=boot.memoryless_nodes, virtio_mem=boot.virtio_mem,
                  memory_mib=boot.memory_mib, large=boot.large) as vm:
        scale = timeout_scale()
        run = vm.run(timeout=boot.timeout * scale, section_timeouts={s.name: s.timeout * scale for s in scenarios},
                     on_line=on_line,
                     stall_seconds=boot.stall_seconds)
        logs = [vm.log_path, vm.console_path, vm.guest_path, initramfs]
    results = [evaluate(s, run) for s in scenarios]
    outside = vmlib.kernel_trouble(kernel_log_outside_sections(run.console))
    if outside and all(r.passed for r in results):
        results[-1] = Result(results[-1].scenario, False, f"kernel log outside any section: {outside[0].strip()}")
    if run.exit_code is None and all(r.passed for r in results) and not any(s.stalls for s in scenarios):
        results[-1] = Result(results[-1].scenario, False, run.failure or "the guest did not exit")
    return results, logs


def print_log(path: Path, limit: int = 3000) -> None:
    lines = path.read_text(errors="replace").splitlines()
    print(f"----- {path} ({len(lines)} lines{', last ' + str(limit) if len(lines) > limit else ''}) -----")
    for line in lines[-limit:]:
        print(line)
    print(f"----- end of {path} -----")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--keep-logs", action="store_true", help="keep logs and images of passing boots too")
    parser.add_argument("--isolate", action="store_true", help="boot one VM per scenario")
    parser.add_argument("--verbose", "-v", action="store_true", help="stream the guest's lines")
    parser.add_argument("--out", type=Path, default=vmlib.DEFAULT_OUT_DIR, help="log directory")
    parser.add_argument("--json", type=Path, help="also write each scenario's verdict and reason there")
    args = parser.parse_args()
    timeout_scale()  # a bad $HPVM_TIMEOUT_SCALE is said before any boot
    problems = list_problems()
    for problem in problems:
        print(f"run_tests.py: {problem}", file=sys.stderr)
    if problems:
        return 2

    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:20} [{s.boot}] {s.summary}")
        return 0
    known = {s.name for s in SCENARIOS}
    unknown = [n for n in args.scenarios if n not in known]
    if unknown:
        print(f"run_tests.py: unknown scenario(s) {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    selected = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]

    try:
        kernel = vmlib.find_kernel()
    except vmlib.VmError as error:
        print(f"run_tests.py: {error}", file=sys.stderr)
        return 1
    artifacts = vmlib.Artifacts.from_env()
    print(f"kernel {kernel.version} ({kernel.image}); artifacts from {artifacts.kmod_dir} and {artifacts.build_dir}")

    results: list[Result] = []
    runnable = []
    for scenario in selected:
        missing = missing_needs(scenario, artifacts)
        try:
            unmet = [] if missing else unmet_needs(scenario, kernel, artifacts, args.out)
        except (vmlib.VmError, OSError) as error:
            missing = [f"what the kernel and QEMU can do ({error})"]
        if missing:
            results.append(Result(scenario, False, "missing " + ", ".join(missing)))
        elif unmet:
            results.append(Result(scenario, False, "; ".join(unmet), skipped=True))
        else:
            runnable.append(scenario)
    for result in results:
        print(f"{result.verdict} {result.scenario.name}: {result.reason}", flush=True)
    groups: dict[str, list[Scenario]] = {}
    for scenario in runnable:
        groups.setdefault(scenario.name if args.isolate else scenario.boot, []).append(scenario)

    started = time.monotonic()
    for name, scenarios in groups.items():
        boot = BOOTS[scenarios[0].boot]
        print(f"booting {name}: {', '.join(s.name for s in scenarios)}", flush=True)
        try:
            boot_results, logs = run_boot(name, boot, scenarios, kernel, artifacts, args.out, args.verbose)
        except (vmlib.VmError, OSError) as error:
            boot_results, logs = [Result(s, False, f"VM error: {error}") for s in scenarios], []
        for result in boot_results:
            print(f"{result.verdict} {result.scenario.name} ({result.seconds:.1f} s): "
                  f"{result.reason}", flush=True)
        results += boot_results
        if not all(r.passed for r in boot_results):
            for log in logs[:1]:
                print_log(log)
        elif not args.keep_logs:
            for log in logs:
                log.unlink(missing_ok=True)

    failed = [r for r in results if not r.passed and not r.skipped]
    skipped = [r for r in results if r.skipped]
    order = {s.name: i for i, s in enumerate(SCENARIOS)}
    print(f"\n{len(results) - len(failed) - len(skipped)}/{len(results)} scenarios passed"
          f"{f', {len(skipped)} skipped' if skipped else ''} in {time.monotonic() - started:.0f} s")
    for result in sorted(failed + skipped, key=lambda r: order[r.scenario.name]):
        print(f"  {result.verdict} {result.scenario.name}: {result.reason}")
    if args.json:
        args.json.write_text(json.dumps([{"name": r.scenario.name, "verdict": r.verdict, "reason": r.reason}
                                         for r in sorted(results, key=lambda r: order[r.scenario.name])]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
