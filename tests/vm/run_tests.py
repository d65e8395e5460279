#!/usr/bin/env python3
"""VM scenarios for the kernel module, hpctl, the daemon and the client library.

    python3 tests/vm/run_tests.py [--list] [--keep-logs] [--isolate] [--verbose] [SCENARIO ...]

Each scenario has a guest part (tests/vm/scenarios/<name>.sh, run by the guest as a section of the
boot's /hp/scenario.sh) and a host part (a check function below that asserts on what the guest
reported). Scenarios that share a boot run in one VM, in the order listed here; --isolate boots one VM
per scenario. Artifacts come from kmod/ and $HPPLACE_BUILD_DIR (default build/). Logs land in
tests/vm/out/ (kept for failing boots, or always with --keep-logs) and are printed on failure.
Exit status: 0 when every selected scenario passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import vmlib  # noqa: E402

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
    timeout: float = 600.0
    stall_seconds: float = 60.0  # no heartbeat and no guest line for this long: a stall (vmlib.Vm.run)
    virtio_mem: tuple[int, int] | None = None  # (node, MiB): a virtio-mem-pci device, vmlib.Vm(virtio_mem=)


BOOTS = {
    # Memory hot-added into the guest stays offline until a scenario onlines it.
    "main": Boot(memhp_offline=True, kernel_modules=("memory-notifier-error-inject",), timeout=600.0),
    # The stress scenario gets a VM of its own: whatever it breaks stays out of the others' logs.
    "stress": Boot(memhp_offline=True, timeout=420.0),
    # The standard layout plus a node 2 with neither CPUs nor memory, which a DIMM gives its first memory.
    "memoryless": Boot(memhp_offline=True, memoryless_nodes=1, timeout=180.0),
    # A guest made to stall on purpose: its boot ends with the stall report.
    "stall": Boot(memhp_offline=True, timeout=180.0, stall_seconds=20.0),
}


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
    needs: tuple[str, ...] = ()  # "hpnotify", "hpctl", "hpplaced", "failonline", "bin:<name>"
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
# Assertions shared by the checks
# --------------------------------------------------------------------------------------------------

KERNEL_SOURCE = "kernel"


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


def parse_cpu_list(text: str) -> set[int]:
    """"0-2,5" -> {0, 1, 2, 5}; "" -> set()."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def key_values(lines: list[str]) -> dict[str, str]:
    """Lines "key rest of line" -> {key: rest}."""
    return {k: v for k, _, v in (line.partition(" ") for line in lines)}


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------


def check_smoke(ctx: Context) -> str:
    possible = ctx.output("possible")[0]
    expect(parse_cpu_list(possible) == {0, 1, 2, 3}, f"possible CPUs {possible!r}, expected 0-3")
    expect(parse_cpu_list(ctx.output("present")[0]) == {0, 1}, f"present CPUs {ctx.output('present')}")
    expect(parse_cpu_list(ctx.output("online")[0]) == {0, 1}, f"online CPUs {ctx.output('online')}")
    nodes = key_values(ctx.output("nodes"))
    expect(sorted(nodes) == ["0", "1"], f"NUMA nodes {sorted(nodes)}, expected 0 and 1")
    expect(parse_cpu_list(nodes["0"]) == {0, 1}, f"node 0 CPUs {nodes['0']!r}, expected 0-1")
    block_size = int(ctx.output("block_size")[0])
    expect(block_size == 128 * MiB, f"memory block size {block_size}, expected 128 MiB")
    before = {line.split()[0]: line.split()[1:] for line in ctx.output("blocks_before")}
    after = {line.split()[0]: line.split()[1:] for line in ctx.output("blocks_after")}
    new = sorted(set(after) - set(before), key=int)
    expect(len(new) == 1, f"the 128 MiB DIMM added blocks {new}, expected one")
    expect(after[new[0]] == ["offline", "1"], f"new block {new[0]}: {after[new[0]]}, expected offline on node 1")
    per_node = {n: sum(1 for state, node in before.values() if node == n and state == "online") for n in ("0", "1")}
    expect(all(count > 0 for count in per_node.values()), f"online blocks per node at boot: {per_node}")
    return f"{len(before)} blocks at boot (per node {per_node}), DIMM -> memory{new[0]} offline on node 1"


def check_cpu_offline_online(ctx: Context) -> str:
    expect(ctx.rc("offline") == 0, f"echo 0 > cpu1/online failed: {ctx.output('offline.stderr')}")
    expect(ctx.rc("online") == 0, f"echo 1 > cpu1/online failed: {ctx.output('online.stderr')}")
    events = ctx.events()
    expect_types(events, ["cpu_going_offline", "cpu_offline", "cpu_add_start", "cpu_online"])
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, cpu=1, node=0)
    # Online CPUs when each hook runs: cpu1 is still online while it is going offline, gone once it
    # died, not yet online at the prepare step, online at the online step.
    counts = [e.get("online_cpus") for e in events]
    expect(counts == [2, 1, 1, 2], f"online_cpus {counts}, expected [2, 1, 1, 2]")
    return f"seq {events[0]['seq']}..{events[-1]['seq']}"


def check_cpu_hotadd(ctx: Context) -> str:
    expect(ctx.rc("online") == 0, f"echo 1 > cpu2/online failed: {ctx.output('online.stderr')}")
    events = ctx.events()
    expect_types(events, ["cpu_arrived", "cpu_add_start", "cpu_online"])
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, cpu=2, node=1)
    counts = [e.get("online_cpus") for e in events]
    expect(counts == [2, 2, 3], f"online_cpus {counts}, expected [2, 2, 3] (cpu2 counts once online)")
    online = parse_cpu_list(ctx.output("cpus_online")[0])
    expect(online == {0, 1, 2}, f"online CPUs afterwards {sorted(online)}, expected 0-2")
    return f"seq {events[0]['seq']}..{events[-1]['seq']}"


def check_mem_hotadd(ctx: Context) -> str:
    block_size = int(ctx.output("block_size")[0])
    blocks = [line.split() for line in ctx.output("new_blocks")]  # number phys_index node
    expect(len(blocks) == 2, f"a 256 MiB DIMM should add 2 blocks of {block_size}, guest saw {blocks}")
    for number, phys_index, node in blocks:
        expect(node == "1", f"memory{number} is on node {node}, expected 1")
        expect(int(phys_index, 16) * block_size == int(number) * block_size,
               f"memory{number}: phys_index {phys_index} does not match its number")
    for step in ("online_first", "online_second", "offline_second"):
        expect(ctx.rc(step) == 0, f"{step} failed: {ctx.output(step + '.stderr')}")
    events = ctx.events()
    expect_types(events, ["mem_going_online", "mem_online"] * 2 + ["mem_going_offline", "mem_offline"])
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, node=1, size=block_size)
    first, second = (int(number) * block_size for number, _, _ in blocks)
    starts = [e.get("start") for e in events]
    expected = [first, first, second, second, second, second]
    expect(starts == expected, f"start {[hex(s) if isinstance(s, int) else s for s in starts]}, "
                               f"expected {[hex(s) for s in expected]}")
    return f"memory{blocks[0][0]} and memory{blocks[1][0]} at {first:#x}, {second:#x}"


def check_cpu_add_failed(ctx: Context) -> str:
    expect(ctx.rc("load_failonline") == 0, f"insmod hpnotify_failonline.ko cpu=1 failed: "
                                           f"{ctx.output('load_failonline.stderr')}")
    expect(ctx.rc("offline") == 0, f"echo 0 > cpu1/online failed: {ctx.output('offline.stderr')}")
    expect(ctx.rc("online") != 0, "echo 1 > cpu1/online succeeded; hpnotify_failonline should fail it")
    events = ctx.events()
    expect_types(events, ["cpu_going_offline", "cpu_offline", "cpu_add_start", "cpu_add_failed"])
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, cpu=1, node=0)
    expect(1 in parse_cpu_list(ctx.output("cpus_online_after")[0]),
           f"cpu1 did not come back after unloading the fault injector: {ctx.output('cpus_online_after')}")
    return f"online write said: {' '.join(ctx.output('online.stderr'))[:80]}"


def check_mem_online_vetoed(ctx: Context) -> str:
    expect(ctx.rc("inject") == 0, f"arming MEM_GOING_ONLINE -12 failed: {ctx.output('inject.stderr')}")
    expect(ctx.rc("online") != 0, "echo online > memoryN/state succeeded despite the -ENOMEM veto")
    stderr = " ".join(ctx.output("online.stderr"))
    expect("memory" in stderr.lower(), f"online failed, but not with ENOMEM: {stderr!r}")
    block_size = int(ctx.output("block_size")[0])
    block = int(ctx.output("block")[0])
    events = ctx.events()
    expect_types(events, ["mem_going_online", "mem_online_canceled"])
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, node=1, size=block_size, start=block * block_size)
    expect(ctx.output("state_after") == ["offline"], f"block state after the veto: {ctx.output('state_after')}")
    return f"memory{block}: {stderr[:60]}"


def check_state_dump(ctx: Context) -> str:
    expect(ctx.rc("state") == 0, f"hpctl state request failed: {ctx.output('state.stderr')}")
    text = "\n".join(ctx.output("state"))
    try:
        state = json.loads(text)
    except json.JSONDecodeError as error:
        raise Failure(f"state dump is not JSON ({error}): {text[:200]!r}") from None
    sysfs = key_values(ctx.output("sysfs_cpus"))
    cpus = state.get("cpus", {})
    for kind in ("possible", "present", "online"):
        expect(kind in cpus, f"state dump has no cpus.{kind}: {json.dumps(state)[:200]}")
        expect(set(cpus[kind]) == parse_cpu_list(sysfs.get(kind, "")),
               f"{kind} CPUs: dump {cpus[kind]}, sysfs {sysfs.get(kind)!r}")
    block_size = int(ctx.output("block_size")[0])
    sysfs_nodes = {}
    for line in ctx.output("sysfs_nodes"):  # id cpulist-or-"-" online_blocks
        node, cpulist, blocks = line.split(" ")
        sysfs_nodes[int(node)] = (parse_cpu_list("" if cpulist == "-" else cpulist), int(blocks) * block_size)
    dumped = {n.get("id"): n for n in state.get("nodes", [])}
    expect(sorted(dumped) == sorted(sysfs_nodes), f"nodes: dump {sorted(dumped)}, sysfs {sorted(sysfs_nodes)}")
    for node, (cpus_of_node, memory) in sysfs_nodes.items():
        entry = dumped[node]
        expect(set(entry.get("cpus", [])) == cpus_of_node,
               f"node {node} CPUs: dump {entry.get('cpus')}, sysfs {sorted(cpus_of_node)}")
        expect(entry.get("memory_bytes") == memory,
               f"node {node} memory: dump {entry.get('memory_bytes')}, sysfs online blocks {memory}")
    return ", ".join(f"node {n}: cpus {sorted(c)} {m // MiB} MiB" for n, (c, m) in sorted(sysfs_nodes.items()))


def check_unprivileged(ctx: Context) -> str:
    expect(ctx.output("whoami") == [vmlib.UNPRIVILEGED_USER], f"commands ran as {ctx.output('whoami')}")
    details = []
    for step, what in (("watch", "hpctl watch"), ("state", "hpctl state request")):
        expect(ctx.rc(step) != 0, f"{what} as an unprivileged user exited 0")
        stderr = [line for line in ctx.output(step + ".stderr") if line.strip()]
        expect(len(stderr) == 1, f"{what}: expected a one-line error, got {stderr}")
        expect("not permitted" in stderr[0].lower() or "EPERM" in stderr[0],
               f"{what}: error does not say EPERM / not permitted: {stderr[0]!r}")
        details.append(f"{what}: {stderr[0]!r}")
    return "; ".join(details)


def check_overrun(ctx: Context) -> str:
    def stats(name: str) -> dict:
        text = "\n".join(ctx.output(name))
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise Failure(f"{name}: hpctl kernel-stats --json printed no JSON: {text[:200]!r}") from None

    before, after = stats("stats_before"), stats("stats_after")
    failures = after["send_failures"] - before["send_failures"]
    unheard = after["no_listener"] - before["no_listener"]
    expect(after["listeners"], "the stopped watcher no longer counts as a listener")
    expect(failures > 0, f"80 events into a stopped listener's full queue, yet send_failures rose by "
                         f"{failures} (no_listener by {unheard})")
    expect(unheard == 0, f"events refused by a full queue were counted as no_listener (+{unheard})")
    stderr = " ".join(ctx.output("watch.stderr")).lower()
    expect("lost" in stderr or "overrun" in stderr or "enobufs" in stderr,
           f"the resumed watcher did not report the loss: {ctx.output('watch.stderr')[:3]}")
    return f"send_failures +{failures}, no_listener +{unheard}; watcher said {ctx.output('watch.stderr')[:1]}"


def check_node_mem(ctx: Context) -> str:
    block_size = int(ctx.output("block_size")[0])
    block = int(ctx.output("block")[0])
    expect(ctx.output("has_memory_before") == ["0-1"], f"nodes with memory at boot {ctx.output('has_memory_before')}")
    for step in ("online", "offline"):
        expect(ctx.rc(step) == 0, f"{step} of memory{block} failed: {ctx.output(step + '.stderr')}")
    events = ctx.events()
    expect_types(events, ["mem_going_online", "mem_online", "node_mem_added",
                          "mem_going_offline", "mem_offline", "node_mem_removed"])
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, node=2)
    for event in events:
        if event["type"].startswith("mem_"):
            expect(event.get("start") == block * block_size and event.get("size") == block_size,
                   f"{event['type']}: start {event.get('start')} size {event.get('size')}, "
                   f"expected memory{block} at {block * block_size:#x}, {block_size}")
    return f"node 2 gained and lost memory{block}"


def follow_segments(lines: list[str]) -> tuple[list[list[dict]], int, list[str]]:
    """Splits the output of `hpctl watch --json --follow` (stdout and stderr in one file) into loads of
    the module: a new load begins after a note that the module went or came back, or where the seq
    goes back without a note. Returns (segments, seq restarts without a note, other notes)."""
    segments: list[list[dict]] = [[]]
    unnoted = 0
    notes = []
    for line in lines:
        if line.startswith("hpctl watch:"):
            if "unloaded" in line or "is loaded" in line:
                if segments[-1]:
                    segments.append([])
            else:
                notes.append(line)
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            raise Failure(f"follow: neither an event nor a note: {line!r}") from None
        if segments[-1] and isinstance(event.get("seq"), int) and event["seq"] <= segments[-1][-1].get("seq", 0):
            unnoted += 1
            segments.append([])
        segments[-1].append(event)
    return [s for s in segments if s], unnoted, notes


def check_stress(ctx: Context) -> str:
    rounds = int(ctx.output("rounds")[0])
    failures = key_values(ctx.output("failures"))
    expect(int(failures.get("insmod", "0")) == 0, f"insmod failed {failures.get('insmod')} times")
    toggles = key_values(ctx.output("toggles"))
    expect(int(toggles.get("ok", "0")) > 0, f"cpu1 never toggled: {toggles}")

    # The --follow watcher: alive at the end, consecutive within each load, no losses reported.
    expect(ctx.rc("follow.exited") == 0, f"hpctl watch --follow exited during the run: "
                                         f"{[l for l in ctx.output('follow') if l.startswith('hpctl')][-3:]}")
    segments, unnoted, notes = follow_segments(ctx.output("follow"))
    if notes:
        raise Failure(f"hpctl watch --follow: {notes[0]}")
    for index, events in enumerate(segments):
        expect_consecutive(events, f"--follow watcher, load #{index + 1} it saw")
    follow_total = sum(len(s) for s in segments)
    expect(follow_total > 0, "the --follow watcher saw no event at all: nothing was checked")

    # The watchers restarted after an insmod: consecutive within their load.
    loads: dict[int, list[dict]] = {}
    for line in ctx.output("watch"):
        load, _, text = line.partition(" ")
        try:
            loads.setdefault(int(load), []).append(json.loads(text))
        except ValueError:
            raise Failure(f"watch line is not '<load> <json>': {line!r}") from None
    for load, events in loads.items():
        expect_consecutive(events, f"watcher of load {load}")
    total = sum(len(e) for e in loads.values())
    expect(total > 0, "no restarted watcher saw any event: nothing was checked")
    exits = ", ".join(ctx.output("watcher_exits"))
    said = sorted({line.partition(" ")[2] for line in ctx.output("watcher_stderr")})
    return (f"{rounds} loads, {toggles.get('ok')} cpu1 toggles ({toggles.get('failed')} refused), "
            f"rmmod refused {failures.get('rmmod')}x; --follow watcher: {follow_total} events in "
            f"{len(segments)} loads ({unnoted} seen only by a seq restart), all consecutive; restarted "
            f"watchers: {total} events in {len(loads)} loads, all consecutive; after rmmod they: {exits} "
            f"{said[:2]}")


def check_mem_hotremove(ctx: Context) -> str:
    block_size = int(ctx.output("block_size")[0])
    blocks = [int(b) for b in ctx.output("blocks")]
    expect(len(blocks) == 2, f"a 256 MiB DIMM should add 2 blocks, guest saw {blocks}")
    events = ctx.events()
    expect_types(events, ["mem_going_offline", "mem_offline"] * 2)
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, node=1, size=block_size)
    starts = sorted({e["start"] for e in events})
    expect(starts == sorted(b * block_size for b in blocks),
           f"offline events for {[hex(s) for s in starts]}, the DIMM's blocks are at "
           f"{[hex(b * block_size) for b in blocks]}")
    for first, second in (events[0:2], events[2:4]):
        expect(first["start"] == second["start"], f"going_offline and offline of different blocks: {first} {second}")
    before, with_dimm, after = (int(ctx.output(n)[0]) for n in ("node1_before", "node1_with_dimm", "node1_after"))
    expect(with_dimm == before + 2 * block_size, f"node 1 online memory {before} -> {with_dimm} with the DIMM")
    expect(after == before, f"node 1 online memory {after} after the removal, {before} before the DIMM")
    return f"memory{blocks[0]}, memory{blocks[1]} offlined and removed; node 1 back to {after // MiB} MiB"


def check_mem_hotremove_vetoed(ctx: Context) -> str:
    block_size = int(ctx.output("block_size")[0])
    block = int(ctx.output("block")[0])
    expect(ctx.rc("inject") == 0, f"arming MEM_GOING_OFFLINE -16 failed: {ctx.output('inject.stderr')}")
    vetoed = ctx.events("watch")
    # ACPI's eject tries to offline the DIMM's memory twice before it gives up.
    attempts = len(vetoed) // 2
    expect(attempts in (1, 2) and types_of(vetoed) == ["mem_going_offline", "mem_offline_canceled"] * attempts,
           f"events {types_of(vetoed)}, expected mem_going_offline, mem_offline_canceled (once or twice)")
    expect_common(vetoed)
    expect_consecutive(vetoed)
    expect_fields(vetoed, node=1, size=block_size, start=block * block_size)
    expect(ctx.output("state_vetoed") == ["online"], f"memory{block} after the refused removal: "
                                                    f"{ctx.output('state_vetoed')}")
    expect(ctx.rc("remove_again") == 0, "the second device_del was refused by QEMU")
    removed = ctx.events("watch_again")
    expect_types(removed, ["mem_going_offline", "mem_offline"])
    expect_consecutive(vetoed + removed)
    expect_fields(removed, node=1, size=block_size, start=block * block_size)
    expect(ctx.output("exists_after") == ["no"], f"memory{block} still exists after the second device_del")
    return f"memory{block}: removal refused ({attempts} offline attempts) and the block stayed online; " \
           "removed on the second request"


def check_cpu_hotremove(ctx: Context) -> str:
    events = ctx.events()
    expect_types(events, ["cpu_going_offline", "cpu_offline", "cpu_removed"])
    expect_common(events)
    expect_consecutive(events)
    expect_fields(events, cpu=2)
    expect_fields(events[:2], node=1)
    counts = [e.get("online_cpus") for e in events]
    expect(counts == [3, 2, 2], f"online_cpus {counts}, expected [3, 2, 2]")
    present = parse_cpu_list(ctx.output("present")[0])
    expect(present == {0, 1}, f"present CPUs after the removal {sorted(present)}, expected 0-1")
    return f"seq {events[0]['seq']}..{events[-1]['seq']}, present {ctx.output('present')[0]}"


def check_harness_wait(ctx: Context) -> str:
    expect(ctx.rc("gave_up") == 1, f"wait_until for a command that never succeeds returned {ctx.rc('gave_up')}")
    expect(ctx.rc("immediate") == 0, "wait_until for `true` did not succeed")
    waited = int(ctx.output("waited_cs")[0]) / 100
    # 3 s of guest time, plus the last try (0.3 s) and the shell's own slowness under TCG.
    expect(2.9 <= waited <= 6.0, f"wait_until 3 gave up after {waited:.2f} s of guest time, expected ~3 s")
    said = " ".join(ctx.output("said"))
    expect("gave up after 3 s" in said and "slow_false never-true" in said,
           f"wait_until did not say what it waited for: {said!r}")
    return f"gave up after {waited:.2f} s: {said}"


def check_harness_stall(ctx: Context) -> str:
    failure = ctx.run.failure or ""
    expect(failure.startswith("stall:"), f"a silenced guest was not reported as a stall: {failure or 'no failure'}")
    dumps = [line for line in ctx.run.console if "sysrq: Show Blocked State" in line
             or "sysrq: Show backtrace of all active CPUs" in line]
    expect(len(dumps) == 2, f"sysrq dumps in the kernel log: {dumps}, expected l and w")
    return failure


SCENARIOS = [
    Scenario("smoke", "boot, list CPUs/nodes/memory blocks, QMP DIMM hot-add (no module)", check_smoke,
             timeout=60),
    Scenario("cpu_offline_online", "echo 0/1 > cpu1/online: going_offline, offline, add_start, online",
             check_cpu_offline_online, needs=("hpnotify", "hpctl")),
    Scenario("cpu_hotadd", "QMP vCPU into node 1 then online: arrived, add_start, online for cpu2",
             check_cpu_hotadd, needs=("hpnotify", "hpctl")),
    Scenario("mem_hotadd", "QMP 256 MiB DIMM into node 1, online both blocks, offline one",
             check_mem_hotadd, needs=("hpnotify", "hpctl")),
    Scenario("cpu_add_failed", "a CPU bring-up failed by hpnotify_failonline: add_start then add_failed",
             check_cpu_add_failed, needs=("hpnotify", "hpctl", "failonline")),
    Scenario("mem_online_vetoed", "memory online vetoed by memory-notifier-error-inject: going_online, canceled",
             check_mem_online_vetoed, needs=("hpnotify", "hpctl")),
    Scenario("mem_hotremove", "QMP device_del of an online_movable DIMM: offline events per block, blocks gone",
             check_mem_hotremove, needs=("hpnotify", "hpctl")),
    Scenario("mem_hotremove_vetoed", "a DIMM removal the kernel refuses (offline vetoed): canceled, block stays; "
             "then removed", check_mem_hotremove_vetoed, needs=("hpnotify", "hpctl")),
    Scenario("cpu_hotremove", "QMP device_del of online cpu2: going_offline, offline, removed",
             check_cpu_hotremove, needs=("hpnotify", "hpctl")),
    Scenario("state_dump", "the kernel state dump equals sysfs after the above", check_state_dump,
             needs=("hpnotify", "hpctl")),
    Scenario("unprivileged", "an unprivileged user gets EPERM for watch and for the state request",
             check_unprivileged, needs=("hpnotify", "hpctl")),
    Scenario("overrun", "a stopped listener's full queue: send_failures, not no_listener; it reports the loss",
             check_overrun, needs=("hpnotify", "hpctl")),
    Scenario("node_mem", "a DIMM gives memoryless node 2 its first memory, then takes it away",
             check_node_mem, boot="memoryless", needs=("hpnotify", "hpctl")),
    Scenario("stress", "cpu1 toggling while hpnotify is unloaded and reloaded; no kernel warnings",
             check_stress, boot="stress", needs=("hpnotify", "hpctl"), timeout=300),
    Scenario("harness_wait", "wait_until gives up after its guest-time limit and says what it waited for",
             check_harness_wait, timeout=60),
    Scenario("harness_stall", "a guest whose user space goes silent is reported as a stall, with sysrq dumps",
             check_harness_stall, boot="stall", timeout=170, stalls=True),
]


# The daemon's scenarios (tests/vm/daemon_scenarios.py) add themselves to SCENARIOS and BOOTS.
import daemon_scenarios  # noqa: E402

daemon_scenarios.register(sys.modules[__name__])

# The client library's scenarios (tests/vm/client_scenarios.py), likewise.
import client_scenarios  # noqa: E402

client_scenarios.register(sys.modules[__name__])


# --------------------------------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    scenario: Scenario
    passed: bool
    reason: str
    seconds: float = 0.0


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
    extra_files["/hp/params.sh"] = "".join(f"{k}={v}\n" for k, v in os.environ.items() if k.startswith("HPVM_"))
    binaries = [artifacts.binary(b) for b in boot.binaries if artifacts.binary(b)]
    initramfs = vmlib.build_initramfs(kernel, artifacts, guest_script(scenarios), out_dir / f"{name}.cpio.gz",
                                      extra_binaries=binaries, kernel_modules=boot.kernel_modules,
                                      extra_files=extra_files)
    on_line = (lambda line: print(f"  | {line}", flush=True)) if verbose else None
    with vmlib.Vm(kernel, initramfs, name=name, out_dir=out_dir, memhp_offline=boot.memhp_offline,
                  memoryless_nodes=boot.memoryless_nodes, virtio_mem=boot.virtio_mem) as vm:
        run = vm.run(timeout=boot.timeout, section_timeouts={s.name: s.timeout for s in scenarios}, on_line=on_line,
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
    args = parser.parse_args()

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
        if missing:
            results.append(Result(scenario, False, "missing " + ", ".join(missing)))
        else:
            runnable.append(scenario)
    for result in results:
        print(f"FAIL {result.scenario.name}: {result.reason}", flush=True)
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
            print(f"{'PASS' if result.passed else 'FAIL'} {result.scenario.name} ({result.seconds:.1f} s): "
                  f"{result.reason}", flush=True)
        results += boot_results
        if not all(r.passed for r in boot_results):
            for log in logs[:1]:
                print_log(log)
        elif not args.keep_logs:
            for log in logs:
                log.unlink(missing_ok=True)

    failed = [r for r in results if not r.passed]
    order = {s.name: i for i, s in enumerate(SCENARIOS)}
    print(f"\n{len(results) - len(failed)}/{len(results)} scenarios passed in {time.monotonic() - started:.0f} s")
    for result in sorted(failed, key=lambda r: order[r.scenario.name]):
        print(f"  FAIL {result.scenario.name}: {result.reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
