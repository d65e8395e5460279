#!/usr/bin/env python3
"""Unit-named workloads end to end: the real hpplaced, sd-bus and a private
dbus-daemon (a system-bus-like config: only root may own names), with
hpplace-fake-systemd1 as org.freedesktop.systemd1. Not a real systemd: none
can run as PID 1 here. The fake records every SetUnitProperties it gets, with
the bitmask bytes as received, and emits the signals a restart or a new unit
gives (JobNew/JobRemoved, UnitNew) to subscribed clients.

The daemon reads a copy of the two_nodes fixture tree; a CPU comes online
there and SIGHUP makes the daemon resync from it (the host has no hotplug).

  1. at start: AllowedCPUs/AllowedMemoryNodes of the unit equal the plan's
     cpuset and mems, runtime=true, after a Subscribe()
  2. cpu3 comes online: AllowedCPUs follows the new plan (with cpu3)
  3. the unit restarts (JobRemoved "done"): set again; another unit's restart
     sets nothing
  4. dbus-daemon dies and comes back: logged, reconnected, set again
  5. a daemon started without a bus: logged and retried; then a bus without
     systemd, then systemd without the unit (NoSuchUnit, retried and counted
     in hpplaced_apply_errors_total{applier="unit"}), then the unit appears
     (UnitNew): set. The daemon answers throughout.

usage: unit_workloads.py --hpplaced BIN --fake BIN --dbus-daemon BIN --fixtures DIR [--keep]
"""

import argparse
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 30.0  # generous: the host is shared and loaded

BUS_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "system-bus.conf")

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


class Lines:
    """A process's output, line by line, kept; wait() for one that matches."""

    def __init__(self, stream, tee=None):
        self.lines = []
        self.cond = threading.Condition()
        self.tee = tee
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            if self.tee:
                self.tee.write(line + "\n")
                self.tee.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait(self, predicate, since=0, timeout=TIMEOUT):
        """The first line from `since` on for which predicate holds, or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.lines)):
                    if predicate(self.lines[i]):
                        return self.lines[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def count(self, predicate, since=0):
        with self.cond:
            return sum(1 for line in self.lines[since:] if predicate(line))

    def text(self, since=0):
        with self.cond:
            return "\n".join(self.lines[since:])


def ask(path, request, timeout=5.0):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return json.loads(data) if data else None


def wait_until(condition, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def cpulist(text):
    out = set()
    for part in filter(None, text.strip().split(",")):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def decode_mask(data):
    """systemd's AllowedCPUs= bytes: bit i % 8 of byte i / 8 is CPU i."""
    return {i * 8 + bit for i, byte in enumerate(data) for bit in range(8) if byte >> bit & 1}


class Bus:
    def __init__(self, binary, work, log):
        self.log = log  # its own complaints (no fd limit to raise in a container) go there
        self.socket = os.path.join(work, "system_bus_socket")
        self.address = "unix:path=" + self.socket
        self.binary = binary
        self.process = None

    def start(self):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.process = subprocess.Popen([self.binary, "--config-file=" + BUS_CONFIG, "--address=" + self.address,
                                         "--nofork", "--nopidfile", "--print-address"],
                                        stdout=subprocess.PIPE, stderr=self.log)
        address = self.process.stdout.readline().decode().strip()
        if not address.startswith("unix:path=" + self.socket):
            raise RuntimeError("dbus-daemon printed " + repr(address))

    def stop(self):
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None


class Fake:
    def __init__(self, binary, bus, units, log):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        args = [binary]
        for unit in units:
            args += ["--unit", unit]
        self.process = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.out = Lines(self.process.stdout, log)
        if not self.out.wait(lambda line: '"ready"' in line):
            raise RuntimeError("the fake systemd1 did not get its name")

    def send(self, command):
        self.process.stdin.write((command + "\n").encode())
        self.process.stdin.flush()

    def calls(self, since=0):
        with self.out.cond:
            lines = self.out.lines[since:]
        return [json.loads(line) for line in lines if '"SetUnitProperties"' in line]

    def wait_call(self, since, predicate=lambda call: True):
        line = self.out.wait(lambda l: '"SetUnitProperties"' in l and predicate(json.loads(l)), since)
        return json.loads(line) if line else None

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class Daemon:
    def __init__(self, binary, fixtures, work, bus, name, log):
        self.sys = os.path.join(work, name + "-sys")
        shutil.copytree(os.path.join(fixtures, "sysfs", "two_nodes"), self.sys, symlinks=True)
        self.config = os.path.join(work, name + ".conf")
        with open(self.config, "w") as f:
            f.write('[[workload]]\nname = "web"\nthreads_per_cpu = 1\nunit = "web.service"\n')
        self.socket = os.path.join(work, name + ".sock")
        cgroups = os.path.join(work, name + "-cgroup")
        os.makedirs(cgroups)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        self.process = subprocess.Popen([binary, "--config", self.config, "--sysfs-root", self.sys,
                                         "--cgroup-root", cgroups, "--socket", self.socket],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.log = Lines(self.process.stderr, log)
        if not wait_until(self.alive):
            raise RuntimeError("hpplaced did not answer on " + self.socket)

    def alive(self):
        try:
            return self.process.poll() is None and ask(self.socket, {"op": "ping"}, 1.0)["ok"]
        except (OSError, TypeError, KeyError):
            return False

    def planned(self):
        """(cpuset, mems) of workload web in the daemon's plan."""
        plan = ask(self.socket, {"op": "plan"})["result"]
        web = next(w for w in plan["workloads"] if w["name"] == "web")
        return cpulist(web["cpuset"]), cpulist(web["mems"])

    def cpu3_online(self):
        cpu = os.path.join(self.sys, "devices/system/cpu")
        for path, text in ((os.path.join(cpu, "online"), "0-3"), (os.path.join(cpu, "cpu3/online"), "1"),
                           (os.path.join(self.sys, "devices/system/node/node1/cpulist"), "2-3")):
            with open(path, "w") as f:
                f.write(text + "\n")
        self.process.send_signal(signal.SIGHUP)

    def metric(self, name):
        text = ask(self.socket, {"op": "metrics"})["result"]
        text = text if isinstance(text, str) else text.get("text", "")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def is_applied(call, cpus, mems):
    props = call["properties"]
    return (call["unit"] == "web.service" and call["runtime"] is True and call["error"] == ""
            and decode_mask(props.get("AllowedCPUs", [])) == cpus
            and decode_mask(props.get("AllowedMemoryNodes", [])) == mems)


def started(args, work, log):
    """Phases 1-4: bus and systemd there before the daemon."""
    bus = Bus(args.dbus_daemon, work, log)
    bus.start()
    fake = Fake(args.fake, bus, ["web.service", "db.service"], log)
    daemon = Daemon(args.hpplaced, args.fixtures, work, bus, "started", log)
    try:
        # 1. at start
        call = fake.wait_call(0, lambda c: c["unit"] == "web.service")
        cpus, mems = daemon.planned()
        check(call is not None and is_applied(call, cpus, mems),
              f"start: web.service got AllowedCPUs={sorted(cpus)} AllowedMemoryNodes={sorted(mems)} "
              f"(the plan's cpuset and mems), runtime=true: {call}")
        check(cpus == {0, 1, 2} and mems == {0, 1}, f"start: the plan uses the fixture's online CPUs 0-2: {cpus}")
        check(fake.out.count(lambda l: '"Subscribe"' in l) >= 1, "start: the daemon subscribed to the manager")
        check(daemon.log.wait(lambda l: "unit web.service: AllowedCPUs=0-2 AllowedMemoryNodes=0-1 set" in l)
              is not None, "start: the daemon logged what it set")

        # 2. a CPU comes online: AllowedCPUs follows
        mark = fake.out.mark()
        daemon.cpu3_online()
        call = fake.wait_call(mark, lambda c: 3 in decode_mask(c["properties"].get("AllowedCPUs", [])))
        cpus, mems = daemon.planned()
        check(3 in cpus and call is not None and is_applied(call, cpus, mems),
              f"hot-add: after cpu3 came online AllowedCPUs={sorted(cpus)} (the new plan's): {call}")

        # 3. restarts: ours is set again, another unit's is not
        mark_log = daemon.log.mark()
        mark = fake.out.mark()
        fake.send("restart db.service")
        fake.send("restart web.service")
        call = fake.wait_call(mark)
        check(call is not None and is_applied(call, cpus, mems), f"restart: web.service set again: {call}")
        line = daemon.log.wait(lambda l: "unit web.service started or loaded" in l, mark_log)
        check(line is not None, "restart: the daemon logged that it saw the restart")
        check(daemon.log.wait(lambda l: "AllowedCPUs=0-3 AllowedMemoryNodes=0-1 set" in l, mark_log) is not None,
              "restart: the daemon logged that systemd took it")
        check("db.service" not in daemon.log.text(mark_log), "restart: another unit's restart is left alone")

        # 4. the bus goes away and comes back
        mark_log = daemon.log.mark()
        fake.stop()
        bus.stop()
        check(daemon.log.wait(lambda l: "lost the system bus" in l, mark_log) is not None,
              "bus lost: logged")
        check(daemon.alive(), "bus lost: the daemon keeps answering")
        bus.start()
        fake = Fake(args.fake, bus, ["web.service"], log)
        call = fake.wait_call(0)
        check(call is not None and is_applied(call, cpus, mems), f"bus back: reconnected and set again: {call}")
        check(daemon.log.wait(lambda l: "AllowedCPUs=0-3 AllowedMemoryNodes=0-1 set" in l, mark_log) is not None,
              "bus back: the daemon logged that systemd took it")
        check(daemon.log.wait(lambda l: l.startswith("hpplaced: connected to the system bus"), mark_log)
              is not None, "bus back: the reconnection was logged")
    finally:
        code = daemon.stop()
        check(code == 0, f"phases 1-4: hpplaced exited with {code}")
        fake.stop()
        bus.stop()


def missing(args, work, log):
    """Phase 5: the daemon first, then the bus, then systemd, then the unit."""
    bus = Bus(args.dbus_daemon, work, log)
    daemon = Daemon(args.hpplaced, args.fixtures, work, bus, "missing", log)
    fake = None
    try:
        check(daemon.log.wait(lambda l: "cannot connect to the system bus" in l) is not None,
              "no bus: logged")
        check(daemon.log.wait(lambda l: "unit web.service: cannot set" in l and "hpplace.NoSystemBus" in l)
              is not None, "no bus: the unit's failure logged")
        check(daemon.alive(), "no bus: the daemon runs and answers")
        bus.start()
        check(daemon.log.wait(lambda l: "connected to the system bus" in l and "failed attempt" in l) is not None,
              "no bus: retried until the bus came, and logged")
        check(daemon.log.wait(lambda l: "cannot subscribe to systemd's manager" in l and "waiting" in l)
              is not None, "no systemd: logged")
        check(daemon.log.wait(lambda l: "unit web.service: cannot set" in l and "ServiceUnknown" in l) is not None,
              "no systemd: the unit's failure logged")
        check(daemon.alive(), "no systemd: the daemon runs and answers")
        fake = Fake(args.fake, bus, [], log)
        check(daemon.log.wait(lambda l: "systemd's manager is on the system bus" in l) is not None,
              "systemd appears: seen (NameOwnerChanged)")
        first = fake.wait_call(0, lambda c: c["error"] == "org.freedesktop.systemd1.NoSuchUnit")
        check(first is not None, f"no unit: refused with NoSuchUnit: {first}")
        check(wait_until(lambda: fake.out.count(lambda l: "NoSuchUnit" in l) >= 2), "no unit: retried")
        errors = daemon.metric('hpplaced_apply_errors_total{applier="unit"}')
        check(errors is not None and errors >= 3, f"no unit: failed calls counted ({errors})")
        check(daemon.log.count(lambda l: "NoSuchUnit" in l) == 1,
              "no unit: the failure is logged once, not at every retry")
        check(daemon.alive(), "no unit: the daemon runs and answers")
        mark = fake.out.mark()
        fake.send("add web.service")
        call = fake.wait_call(mark, lambda c: c["error"] == "")
        cpus, mems = daemon.planned()
        check(call is not None and is_applied(call, cpus, mems), f"unit appears: set at once (UnitNew): {call}")
        check(daemon.log.wait(lambda l: "AllowedCPUs=0-2 AllowedMemoryNodes=0-1 set after" in l) is not None,
              "unit appears: success after retries logged")
    finally:
        code = daemon.stop()
        check(code == 0, f"phase 5: hpplaced exited with {code}")
        if fake:
            fake.stop()
        bus.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hpplaced", required=True)
    parser.add_argument("--fake", required=True)
    parser.add_argument("--dbus-daemon", default="dbus-daemon")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not shutil.which(args.dbus_daemon) and not os.path.exists(args.dbus_daemon):
        print("dbus-daemon not found (package dbus-daemon)", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="hpplace-units-")
    log_path = os.path.join(work, "log")
    with open(log_path, "w") as log:
        try:
            started(args, work, log)
            missing(args, work, log)
        except Exception as error:  # a harness failure: show what was seen
            failures.append(f"{type(error).__name__}: {error}")
    if failures:
        with open(log_path) as f:
            print("--- what the daemon and the fake printed ---\n" + f.read())
        print(f"{len(failures)} check(s) failed: " + "; ".join(failures))
    if args.keep or failures:
        print("kept " + work)
    else:
        shutil.rmtree(work)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
