"""Kernel-module scenarios: hpnotify's events, state dump and counters as hpctl sees them in the guest,
and the harness's own checks (wait_until, stall reports).

Each guest part is ``scenarios/<name>.sh``; the checks assert on what it reported. ``BOOTS`` and
``SCENARIOS`` are run by run_tests.py, the scenarios in this order.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import vmlib
from scenario import (Boot, Context, Failure, MiB, Scenario, expect, expect_common, expect_consecutive,
                      expect_fields, expect_types, key_values, parse_cpu_list, types_of)

#: The stress scenario's loads and unloads (scenarios/stress.sh reads the same variable); its limits
#: grow with them (a round takes about 0.5 s on Debian's kernel under TCG, 1.4 s on the debug kernel).
STRESS_ROUNDS = int(os.environ.get("HPVM_STRESS_ROUNDS", "250"))

BOOTS = {
    # Memory hot-added into the guest stays offline until a scenario onlines it.
    "main": Boot(memhp_offline=True, kernel_modules=("memory-notifier-error-inject",), timeout=600.0),
    # The stress scenario gets a VM of its own: whatever it breaks stays out of the others' logs.
    "stress": Boot(memhp_offline=True, timeout=120.0 + 1.2 * STRESS_ROUNDS),
    # The standard layout plus a node 2 with neither CPUs nor memory, which a DIMM gives its first memory.
    "memoryless": Boot(memhp_offline=True, memoryless_nodes=1, timeout=180.0),
    # A guest made to stall on purpose: its boot ends with the stall report.
    "stall": Boot(memhp_offline=True, timeout=180.0, stall_seconds=20.0),
}


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


def refused_as_user(step: str, what: str) -> Callable[[Context], str]:
    """The check of a command run as the unprivileged user that must fail with a one-line EPERM error."""
    def check(ctx: Context) -> str:
        expect(ctx.output("whoami") == [vmlib.UNPRIVILEGED_USER], f"commands ran as {ctx.output('whoami')}")
        expect(ctx.rc(step) != 0, f"{what} as an unprivileged user exited 0")
        stderr = [line for line in ctx.output(step + ".stderr") if line.strip()]
        expect(len(stderr) == 1, f"{what}: expected a one-line error, got {stderr}")
        expect("not permitted" in stderr[0].lower() or "EPERM" in stderr[0],
               f"{what}: error does not say EPERM / not permitted: {stderr[0]!r}")
        return f"{what}: {stderr[0]!r}"
    return check


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
    mem_toggles = key_values(ctx.output("mem_toggles"))
    expect(int(mem_toggles.get("ok", "0")) > 0, f"the DIMM's memory block never toggled: {mem_toggles}")
    leaks = ""
    if "kmemleak.checked" in ctx.section.rcs:
        # kmemleak's report: "unreferenced object 0x... (size N):" then its backtrace, per object.
        report = ctx.output("kmemleak")
        objects = [line for line in report if line.startswith("unreferenced object")]
        expect(not report, f"kmemleak after the last rmmod: {len(objects)} suspected leaks: "
                           f"{' | '.join(line.strip() for line in report[:12])}")
        before = sum(line.startswith("unreferenced object") for line in ctx.output("kmemleak_before"))
        leaks = f"; kmemleak: no leak after the last rmmod ({before} suspected before the run, cleared)"

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
            f"{mem_toggles.get('ok')} memory block toggles ({mem_toggles.get('failed')} refused), "
            f"rmmod refused {failures.get('rmmod')}x; --follow watcher: {follow_total} events in "
            f"{len(segments)} loads ({unnoted} seen only by a seq restart), all consecutive; restarted "
            f"watchers: {total} events in {len(loads)} loads, all consecutive; after rmmod they: {exits} "
            f"{said[:2]}{leaks}")


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
             needs=("vcpu_hotadd",), timeout=60),
    Scenario("cpu_offline_online", "echo 0/1 > cpu1/online: going_offline, offline, add_start, online",
             check_cpu_offline_online, needs=("hpnotify", "hpctl")),
    Scenario("cpu_hotadd", "QMP vCPU into node 1 then online: arrived, add_start, online for cpu2",
             check_cpu_hotadd, needs=("hpnotify", "hpctl", "vcpu_hotadd")),
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
             check_cpu_hotremove, needs=("hpnotify", "hpctl", "vcpu_hotadd")),
    Scenario("state_dump", "the kernel state dump equals sysfs after the above", check_state_dump,
             needs=("hpnotify", "hpctl")),
    Scenario("unprivileged", "an unprivileged user gets EPERM for the state request",
             refused_as_user("state", "hpctl state request"), needs=("hpnotify", "hpctl")),
    Scenario("unprivileged_watch", "an unprivileged user gets EPERM for watch (joining the events group)",
             refused_as_user("watch", "hpctl watch"), needs=("hpnotify", "hpctl", "mcast_cap")),
    Scenario("overrun", "a stopped listener's full queue: send_failures, not no_listener; it reports the loss",
             check_overrun, needs=("hpnotify", "hpctl")),
    Scenario("node_mem", "a DIMM gives memoryless node 2 its first memory, then takes it away",
             check_node_mem, boot="memoryless", needs=("hpnotify", "hpctl")),
    Scenario("stress", "cpu1 and a memory block toggling while hpnotify is unloaded and reloaded; no kernel "
             "warnings (and no kmemleak report where the kernel has it)",
             check_stress, boot="stress", needs=("hpnotify", "hpctl"), timeout=50.0 + STRESS_ROUNDS),
    Scenario("harness_wait", "wait_until gives up after its guest-time limit and says what it waited for",
             check_harness_wait, timeout=60),
    Scenario("harness_stall", "a guest whose user space goes silent is reported as a stall, with sysrq dumps",
             check_harness_stall, boot="stall", timeout=170, stalls=True),
]
