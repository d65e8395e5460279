"""Daemon scenarios: hpplaced in the two-node guest with a cgroup workload.

Each guest part is ``scenarios/<name>.sh`` with ``daemon_guest.sh`` (helpers: daemon_up, status,
cpuset_has ...) put in front of it. They share one boot, "daemon", in the order of ``SCENARIOS``.
"""

from __future__ import annotations

import functools
import json

import vmlib
from scenario import (Boot, Failure, MiB, Scenario, cpu_list_output, expect, expect_types, json_document, log_lines,
                      parse_cpu_list, status_node)

HELPERS = vmlib.VM_DIR / "daemon_guest.sh"
CAP_NET_ADMIN = 1 << 12
CAP_DAC_OVERRIDE = 1 << 1
DAEMON_CAPS = CAP_NET_ADMIN | CAP_DAC_OVERRIDE
DAEMON_UID = "990"  # daemon_guest.sh's DAEMON_UID

DaemonScenario = functools.partial(Scenario, helpers=HELPERS)


def expect_hardened(ctx, uid: str = DAEMON_UID, gid: str = DAEMON_UID) -> str:
    """The daemon's /proc/PID/status (output daemon_privileges): uid and gid (990), CAP_NET_ADMIN and
    CAP_DAC_OVERRIDE only, in every set, no_new_privs, umask 0077, as dist/hpplaced.service has it."""
    fields = dict(line.split(":", 1) for line in ctx.output("daemon_privileges") if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    for key, want in (("Uid", uid), ("Gid", gid)):
        expect(fields.get(key, "").split() == [want] * 4, f"hpplaced {key} {fields.get(key)!r}, expected {want}")
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        expect(key in fields, f"/proc/PID/status has no {key}: {fields}")
        expect(int(fields[key], 16) == DAEMON_CAPS,
               f"hpplaced {key} {fields[key]}, expected CAP_NET_ADMIN and CAP_DAC_OVERRIDE only ({DAEMON_CAPS:016x})")
    expect(fields.get("NoNewPrivs") == "1", f"hpplaced NoNewPrivs {fields.get('NoNewPrivs')!r}, expected 1")
    expect(fields.get("Umask") == "0077", f"hpplaced Umask {fields.get('Umask')!r}, expected 0077")
    return f"caps {fields['CapEff']}"


def check_cpu_hotadd(ctx) -> str:
    before, after = json_document(ctx, "before"), json_document(ctx, "after")
    hardened = expect_hardened(ctx)
    cmdline = ctx.output("cmdline")
    expect(cmdline and "no_timer_check" in cmdline[0].split(), f"guest kernel command line {cmdline}")
    expect(before.get("source") == "kernel", f"source {before.get('source')!r}, expected kernel")
    expect(2 not in cpu_list_output(ctx, "cpuset_before"), f"cpuset had cpu2 before: {ctx.output('cpuset_before')}")
    expect(ctx.output("cpu2_online") == ["1"], f"cpu2/online: {ctx.output('cpu2_online')}")
    expect(2 in cpu_list_output(ctx, "cpuset_after"), f"cpuset after: {ctx.output('cpuset_after')}")
    expect(2 in status_node(after, 1).get("cpus", []), f"status node 1 cpus {status_node(after, 1).get('cpus')}")
    expect(2 in after["cpus"]["online"], f"status online {after['cpus']['online']}")
    expect(after["plan_generation"] > before["plan_generation"],
           f"plan generation {before['plan_generation']} -> {after['plan_generation']}")
    return f"cpuset {ctx.output('cpuset_before')[0]} -> {ctx.output('cpuset_after')[0]}, " \
           f"generation {after['plan_generation']}, {hardened}"


def check_large_machine(ctx) -> str:
    """Events, the module's state dump and the daemon's status all carry cpu257 and the full-width sets."""
    expect(parse_cpu_list(ctx.output("possible")[0]) == set(range(vmlib.LARGE_POSSIBLE)),
           f"possible CPUs {ctx.output('possible')}, expected 0-{vmlib.LARGE_POSSIBLE - 1}")
    expect(ctx.output("present_before") == ["0-256"], f"present before {ctx.output('present_before')}")
    expect(ctx.output("present_after") == ["0-257"], f"present after {ctx.output('present_after')}")
    expect(257 in parse_cpu_list(ctx.output("node7_cpus")[0]), f"node7 cpulist {ctx.output('node7_cpus')}")
    events = [json.loads(line) for line in ctx.output("watch") if line.strip()]
    expect_types(events, ["cpu_arrived", "cpu_add_start", "cpu_online"])
    for event in events:
        expect(event.get("cpu") == 257 and event.get("node") == 7, f"event {event}, expected cpu 257 on node 7")
    expect(events[-1].get("online_mask") == [0, 1, 257], f"cpu_online's online_mask {events[-1].get('online_mask')}")
    expect(ctx.rc("state") == 0, f"hpctl kernel-state failed: {ctx.output('state.stderr')}")
    state = json.loads("\n".join(ctx.output("state")))
    expect(state.get("nr_cpu_ids") == vmlib.LARGE_POSSIBLE, f"state dump nr_cpu_ids {state.get('nr_cpu_ids')}")
    cpus = state.get("cpus", {})
    expect(cpus.get("possible") == list(range(vmlib.LARGE_POSSIBLE)), f"state dump possible {cpus.get('possible')}")
    expect(cpus.get("present") == list(range(258)), f"state dump present {cpus.get('present')}")
    expect(cpus.get("online") == [0, 1, 257], f"state dump online {cpus.get('online')}")
    nodes = {n.get("id"): n for n in state.get("nodes", [])}
    expect(sorted(nodes) == list(range(vmlib.LARGE_NODES)), f"state dump nodes {sorted(nodes)}")
    expect(257 in nodes[7].get("cpus", []), f"state dump node 7 cpus {nodes[7].get('cpus')}")
    after = json_document(ctx, "after")
    expect(after["cpus"]["online"] == [0, 1, 257], f"status online {after['cpus']['online']}")
    expect(257 in after["cpus"]["present"], f"status present {after['cpus']['present'][-3:]}")
    expect(257 in status_node(after, 7).get("cpus", []), f"status node 7 cpus {status_node(after, 7).get('cpus')}")
    return f"cpu257 on node 7 of {len(nodes)}; nr_cpu_ids {state['nr_cpu_ids']}; online {after['cpus']['online']}"


def check_mem_hotadd(ctx) -> str:
    before, after = json_document(ctx, "before"), json_document(ctx, "after")
    block_size = int(ctx.output("block_size_hex")[0], 16)
    blocks = [line.split() for line in ctx.output("new_blocks")]
    expect(len(blocks) == 2, f"a 256 MiB DIMM should add 2 blocks, saw {blocks}")
    for number, state, node_id in blocks:
        expect(state == "online", f"memory{number} is {state}")
        expect(node_id == "1", f"memory{number} on node {node_id}")
    grown = status_node(after, 1)["memory_bytes"] - status_node(before, 1)["memory_bytes"]
    expect(grown == 2 * block_size, f"node 1 memory grew by {grown}, expected {2 * block_size}")
    expect(status_node(after, 0)["memory_bytes"] == status_node(before, 0)["memory_bytes"], "node 0 memory changed")
    return f"node 1: {status_node(before, 1)['memory_bytes'] // MiB} -> " \
           f"{status_node(after, 1)['memory_bytes'] // MiB} MiB"


def check_cpu_offline(ctx) -> str:
    expect(ctx.rc("offline") == 0 and ctx.rc("online") == 0, "cpu1 offline/online writes failed")
    expect(1 in cpu_list_output(ctx, "cpuset_before"), f"cpuset before {ctx.output('cpuset_before')}")
    expect(1 not in cpu_list_output(ctx, "cpuset_offline"), f"cpuset offline {ctx.output('cpuset_offline')}")
    expect(1 in cpu_list_output(ctx, "cpuset_online"), f"cpuset online {ctx.output('cpuset_online')}")
    status = json_document(ctx, "offline_status")
    expect(1 not in status["cpus"]["online"], f"status online {status['cpus']['online']} while cpu1 offline")
    return f"{ctx.output('cpuset_before')[0]} -> {ctx.output('cpuset_offline')[0]} -> " \
           f"{ctx.output('cpuset_online')[0]}"


def check_module_switch(ctx) -> str:
    expect(ctx.rc("rmmod") == 0, f"rmmod failed: {ctx.output('rmmod.stderr')}")
    expect(ctx.rc("insmod") == 0, f"insmod failed: {ctx.output('insmod.stderr')}")
    with_module, unloaded = json_document(ctx, "with_module"), json_document(ctx, "after_rmmod")
    udev_events, reloaded = json_document(ctx, "udev_events"), json_document(ctx, "after_insmod")
    expect(with_module["source"] == "kernel", f"source before rmmod {with_module['source']!r}")
    expect(unloaded["source"] == "udev", f"source after rmmod {unloaded['source']!r}")
    expect(udev_events["events"]["received"] > unloaded["events"]["received"],
           "no event received from udev after rmmod")
    expect(reloaded["source"] == "kernel", f"source after insmod {reloaded['source']!r}")
    expect(reloaded["events"]["resyncs"] >= with_module["events"]["resyncs"] + 2,
           f"resyncs {with_module['events']['resyncs']} -> {reloaded['events']['resyncs']}, "
           "expected one per switch")
    return f"kernel -> udev -> kernel, resyncs {reloaded['events']['resyncs']}, " \
           f"last_seq {reloaded['events']['last_seq']}"


def check_storm(ctx) -> str:
    toggles = dict(line.split(" ", 1) for line in ctx.output("toggles"))
    after = json_document(ctx, "after")
    events = after["events"]
    expect(events["resyncs"] >= 1, f"no resync: {events}")
    # Four kernel events per toggle pair and a buffer of a few messages: most are lost, and the
    # sequence gap after the storm counts them.
    expect(events["lost"] >= int(toggles.get("ok", "0")), f"lost {events['lost']} < toggles: {events}")
    log = ctx.output("daemon_log")
    expect(any("hpnotify:" in line and "overran" in line for line in log),
           "the daemon log does not show the kernel socket's overrun")
    expect(log_lines(ctx, "daemon_log", "sequence gap"), "the daemon log shows no sequence gap")
    online = parse_cpu_list(ctx.output("sysfs_online")[0])
    present = parse_cpu_list(ctx.output("sysfs_present")[0])
    expect(set(after["cpus"]["online"]) == online,
           f"status online {after['cpus']['online']}, sysfs {sorted(online)}")
    expect(set(after["cpus"]["present"]) == present,
           f"status present {after['cpus']['present']}, sysfs {sorted(present)}")
    for line in ctx.output("sysfs_nodes"):
        node_id, _, cpulist = line.partition(" ")
        status_cpus = set(status_node(after, int(node_id)).get("cpus", []))
        expect(status_cpus == parse_cpu_list(cpulist) & online,
               f"node {node_id}: status cpus {sorted(status_cpus)}, "
               f"sysfs online {sorted(parse_cpu_list(cpulist) & online)}")

    def sample(name, metric):
        for line in ctx.output(name):
            if line.startswith(metric + " "):
                return float(line.split()[1])
        raise Failure(f"{name}: no {metric} in {ctx.output(name)[:5]}")
    expect(sample("metrics_after", "hpplaced_event_overruns_total") >= 1,
           "the metrics show no overrun of the event sockets")
    # Reported, not bounded: how the backlog and the final offline split into bursts depends on the
    # guest's speed (4 recomputes for 7 events in a TCG guest on a loaded host).
    recomputes = sample("metrics_after", "hpplaced_recomputes_total") - \
        sample("metrics_before", "hpplaced_recomputes_total")
    return f"{toggles.get('ok')} toggles ({toggles.get('failed')} refused), received {events['received']}, " \
           f"lost {events['lost']}, resyncs {events['resyncs']}, {recomputes:.0f} recomputes; status == sysfs"


def check_restart(ctx) -> str:
    before, after = json_document(ctx, "plan_before"), json_document(ctx, "plan_after")
    expect_hardened(ctx)
    expect(ctx.section.rcs.get("daemon_exit") == 0, f"hpplaced exit status {ctx.section.rcs.get('daemon_exit')}")
    expect(before.get("workloads"), f"no workloads planned: {before}")
    expect(before["workloads"] == after["workloads"],
           f"plans differ: {json.dumps(before)[:200]} vs {json.dumps(after)[:200]}")
    return f"{len(before['workloads'][0].get('threads', []))} threads, cpuset {before['workloads'][0].get('cpuset')}"


def check_cpu_hotremove(ctx) -> str:
    expect(2 in cpu_list_output(ctx, "cpuset_before"), f"cpuset before {ctx.output('cpuset_before')}")
    expect(2 not in cpu_list_output(ctx, "cpuset_after"), f"cpuset after the removal {ctx.output('cpuset_after')}")
    after = json_document(ctx, "after")
    expect(2 not in after["cpus"]["present"] and 2 not in after["cpus"]["online"],
           f"status still has cpu2: {after['cpus']}")
    expect(2 not in status_node(after, 1).get("cpus", []), f"status node 1 cpus {status_node(after, 1).get('cpus')}")
    expect(ctx.output("present") == ["0-1"], f"sysfs present {ctx.output('present')}")
    return f"cpuset {ctx.output('cpuset_before')[0]} -> {ctx.output('cpuset_after')[0]}, " \
           f"status present {after['cpus']['present']}"


def check_mem_hotremove_vetoed(ctx) -> str:
    expect(ctx.output("state_vetoed") == ["online"], f"the DIMM's block after the veto: {ctx.output('state_vetoed')}")
    vetoed, removed = json_document(ctx, "vetoed"), json_document(ctx, "removed")
    sysfs_vetoed, sysfs_removed = int(ctx.output("sysfs_vetoed")[0]), int(ctx.output("sysfs_removed")[0])
    expect(status_node(vetoed, 1)["memory_bytes"] == sysfs_vetoed,
           f"status node 1 {status_node(vetoed, 1)['memory_bytes']} after the refusal, sysfs {sysfs_vetoed}")
    expect(status_node(removed, 1)["memory_bytes"] == sysfs_removed == sysfs_vetoed - 128 * MiB,
           f"node 1 after the removal: status {status_node(removed, 1)['memory_bytes']}, sysfs {sysfs_removed}, "
           f"{sysfs_vetoed} before")
    refusals = log_lines(ctx, "daemon_log", "refused to offline memory")
    expect(refusals, "the daemon did not log the refused offline")
    return f"logged: {refusals[0][:150]}"


def check_unit_hotadd(ctx) -> str:
    """What hpplace-fake-systemd1 received (output fake, one JSON line per call or signal) against the
    plans before and after the hot-add: the unit's AllowedCPUs follow the plan, cpu2 included."""
    def workload(plan):
        found = [w for w in plan.get("workloads", []) if w.get("name") == "work"]
        expect(found, f"no workload work in the plan: {json.dumps(plan)[:200]}")
        return parse_cpu_list(found[0]["cpuset"]), parse_cpu_list(found[0]["mems"])

    def mask(data):
        return {i * 8 + bit for i, byte in enumerate(data) for bit in range(8) if byte >> bit & 1}

    calls = []
    for line in ctx.output("fake"):
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            raise Failure(f"fake: not a JSON line: {line!r}") from None
        if message.get("call") == "SetUnitProperties" and message.get("error") == "":
            calls.append(message)
    expect(any(json.loads(line).get("call") == "Subscribe" for line in ctx.output("fake")),
           "the daemon never called Subscribe()")
    expect(len(calls) >= 2, f"work.service was set {len(calls)} time(s), expected before and after the hot-add")
    (cpus_before, mems_before), (cpus_after, mems_after) = \
        workload(json_document(ctx, "plan_before")), workload(json_document(ctx, "plan_after"))
    first, last = calls[0], calls[-1]
    for call, cpus, mems, when in ((first, cpus_before, mems_before, "first"), (last, cpus_after, mems_after, "last")):
        expect(call["unit"] == "work.service" and call["runtime"] is True, f"{when} call: {call}")
        got_cpus = mask(call["properties"].get("AllowedCPUs", []))
        got_mems = mask(call["properties"].get("AllowedMemoryNodes", []))
        expect(got_cpus == cpus and got_mems == mems,
               f"{when} call: AllowedCPUs {sorted(got_cpus)} AllowedMemoryNodes {sorted(got_mems)}, "
               f"the plan has {sorted(cpus)} and {sorted(mems)}")
    expect(2 not in cpus_before and 2 in cpus_after, f"plan cpuset {sorted(cpus_before)} -> {sorted(cpus_after)}")
    expect(log_lines(ctx, "daemon_log", "unit work.service: AllowedCPUs="), "the daemon logged no set unit")
    return f"AllowedCPUs {sorted(mask(first['properties']['AllowedCPUs']))} -> " \
           f"{sorted(mask(last['properties']['AllowedCPUs']))}, {len(calls)} calls"


NEEDS = ("hpnotify", "hpctl", "hpplaced")
NEEDS_CPU2 = NEEDS + ("vcpu_hotadd",)
BOOTS = {"daemon": Boot(memhp_offline=True, kernel_modules=("memory-notifier-error-inject",), timeout=900.0),
         # vmlib.Vm's large layout: 288 possible vCPUs, 8 nodes.
         "large": Boot(memhp_offline=True, large=True, timeout=600.0),
         # A private system bus and a fake systemd1 (tests/systemd) beside hpplaced.
         "units": Boot(memhp_offline=True, binaries=("hpplace-fake-systemd1",), host_binaries=("dbus-daemon",),
                       files=(("/hp/system-bus.conf", "tests/systemd/system-bus.conf"),), timeout=600.0)}
SCENARIOS = [
    DaemonScenario("daemon_unit_hotadd", "hpplaced with unit = \"work.service\" over a private dbus-daemon and a "
                   "fake systemd1: a QMP vCPU of node 1 reaches the unit's AllowedCPUs", check_unit_hotadd,
                   boot="units", needs=NEEDS_CPU2 + ("bin:hpplace-fake-systemd1",)),
    DaemonScenario("large_machine", "288 possible vCPUs (x2APIC), 8 nodes: hpplaced onlines a QMP vCPU that "
                   "becomes cpu257; events, state dump and status carry it", check_large_machine, boot="large",
                   needs=NEEDS_CPU2 + ("large_layout",), timeout=300.0),
    DaemonScenario("daemon_cpu_hotadd", "hpplaced onlines a QMP vCPU of node 1; the cgroup's cpuset gains it",
                   check_cpu_hotadd, boot="daemon", needs=NEEDS_CPU2),
    DaemonScenario("daemon_mem_hotadd", "hpplaced onlines a 256 MiB DIMM of node 1; node 1 memory grows",
                   check_mem_hotadd, boot="daemon", needs=NEEDS),
    DaemonScenario("daemon_cpu_offline", "cpu1 offline shrinks the workload cpuset, online grows it back",
                   check_cpu_offline, boot="daemon", needs=NEEDS),
    DaemonScenario("daemon_module_switch", "rmmod -> source udev, events still handled; insmod -> kernel",
                   check_module_switch, boot="daemon", needs=NEEDS),
    DaemonScenario("daemon_storm", "a stopped daemon with a small rcvbuf misses a toggle storm: loss, resync, "
                   "status == sysfs", check_storm, boot="daemon", needs=NEEDS, timeout=300),
    DaemonScenario("daemon_restart", "SIGTERM and a new start give the same plan",
                   check_restart, boot="daemon", needs=NEEDS),
    DaemonScenario("daemon_mem_hotremove_vetoed", "a DIMM removal the kernel refuses is logged and status stays "
                   "== sysfs; the retried removal is followed", check_mem_hotremove_vetoed, boot="daemon",
                   needs=NEEDS),
    DaemonScenario("daemon_cpu_hotremove", "cpu2 ejected over QMP: gone from status, the cgroup's cpuset shrinks",
                   check_cpu_hotremove, boot="daemon", needs=NEEDS_CPU2),
]
