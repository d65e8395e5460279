"""Client-library scenarios: hpplace-example-service, linked with libhpplace, in the
two-node guest with hpplaced; its threads and buffers must follow CPU and memory hotplug.

Each guest part is ``scenarios/<name>.sh`` with ``client_guest.sh`` (hpplaced_start, service_start,
threads, bind_bytes, snapshot ...) put in front of it. They share one boot, "client", in the order of
``SCENARIOS``; each also runs alone (--isolate). The host side reads what the guest saw in /proc: per thread
"TID PROCESSOR CPUS_ALLOWED_LIST COMM" (PROCESSOR = field 39 of /proc/PID/task/TID/stat) and the
service's /proc/PID/numa_maps, whose "bind:" mappings are its node buffers.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re

import vmlib
from scenario import (Boot, Failure, MiB, Scenario, expect, expect_block_events, expect_refused_then_removed,
                      guest_first, json_document, log_lines, parse_cpu_list)

HELPERS = vmlib.VM_DIR / "client_guest.sh"
PAGE_SIZE = 4096
SERVICE = "hpplace-example-service"
PIN_PROBE = "hpvm-pin-probe"
#: client_guest.sh's config and service options.
MAX_MEMORY_SHARE = 0.1
BUFFER_PER_CPU = 96 * MiB


@dataclasses.dataclass(frozen=True)
class Thread:
    tid: int
    processor: int  # the CPU it last ran on
    allowed: str  # Cpus_allowed_list
    comm: str

    @property
    def is_worker(self) -> bool:
        return self.comm.startswith("worker")


def parse_threads(lines: list[str]) -> dict[int, Thread]:
    """"TID PROCESSOR ALLOWED COMM" lines -> {tid: Thread}."""
    threads = {}
    for line in lines:
        fields = line.split(" ", 3)
        if len(fields) != 4:
            raise ValueError(f"thread line {line!r} is not 'TID PROCESSOR ALLOWED COMM'")
        tid, processor, allowed, comm = fields
        threads[int(tid)] = Thread(int(tid), int(processor), allowed, comm)
    return threads


def workers(threads: dict[int, Thread]) -> dict[int, Thread]:
    return {tid: t for tid, t in threads.items() if t.is_worker}


def bound_bytes(numa_maps: list[str]) -> dict[int, int]:
    """Bytes resident per node in the mappings with a "bind:" policy (the node buffers), from
    /proc/PID/numa_maps lines: N<node>=<pages> x kernelpagesize_kB."""
    per_node: dict[int, int] = {}
    for line in numa_maps:
        fields = line.split()
        if len(fields) < 2 or not fields[1].startswith("bind:"):
            continue
        values = dict(f.partition("=")[::2] for f in fields[2:] if "=" in f)
        page = int(values.get("kernelpagesize_kB", "4")) * 1024
        for key, value in values.items():
            if key.startswith("N") and key[1:].isdigit():
                per_node[int(key[1:])] = per_node.get(int(key[1:]), 0) + int(value) * page
    return per_node


def round_up(value: int, unit: int) -> int:
    return (value + unit - 1) // unit * unit


ClientScenario = functools.partial(Scenario, helpers=HELPERS)


def threads_of(ctx, prefix: str) -> dict[int, Thread]:
    try:
        threads = parse_threads(ctx.output(f"{prefix}_threads"))
    except ValueError as error:
        raise Failure(f"{prefix}_threads: {error}") from None
    expect(threads, f"{prefix}: the service has no threads (not running?)")
    return threads


def svc_plan(ctx, prefix: str) -> dict:
    plan = json_document(ctx, f"{prefix}_plan")
    for workload in plan.get("workloads", []):
        if workload.get("name") == "svc":
            return workload
    raise Failure(f"{prefix}: the daemon's plan has no workload svc: {json.dumps(plan)[:300]}")


def planned_bytes(workload: dict, node: int) -> int:
    return sum(b.get("bytes", 0) for b in workload.get("buffers", []) if b.get("node") == node)


def expect_buffers_as_planned(ctx, prefix: str) -> dict[int, int]:
    """The service's bound memory per node is the plan's buffer (rounded up to pages)."""
    workload = svc_plan(ctx, prefix)
    bound = bound_bytes(ctx.output(f"{prefix}_numa_maps"))
    for node in sorted({0, 1} | set(bound) | {b.get("node") for b in workload.get("buffers", [])}):
        want = round_up(planned_bytes(workload, node), PAGE_SIZE)
        expect(bound.get(node, 0) == want,
               f"{prefix}: {bound.get(node, 0)} bytes bound to node {node}, the plan asks {want}")
    return bound


def expect_worker_per_planned_thread(ctx, prefix: str) -> dict[int, Thread]:
    """One worker per planned thread, pinned to that thread's CPU alone and last run there."""
    threads = workers(threads_of(ctx, prefix))
    planned = sorted(t["cpu"] for t in svc_plan(ctx, prefix).get("threads", []))
    pinned = sorted(int(t.allowed) for t in threads.values() if t.allowed.isdigit())
    expect(len(threads) == len(planned) and pinned == planned,
           f"{prefix}: workers pinned to {pinned} ({len(threads)} workers), the plan has threads on {planned}")
    for t in threads.values():
        expect(t.processor == int(t.allowed), f"{prefix}: {t.comm} (tid {t.tid}) pinned to {t.allowed} "
                                              f"last ran on cpu{t.processor}")
    return threads


def describe(threads: dict[int, Thread]) -> str:
    return " ".join(f"{t.comm}@cpu{t.processor}" for t in sorted(threads.values(), key=lambda t: t.comm))


@guest_first
def check_cpu_hotadd(ctx) -> str:
    expect(ctx.output("cpu2_node") == ["1"], f"cpu2 is on node {ctx.output('cpu2_node')}, expected 1")
    before = expect_worker_per_planned_thread(ctx, "before")
    expect(not any(t.allowed == "2" for t in before.values()), f"a worker was on cpu2 before: {describe(before)}")
    after = expect_worker_per_planned_thread(ctx, "after")
    on_cpu2 = [t for t in after.values() if t.allowed == "2"]
    expect(len(on_cpu2) == 1, f"workers on cpu2 after the hot-add: {[t.comm for t in on_cpu2]}, expected one")
    new = on_cpu2[0]
    expect(new.processor == 2, f"{new.comm} is pinned to cpu2 but last ran on cpu{new.processor}")
    expect(new.tid not in before, f"the worker on cpu2 (tid {new.tid}) is an old thread moved there")
    for tid, thread in before.items():
        expect(tid in after and after[tid].allowed == thread.allowed,
               f"{thread.comm} (tid {tid}, cpu {thread.allowed}) was disturbed by the hot-add")
    planned = [t for t in svc_plan(ctx, "after")["threads"] if t.get("cpu") == 2]
    expect(planned and planned[0].get("node") == 1, f"plan threads on cpu2: {planned}, expected node 1")
    expect_buffers_as_planned(ctx, "after")
    return f"{describe(before)} -> {describe(after)}"


@guest_first
def check_mem_hotadd(ctx) -> str:
    blocks = [line.split() for line in ctx.output("new_blocks")]
    expect(len(blocks) == 2, f"a 256 MiB DIMM should add 2 blocks, saw {blocks}")
    for number, state, node_id in blocks:
        expect(state == "online" and node_id == "1", f"memory{number} is {state} on node {node_id}")
    before = expect_buffers_as_planned(ctx, "before")
    after = expect_buffers_as_planned(ctx, "after")
    expect(after.get(1, 0) > before.get(1, 0),
           f"node 1 buffers did not grow: {before.get(1, 0)} -> {after.get(1, 0)} bytes")
    expect(after.get(0, 0) == before.get(0, 0), f"node 0 buffers changed: {before.get(0)} -> {after.get(0)}")
    # One workload, so node 1's cap is all its: a tenth of node 1's memory, or the request if smaller.
    status = json_document(ctx, "after_status")
    memory = next((n.get("memory_bytes") for n in status.get("nodes", []) if n.get("id") == 1), None)
    expect(isinstance(memory, int), f"status has no memory for node 1: {json.dumps(status)[:300]}")
    workload = svc_plan(ctx, "after")
    cpus_on_1 = sum(1 for t in workload.get("threads", []) if t.get("node") == 1)
    want = min(BUFFER_PER_CPU * cpus_on_1, int(memory * MAX_MEMORY_SHARE))
    expect(abs(planned_bytes(workload, 1) - want) <= 1,
           f"plan gives node 1 {planned_bytes(workload, 1)} bytes, expected min({cpus_on_1} x 96 MiB, "
           f"{MAX_MEMORY_SHARE} x {memory}) = {want}")
    return f"node 1 buffers {before.get(1, 0) / MiB:.1f} -> {after.get(1, 0) / MiB:.1f} MiB " \
           f"(node 1 memory {memory // MiB} MiB)"


@guest_first
def check_cpu_offline(ctx) -> str:
    expect(ctx.rc("offline") == 0, f"echo 0 > cpu2/online failed: {ctx.output('offline.stderr')}")
    before = expect_worker_per_planned_thread(ctx, "before")
    on_cpu2 = [t for t in before.values() if t.allowed == "2"]
    expect(len(on_cpu2) == 1, f"before: workers on cpu2 {[t.comm for t in on_cpu2]}, expected one")
    gone = on_cpu2[0]
    offline_threads = threads_of(ctx, "offline")
    offline = expect_worker_per_planned_thread(ctx, "offline")
    expect(gone.tid not in offline_threads, f"{gone.comm} (tid {gone.tid}) still exists with cpu2 offline")
    expect(not any(t.allowed == "2" or t.processor == 2 for t in offline_threads.values()),
           f"a thread is still on offline cpu2: {describe(offline_threads)}")
    expect(len(offline) == len(before) - 1, f"{len(before)} workers -> {len(offline)} with cpu2 offline")
    bound = expect_buffers_as_planned(ctx, "offline")
    expect(bound.get(1, 0) == 0, f"node 1 keeps {bound.get(1)} bytes of buffers without a CPU to serve")
    expect(ctx.rc("online") == 0, f"echo 1 > cpu2/online failed: {ctx.output('online.stderr')}")
    online = expect_worker_per_planned_thread(ctx, "online")
    back = [t for t in online.values() if t.allowed == "2"]
    expect(len(back) == 1 and back[0].tid not in before,
           f"after echo 1: workers on cpu2 {[(t.comm, t.tid) for t in back]}, expected one new thread")
    expect_buffers_as_planned(ctx, "online")
    return f"{describe(before)} -> {describe(offline)}, node 1 buffers released -> {describe(online)}"


def affinity_breaks(ctx) -> int:
    """Kernel lines "process N (comm) no longer affine to cpuX" in the section: threads the kernel
    had to move off a CPU going offline because they were still pinned there (rate-limited)."""
    lines = ctx.run.console_between(f"hpvm: begin {ctx.section.name}", f"hpvm: end {ctx.section.name}")
    return sum(1 for line in lines if "no longer affine to cpu" in line)


@guest_first
def check_cpu_reonline(ctx) -> str:
    rounds = int(ctx.output("rounds")[0])
    seconds = []
    for round_ in range(1, rounds + 1):
        expect(ctx.rc(f"offline_{round_}") == 0, f"round {round_}: echo 0 failed")
        expect(ctx.rc(f"online_{round_}") == 0, f"round {round_}: echo 1 failed")
        seconds.append(int(ctx.output(f"worker_cs_{round_}")[0]) / 100)
    probe = ctx.output("pin_probe")
    expect(len(probe) == rounds, f"hpvm-pin-probe saw {len(probe)} cpu_online events in {rounds} rounds: {probe}")
    failed = [line for line in probe if "cpu=2 pin=ok" not in line]
    expect(not failed, f"pinning to cpu2 when its cpu_online arrived failed: {failed}")
    expect_worker_per_planned_thread(ctx, "after")
    expect_buffers_as_planned(ctx, "after")
    return f"{rounds} rounds, worker on cpu2 {min(seconds):.2f}-{max(seconds):.2f} s after echo 1, " \
           f"pin at cpu_online ok {len(probe)}/{rounds}, kernel broke {affinity_breaks(ctx)} affinities"


def status_node_memory(ctx, name: str, node_id: int) -> int:
    status = json_document(ctx, name)
    memory = next((n.get("memory_bytes") for n in status.get("nodes", []) if n.get("id") == node_id), None)
    expect(isinstance(memory, int), f"{name}: no memory for node {node_id}: {json.dumps(status)[:300]}")
    return memory


def expect_node1_buffers_there_and_back(ctx, before: str, peak: str, after: str) -> str:
    """Snapshots before, at the peak and after memory came and went: each as planned, node 1's buffers
    grown at the peak and back to where they were."""
    bound = {name: expect_buffers_as_planned(ctx, name).get(1, 0) for name in (before, peak, after)}
    expect(bound[peak] > bound[before], f"node 1 buffers did not grow: {bound[before]} -> {bound[peak]}")
    expect(bound[after] == bound[before], f"node 1 buffers {bound[after]} at {after}, {bound[before]} {before}")
    return " -> ".join(f"{bound[name] / MiB:.1f}" for name in (before, peak, after)) + " MiB"


@guest_first
def check_mem_hotremove(ctx) -> str:
    blocks = [line.split() for line in ctx.output("new_blocks")]
    expect(len(blocks) == 2 and all(b[1] == "online" and b[2] == "1" for b in blocks),
           f"the DIMM's blocks: {blocks}, expected 2 online on node 1")
    block_size = status_node_memory(ctx, "with_status", 1) - status_node_memory(ctx, "before_status", 1)
    expect(block_size == 2 * 128 * MiB, f"node 1 memory grew by {block_size} with the DIMM, expected 256 MiB")
    expect_block_events(ctx.events("watch"), ["mem_going_offline", "mem_offline"],
                        [int(b[0]) * 128 * MiB for b in blocks], 128 * MiB)
    removed = int(ctx.output("removed_after")[0]) - int(ctx.output("removed_before")[0])
    expect(removed == 2, f"hpplaced counted {removed} mem_block_removed events, expected 2")
    before, after = status_node_memory(ctx, "before_status", 1), status_node_memory(ctx, "after_status", 1)
    expect(after == before, f"node 1 memory in status {after} after the removal, {before} before the DIMM")
    buffers = expect_node1_buffers_there_and_back(ctx, "before", "with", "after")
    return f"node 1 {before // MiB} -> {(before + block_size) // MiB} -> {after // MiB} MiB, buffers {buffers}"


@guest_first
def check_virtio_mem(ctx) -> str:
    block_size = int(ctx.output("block_size")[0])
    blocks = [line.split() for line in ctx.output("grown_blocks")]
    expect(len(blocks) == 2 and all(b[1] == "online" and b[2] == "1" for b in blocks),
           f"virtio-mem's blocks: {blocks}, expected 2 online on node 1")
    starts = [int(b[0]) * block_size for b in blocks]
    expect_block_events(ctx.events("grow_watch"), ["mem_going_online", "mem_online"], starts, block_size)
    expect_refused_then_removed(ctx.events("shrink_watch"), starts, block_size)
    before, grown, shrunk = (status_node_memory(ctx, name, 1)
                             for name in ("before_status", "grown_status", "shrunk_status"))
    expect(grown == before + 256 * MiB, f"node 1 memory {before} -> {grown} growing by 256 MiB")
    expect(shrunk == before, f"node 1 memory {shrunk} after shrinking to 0, {before} before")
    refused, refused_sysfs = status_node_memory(ctx, "refused_status", 1), int(ctx.output("refused_sysfs")[0])
    expect(refused == refused_sysfs == grown,
           f"after the refused shrink: status node 1 {refused}, sysfs {refused_sysfs}, expected {grown}")
    refusals = log_lines(ctx, "hpplaced_log", "refused to offline memory")
    expect(refusals, "hpplaced did not log the refused offline")
    buffers = expect_node1_buffers_there_and_back(ctx, "before", "grown", "shrunk")
    return f"node 1 {before // MiB} -> {grown // MiB} (shrink refused once) -> {shrunk // MiB} MiB, " \
           f"buffers {buffers}"


@guest_first
def check_cpu_hotremove(ctx) -> str:
    before = expect_worker_per_planned_thread(ctx, "before")
    on_cpu2 = [t for t in before.values() if t.allowed == "2"]
    expect(len(on_cpu2) == 1, f"before: workers on cpu2 {[t.comm for t in on_cpu2]}, expected one")
    after_threads = threads_of(ctx, "after")
    after = expect_worker_per_planned_thread(ctx, "after")
    expect(on_cpu2[0].tid not in after_threads, f"{on_cpu2[0].comm} still exists with cpu2 removed")
    expect(not any(t.allowed == "2" or t.processor == 2 for t in after_threads.values()),
           f"a thread is still on removed cpu2: {describe(after_threads)}")
    status = json_document(ctx, "after_status")
    expect(2 not in status["cpus"]["present"] and 2 not in status["cpus"]["online"],
           f"status still has cpu2: {status['cpus']}")
    expect(ctx.output("present") == ["0-1"], f"sysfs present {ctx.output('present')}")
    return f"{describe(before)} -> {describe(after)}; status present {status['cpus']['present']}"


@guest_first
def check_restart(ctx) -> str:
    pid = ctx.output("service_pid")
    expect(pid and pid[0], "the service was not running before the restart")
    expect(ctx.output("service_pid_after") == pid,
           f"service pid {pid} before the restart, {ctx.output('service_pid_after')} after")
    log = ctx.output("service_log")
    expect(log.count("hpplaced connected") >= 2, f"the service did not reconnect: {log[-5:]}")
    expect("hpplaced disconnected" in log, "the service never saw the daemon go")
    before = expect_worker_per_planned_thread(ctx, "before")
    try:
        away = workers(parse_threads(ctx.output("away_threads")))
    except ValueError as error:
        raise Failure(f"away_threads: {error}") from None
    after = expect_worker_per_planned_thread(ctx, "after")
    key = lambda threads: sorted((t.tid, t.allowed) for t in threads.values())  # noqa: E731
    expect(key(away) == key(before), f"workers (tid, cpu) changed while the daemon was away: "
                                     f"{key(before)} -> {key(away)}")
    expect(key(after) == key(before), f"workers (tid, cpu) changed across the restart: {key(before)} -> "
                                      f"{key(after)}")
    bound_before = expect_buffers_as_planned(ctx, "before")
    bound_after = expect_buffers_as_planned(ctx, "after")
    expect(bound_before == bound_after, f"buffers {bound_before} -> {bound_after} across the restart")
    expect(any("registered" in line for line in ctx.output("hpplaced_log")),
           "the daemon's log shows no registration")
    return f"pid {pid[0]} kept {describe(after)}, buffers " + \
           ", ".join(f"node{n}={b / MiB:.1f}MiB" for n, b in sorted(bound_after.items()))


#: What guest/python_client.py and `python3 -m hpplace watch` import (argparse's messages load locale,
#: shutil and textwrap only when they print).
PYTHON_IMPORTS = ("hpplace", "hpplace._watch", "signal", "threading", "locale", "shutil", "textwrap")


def parse_python_client(lines: list[str]) -> list[tuple]:
    """guest/python_client.py's change lines -> (state, cpu, node, count, cpus, seq, kind, thread)."""
    changes = []
    for line in lines:
        if line in ("connected", "disconnected") or line.startswith("memory "):
            continue
        fields = line.split()
        expect(len(fields) == 12 and fields[1] == "cpu" and fields[3] == "node" and fields[5] == "active",
               f"python_client: not a change line: {line!r}")
        cpus = [] if fields[7] == "-" else [int(c) for c in fields[7].split(",")]
        changes.append((fields[0], int(fields[2]), None if fields[4] == "None" else int(fields[4]), int(fields[6]),
                        cpus, int(fields[9]), fields[10], fields[11]))
    return changes


def parse_python_memory(lines: list[str]) -> list[tuple]:
    """guest/python_client.py's memory lines -> (state, node, size, seq, kind, thread)."""
    changes = []
    for line in lines:
        if not line.startswith("memory "):
            continue
        fields = line.split()
        expect(len(fields) == 10 and fields[2] == "node" and fields[4] == "size",
               f"python_client: not a memory line: {line!r}")
        changes.append((fields[1], None if fields[3] == "None" else int(fields[3]), int(fields[5]), int(fields[7]),
                        fields[8], fields[9]))
    return changes


@guest_first
def check_python_cpu_hotadd(ctx) -> str:
    (online,) = ctx.output("cpus_before")
    before = sorted(parse_cpu_list(online))
    (new_cpu,) = ctx.output("new_cpu")
    cpu = int(new_cpu)
    expect(cpu not in before, f"the new cpu{cpu} was online before the hot-add: {online}")
    expect(ctx.output("new_cpu_node") == ["1"], f"cpu{cpu} is on node {ctx.output('new_cpu_node')}, expected 1")
    expect("connected" in ctx.output("python_client"), "the Python client never said it was connected")
    changes = parse_python_client(ctx.output("python_client"))
    expect(all(c[7] == "hpplace-callbacks" for c in changes),
           f"callbacks ran on threads {sorted({c[7] for c in changes})}, expected hpplace-callbacks only")
    replay = [c for c in changes if c[6] == "synthesized"]
    events = [c for c in changes if c[6] == "event"]
    expect(changes[:len(replay)] == replay, f"a replayed change after an event: {changes}")
    expect([(c[0], c[1], c[3], c[4]) for c in replay] == [("add_complete", c, len(before), before) for c in before],
           f"replay {[(c[0], c[1], c[3], c[4]) for c in replay]}, expected add_complete for each of {before}")
    expect([(c[0], c[1], c[2]) for c in events] == [("add_start", cpu, 1), ("add_complete", cpu, 1)],
           f"events {[(c[0], c[1], c[2]) for c in events]}, expected add_start and add_complete of cpu{cpu} on node 1")
    expect(events[1][5] == events[0][5] + 1, f"seqs {events[0][5]}, {events[1][5]} not consecutive")
    after = sorted(before + [cpu])
    expect(events[1][3] == len(after) and events[1][4] == after,
           f"after cpu{cpu}'s add_complete: active {events[1][3]} {events[1][4]}, expected {after}")
    status = json_document(ctx, "status_before")
    memory = [m for m in parse_python_memory(ctx.output("python_client")) if m[4] == "synthesized"]
    want = [("online", n["id"], n["memory_bytes"], 0, "hpplace-callbacks") for n in status.get("nodes", [])
            if n.get("memory_bytes")]
    expect([m[:4] + (m[5],) for m in memory] == want,
           f"memory replay {memory}, expected one online per node with memory: {want}")
    python_watch, hpctl_watch = ctx.output("python_watch"), ctx.output("hpctl_watch")
    types = [line.split()[1] for line in python_watch if f" cpu {cpu} " in line]
    expect(types == ["cpu_arrived", "cpu_add_start", "cpu_online"],
           f"python3 -m hpplace watch printed {types} for cpu{cpu}, expected cpu_arrived, cpu_add_start, cpu_online")
    differ = [line for line in python_watch if line not in hpctl_watch]
    expect(not differ, f"python3 -m hpplace watch lines not printed by hpctl watch: {differ[:3]} "
                       f"(hpctl watch: {hpctl_watch[:6]})")
    (connect_cs,) = ctx.output("python_connect_cs")
    return (f"replayed {before} and {len(memory)} nodes' memory; cpu{cpu} add_start seq {events[0][5]}, "
            f"add_complete seq {events[1][5]}; "
            f"{len(python_watch)} watch lines as hpctl watch's; client connected {int(connect_cs) / 100:.1f} s "
            f"after its start")


def check_member(ctx) -> str:
    """A member of the socket's group uses the daemon as root would; a stranger is refused."""
    socket = " ".join(ctx.output("socket")).split()  # ls -ln: mode, links, uid, gid, ...
    expect(socket[:1] == ["srw-rw----"] and socket[2:4] == ["0", "61000"],
           f"the socket is not root:61000 0660: {' '.join(socket)}")
    expect(ctx.rc("member_status") == 0, f"a member's hpctl status failed: {ctx.output('member_status.stderr')}")
    expect(any("online" in line for line in ctx.output("member_status")), "a member's hpctl status printed no CPUs")
    refusal = ctx.output("stranger_status.stderr")
    expect(ctx.rc("stranger_status") == 1 and any("permission denied" in line for line in refusal),
           f"a stranger's hpctl status was not refused: rc {ctx.rc('stranger_status')}, {refusal}")
    log = ctx.output("member_service")
    expect(any(line.startswith("plan ") for line in log), f"the member's service got no plan: {log[-5:]}")
    # In this order, after the plan (an add_complete replayed at start does not count).
    at = next(i for i, line in enumerate(log) if line.startswith("plan "))
    for event in ("processor 1: going_offline", "processor 1: offline", "processor 1: add_complete"):
        seen = [i for i, line in enumerate(log) if i > at and line.startswith(event)]
        expect(bool(seen), f"the member's service did not see {event!r} after {log[at]!r}: {log[-8:]}")
        at = seen[0]
    daemon = ctx.output("member_hpplaced")
    expect(any('workload "member" registered' in line for line in daemon), "the daemon logged no registration")
    return f"member: status and {sum(line.startswith('processor 1:') for line in log)} cpu1 events; " \
           f"stranger: {refusal[0] if refusal else ''!r}"


C_EXAMPLE = "hpplace-example-c-arrival"
#: examples/c/arrival.c's line for a processor change.
C_PROCESSOR_LINE = re.compile(r"processor (\d+) \(node (-?\d+)\): (\w+)( \(existing\))?, (\d+) active \(([\d,]*)\) "
                              r"seq (\d+)$")


@guest_first
def check_c_cpu_hotadd(ctx) -> str:
    lines = ctx.output("c_arrival")
    changes = []  # (cpu, node, state, existing, count, active, seq)
    for line in lines:
        if match := C_PROCESSOR_LINE.match(line):
            cpu, node, state, existing, count, active, seq = match.groups()
            changes.append((int(cpu), int(node), state, bool(existing), int(count), parse_cpu_list(active), int(seq)))
    expect(changes, f"the C example reported no processor change: {lines[:5]}")
    online_before = parse_cpu_list(ctx.output("online_before")[0])
    first_event = next((i for i, c in enumerate(changes) if not c[3]), len(changes))
    replay = changes[:first_event]
    expect(not any(c[3] for c in changes[first_event:]),
           f"an existing CPU was reported after the first event: {changes[first_event:]}")
    expect(sorted(c[0] for c in replay) == sorted(online_before),
           f"replayed CPUs {[c[0] for c in replay]}, online at start {sorted(online_before)}")
    for cpu, _, state, _, count, active, seq in replay:
        expect(state == "add_complete" and seq == 0, f"replay of cpu{cpu}: {state} seq {seq}")
        expect(active == online_before and count == len(online_before),
               f"replay of cpu{cpu}: {count} active ({sorted(active)}), expected {sorted(online_before)}")
    memory = [line for line in lines if line.startswith("memory online on node ") and "(existing)" in line]
    expect(memory, f"no existing memory replayed: {lines[:8]}")

    events = {(e.get("type"), e.get("cpu")): e for e in ctx.events("watch")}
    after = {c[2]: c for c in changes[first_event:] if c[0] == 2}
    for state, event_type in (("add_start", "cpu_add_start"), ("add_complete", "cpu_online")):
        expect(state in after, f"no {state} for cpu2 from the C example: {changes[first_event:]}")
        cpu, node, _, _, count, active, seq = after[state]
        event = events.get((event_type, 2))
        expect(event is not None, f"hpctl watch saw no {event_type} for cpu2")
        expect(seq == event["seq"], f"{state} of cpu2 has seq {seq}, the module's {event_type} {event['seq']}")
        expect(node == 1 and event.get("node") == 1, f"{state} of cpu2 on node {node}, event node {event.get('node')}")
        expect(count == event.get("online_cpus") and count == len(active),
               f"{state} of cpu2: {count} active ({sorted(active)}), the event says {event.get('online_cpus')}")
    expect(after["add_start"][6] < after["add_complete"][6], "add_start of cpu2 did not come before add_complete")
    expect(2 not in after["add_start"][5] and after["add_complete"][5] == online_before | {2},
           f"active sets: at add_start {sorted(after['add_start'][5])}, at add_complete "
           f"{sorted(after['add_complete'][5])}")
    expect(any(line.startswith("thread for CPU 2 (node 1) started") for line in lines),
           "the C example's pool started no thread on cpu2")
    return (f"replayed cpus {sorted(online_before)} and {len(memory)} node(s) of memory; cpu2 add_start seq "
            f"{after['add_start'][6]}, add_complete seq {after['add_complete'][6]} with active "
            f"{sorted(after['add_complete'][5])}")


NEEDS = ("hpnotify", "hpctl", "hpplaced", f"bin:{SERVICE}", f"bin:{PIN_PROBE}")
NEEDS_CPU2 = NEEDS + ("vcpu_hotadd",)  # these hot-add cpu2 or use the one hot-added before
BOOTS = {
    "client": Boot(memhp_offline=True, binaries=(SERVICE, PIN_PROBE),
                   kernel_modules=("virtio_pci", "virtio_mem", "memory-notifier-error-inject"), virtio_mem=(1, 512),
                   timeout=900.0),
    # Its own boot: python3 grows the image by 4.5 MB (gzip), and a vCPU hot-add after client_cpu_hotremove
    # would abort QEMU 7.2 (tests/vm/README.md).
    "client_python": Boot(memhp_offline=True, python_imports=PYTHON_IMPORTS, timeout=300.0),
    # The C API alone: hpplaced and the C example (examples/c/arrival.c), no C++ service.
    "client_c": Boot(memhp_offline=True, binaries=(C_EXAMPLE,), timeout=300.0),
}
SCENARIOS = [
    ClientScenario("client_cpu_hotadd", "a vCPU hot-added into node 1: the service gains a worker pinned to "
                   "and running on it", check_cpu_hotadd, boot="client", needs=NEEDS_CPU2),
    ClientScenario("client_mem_hotadd", "a DIMM hot-added into node 1: the service's node-1 buffer pages grow",
                   check_mem_hotadd, boot="client", needs=NEEDS_CPU2),
    ClientScenario("client_restart", "hpplaced SIGTERM + start: the service lives on, reconnects, keeps its "
                   "threads and buffers", check_restart, boot="client", needs=NEEDS),
    ClientScenario("client_cpu_offline", "cpu2 offline: the service loses that worker and its "
                   "node-1 buffers; echo 1: a new worker on cpu2", check_cpu_offline, boot="client", needs=NEEDS_CPU2),
    ClientScenario("client_cpu_reonline", "cpu2 offline and onlined by hand, 5 rounds: a pinned worker on cpu2 "
                   "each time; pinning at cpu_online succeeds", check_cpu_reonline, boot="client", needs=NEEDS_CPU2,
                   timeout=300),
    ClientScenario("client_mem_hotremove", "a DIMM hot-added then ejected: node 1 memory and the service's "
                   "node-1 buffers back where they were", check_mem_hotremove, boot="client", needs=NEEDS_CPU2),
    ClientScenario("client_virtio_mem", "virtio-mem on node 1 grown to 256 MiB and shrunk to 0: events, status "
                   "and buffers follow", check_virtio_mem, boot="client", needs=NEEDS_CPU2),
    ClientScenario("client_cpu_hotremove", "cpu2 ejected (QMP device_del): gone from status and plan, its "
                   "worker gone", check_cpu_hotremove, boot="client", needs=NEEDS_CPU2),
    ClientScenario("client_member", "a member of the socket's group (not root) runs hpctl status and a service "
                   "that registers and gets cpu1's events; a stranger is refused", check_member, boot="client",
                   needs=NEEDS),
    ClientScenario("client_python_cpu_hotadd", "the Python package: add_existing replays the active CPUs and "
                   "memory, then a vCPU hot-added into node 1 comes as add_start and add_complete; python3 -m "
                   "hpplace watch prints hpctl watch's lines", check_python_cpu_hotadd, boot="client_python",
                   needs=("hpnotify", "hpctl", "hpplaced", "vcpu_hotadd")),
    ClientScenario("client_c_cpu_hotadd", "the C99 example (hpplace.h): HPP_ADD_EXISTING replays CPUs and memory, "
                   "then a hot-added vCPU's add_start and add_complete with the module's seq and active set",
                   check_c_cpu_hotadd, boot="client_c",
                   needs=("hpnotify", "hpctl", "hpplaced", f"bin:{C_EXAMPLE}", "vcpu_hotadd")),
]
