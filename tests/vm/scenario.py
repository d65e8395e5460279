"""What a VM scenario is, and the checks the scenarios share.

Each scenario module (scenarios_kernel.py, scenarios_daemon.py, scenarios_client.py) exports ``BOOTS``
(boot name -> Boot) and ``SCENARIOS`` (Scenario entries, in the order they run); run_tests.py runs them.
A scenario's guest part is ``scenarios/<name>.sh`` (with its ``helpers`` put in front); its check gets a
Context (the scenario's section of the guest run, and the run) and raises Failure with a one-line reason,
or returns the detail of its PASS line.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import vmlib

SCENARIO_DIR = vmlib.VM_DIR / "scenarios"
MiB = vmlib.MiB


class Failure(Exception):
    """A scenario's assertion failed; the message is the one-line reason."""


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise Failure(reason)


@dataclasses.dataclass(frozen=True)
class Boot:
    """How a VM that runs some scenarios is booted."""

    memhp_offline: bool = True
    memoryless_nodes: int = 0
    kernel_modules: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()  # more of $HPPLACE_BUILD_DIR/bin in /hp/bin (hpctl, hpplaced always)
    host_binaries: tuple[str, ...] = ()  # host executables (found in /usr/bin, /bin ...) in /hp/bin
    files: tuple[tuple[str, str], ...] = ()  # (guest path, file of the repository) copied in
    timeout: float = 600.0
    stall_seconds: float = 60.0  # no heartbeat and no guest line for this long: a stall (vmlib.Vm.run)
    virtio_mem: tuple[int, int] | None = None  # (node, MiB): a virtio-mem-pci device, vmlib.Vm(virtio_mem=)
    # Modules the guest's Python programs import: python3 and what they need (vmlib.Initramfs.add_python).
    python_imports: tuple[str, ...] = ()
    # Another guest than the busybox one: (kernel, artifacts, files, out) -> the initramfs, where files are
    # the harness's guest files (/hp/scenario.sh, /hp/scenarios/*.sh, /hp/params.sh) (scenarios_system.py).
    image: Callable[[vmlib.Kernel, vmlib.Artifacts, dict[str, bytes | str], Path], Path] | None = None
    memory_mib: int = 1024  # the guest's RAM at boot, half on each node (vmlib.Vm)
    large: bool = False  # vmlib.Vm's large layout: 288 possible vCPUs, 8 nodes (needs a QEMU that takes it)


@dataclasses.dataclass(frozen=True)
class Context:
    """What a check sees: the scenario's section and the boot it ran in."""

    section: vmlib.Section
    run: vmlib.GuestRun

    def output(self, name: str) -> list[str]:
        try:
            return self.section.output(name)
        except KeyError as error:
            raise Failure(str(error.args[0])) from None

    def rc(self, name: str) -> int:
        if name not in self.section.rcs:
            raise Failure(f"guest did not report the exit status of {name!r}")
        return self.section.rcs[name]

    def events(self, name: str = "watch") -> list[dict]:
        """The JSON lines `hpctl watch --json` printed into output ``name``."""
        events = []
        for line in self.output(name):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                raise Failure(f"{name}: not a JSON line: {line!r}") from None
            expect(isinstance(event, dict), f"{name}: not a JSON object: {line!r}")
            events.append(event)
        stderr = [line for line in self.section.outputs.get(f"{name}.stderr", []) if line.strip()]
        expect(events or not stderr, f"{name}: no events; hpctl watch said: {' | '.join(stderr)[:300]}")
        return events


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    check: Callable[[Context], str | None]  # raises Failure; may return a detail for the PASS line
    boot: str = "main"
    # What it needs: built artifacts ("hpnotify", "hpctl", "hpplaced", "failonline", "bin:<name>"; missing
    # is a failure) and what the kernel under this QEMU must do ("vcpu_hotadd": QMP vCPUs appear in the
    # guest; "mcast_cap": genetlink can keep a multicast group to CAP_NET_ADMIN; unable is a skip, with the
    # reason: run_tests.unmet_needs), or "debs": the packages of `make deb` in $HPPLACE_DEB_DIR (a skip
    # without them: scenarios_system.skip_reason).
    needs: tuple[str, ...] = ()
    timeout: float = 120.0  # seconds for the guest section

    helpers: Path | None = None  # guest shell helpers put in front of the scenario's script
    stalls: bool = False  # the guest stalls on purpose: the check sees the run, not a finished section

    @property
    def guest_script(self) -> Path:
        script = SCENARIO_DIR / f"{self.name}.sh"
        if self.helpers is None:
            return script
        generated = vmlib.DEFAULT_OUT_DIR / "scripts" / f"{self.name}.sh"
        generated.parent.mkdir(parents=True, exist_ok=True)
        generated.write_text(self.helpers.read_text() + "\n" + script.read_text())
        return generated


# --------------------------------------------------------------------------------------------------
# What the guest reported
# --------------------------------------------------------------------------------------------------


def json_document(ctx: Context, name: str) -> dict:
    """Output NAME as one line holding a JSON object."""
    lines = ctx.output(name)
    expect(len(lines) == 1, f"{name}: expected one JSON line, got {lines[:3]}")
    try:
        value = json.loads(lines[0])
    except json.JSONDecodeError:
        raise Failure(f"{name}: not JSON: {lines[0][:200]!r}") from None
    expect(isinstance(value, dict), f"{name}: not a JSON object")
    return value


def parse_cpu_list(text: str) -> set[int]:
    """"0-2,5" -> {0, 1, 2, 5}; "" -> set()."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def cpu_list_output(ctx: Context, name: str) -> set[int]:
    """Output NAME as one line holding a cpulist (a cgroup's cpuset.cpus)."""
    lines = ctx.output(name)
    expect(len(lines) == 1, f"{name}: {lines}")
    return parse_cpu_list(lines[0])


def key_values(lines: list[str]) -> dict[str, str]:
    """Lines "key rest of line" -> {key: rest}."""
    return {k: v for k, _, v in (line.partition(" ") for line in lines)}


def status_node(status: dict, node_id: int) -> dict:
    """Node ``node_id`` of a status document (`hpctl status --json`)."""
    for entry in status.get("nodes", []):
        if entry.get("id") == node_id:
            return entry
    raise Failure(f"status has no node {node_id}: {json.dumps(status)[:300]}")


def log_lines(ctx: Context, name: str, text: str) -> list[str]:
    """The lines of output NAME (a log the guest reported) that contain ``text``."""
    return [line for line in ctx.output(name) if text in line]


def guest_first(check: Callable[[Context], str | None]) -> Callable[[Context], str | None]:
    """A guest step that died (die "...") is the reason, rather than the output it never reported."""
    def checked(ctx: Context) -> str | None:
        notes = [line for line in ctx.section.guest_lines if line.startswith("FAIL:")]
        expect(ctx.section.rc == 0 or not notes, f"guest: {notes[0] if notes else ''}")
        return check(ctx)
    return checked


# --------------------------------------------------------------------------------------------------
# Events (`hpctl watch --json` lines, Context.events)
# --------------------------------------------------------------------------------------------------

KERNEL_SOURCE = "kernel"


def types_of(events: list[dict]) -> list[str]:
    return [e.get("type") for e in events]


def expect_types(events: list[dict], expected: list[str]) -> None:
    expect(types_of(events) == expected, f"events {types_of(events)}, expected exactly {expected}")


def expect_consecutive(events: list[dict], what: str = "events") -> None:
    seqs = [e.get("seq") for e in events]
    expect(all(isinstance(s, int) for s in seqs), f"{what}: a seq is missing or not an integer: {seqs}")
    for a, b in zip(seqs, seqs[1:]):
        expect(b == a + 1, f"{what}: seq {a} followed by {b}, not consecutive ({seqs})")


def expect_fields(events: list[dict], **fields) -> None:
    for event in events:
        for key, value in fields.items():
            expect(event.get(key) == value,
                   f"{event.get('type')} seq {event.get('seq')}: {key} = {event.get(key)!r}, expected {value!r}")


def expect_common(events: list[dict]) -> None:
    """Fields every kernel event has (docs/contract.md) and a clock that does not go back."""
    for event in events:
        for key in ("seq", "type", "source", "time_ns"):
            expect(key in event, f"event without {key!r}: {event}")
        expect(event["source"] == KERNEL_SOURCE, f"source {event['source']!r}, expected 'kernel': {event}")
    times = [e["time_ns"] for e in events]
    expect(times == sorted(times), f"time_ns goes back: {times}")


def expect_block_events(events: list[dict], kinds: list[str], starts: list[int], size: int) -> None:
    """going/done event pairs of ``kinds`` for each block start, node 1, in seq order."""
    got = [e.get("type") for e in events]
    expect(got == kinds * len(starts), f"events {got}, expected {kinds * len(starts)}")
    expect(all(e.get("node") == 1 and e.get("size") == size for e in events),
           f"events not all node 1 / {size} bytes: {[(e.get('node'), e.get('size')) for e in events]}")
    seqs = [e.get("seq") for e in events]
    expect(seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"event seqs {seqs} not consecutive")
    expect(sorted({e.get("start") for e in events}) == sorted(starts),
           f"events for {[hex(e.get('start', 0)) for e in events]}, blocks at {[hex(s) for s in starts]}")


def expect_refused_then_removed(events: list[dict], starts: list[int], size: int) -> None:
    """Offline attempts of blocks at ``starts`` (node 1): each mem_going_offline answered by
    mem_offline_canceled (vetoed) or mem_offline; at least one veto, and every block offlined once."""
    expect(events, "no offline events")
    seqs = [e.get("seq") for e in events]
    expect(seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"event seqs {seqs} not consecutive")
    expect(all(e.get("node") == 1 and e.get("size") == size for e in events),
           f"events not all node 1 / {size} bytes: {[(e.get('node'), e.get('size')) for e in events]}")
    pairs = list(zip(events[0::2], events[1::2]))
    expect(len(events) % 2 == 0 and all(g.get("type") == "mem_going_offline" and g.get("start") == d.get("start")
                                        and d.get("type") in ("mem_offline", "mem_offline_canceled")
                                        for g, d in pairs),
           f"not going_offline/outcome pairs: {[(e.get('type'), hex(e.get('start', 0))) for e in events]}")
    expect(any(d["type"] == "mem_offline_canceled" for _, d in pairs), "no vetoed offline among the events")
    offlined = sorted(d["start"] for _, d in pairs if d["type"] == "mem_offline")
    expect(offlined == sorted(starts), f"blocks offlined {[hex(s) for s in offlined]}, "
                                       f"expected each of {[hex(s) for s in starts]} once")
