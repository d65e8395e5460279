#!/usr/bin/env python3
"""The real hpplaced under abuse on its control socket (ctest daemon_abuse).

Starts build/bin/hpplaced on a copy of the two_nodes sysfs fixture with a temp
cgroup root and socket, short timeouts (--idle-timeout/--line-timeout 1 s) and
the default connection and workload limits, then runs the phases: malformed
and oversized lines, unfinished lines on more connections than one process may
hold, more idle connections than max_clients, 500 at once, 10,000
connect/close cycles, 5,000 registers on one connection, extreme workloads,
and a plan far above 64 KiB read by hpctl. All
the while a separate process (another peer for the per-process limits) opens a
fresh connection every 5 ms and times a `status` answer. After each phase:
  - the CPU picture still follows the machine: cpu3 is toggled in the fixture
    copy and SIGHUP makes the daemon resync from it; `status` must show it
    within 2 s (the host has no hotplug to inject; a resync is the daemon's
    sysfs path, the same one it takes after an event loss);
  - RSS and open files (/proc/PID/status, /proc/PID/fd) back to their level
    before (fds exactly, after up to 3 s; RSS within a slack, see RSS_SLACK).
The status latency limit is 100 ms (STATUS_LIMIT_MS, or HPPLACE_ABUSE_STATUS_MS
on a machine known to be loaded). Prints the numbers measured; exit status 0
when every check held.

usage: daemon_abuse.py HPPLACED [--fixtures DIR] [--keep]
"""

import argparse
import json
import multiprocessing
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

STATUS_LIMIT_MS = float(os.environ.get("HPPLACE_ABUSE_STATUS_MS", "100"))
# malloc keeps some freed memory; more than this after a phase is a leak.
RSS_SLACK_KB = 4 * 1024
IDLE_TIMEOUT_S = 1.0
LINE_TIMEOUT_S = 1.0
PER_PEER_CONNECTIONS = 16  # the daemon's defaults
MAX_CLIENTS = 64
PER_CLIENT_WORKLOADS = 16

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"  FAIL: {what}", flush=True)
    return condition


def connect(path, timeout=5.0):
    """As hpctl connects: blocking, bounded by SO_SNDTIMEO, so that with the listen queue full the
    connect waits in the kernel with the other connectors (EAGAIN at the timeout)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("@ll", int(timeout), int(timeout % 1 * 1e6)))
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    s.settimeout(timeout)
    return s


def read_lines(sock, count, timeout=5.0, limit=8 << 20):
    """Up to count lines (bytes), and whether EOF came."""
    deadline = time.monotonic() + timeout
    data = b""
    while data.count(b"\n") < count and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data.split(b"\n")[:-1], True
        if not chunk:
            return data.split(b"\n")[:-1], True
        data += chunk
        if len(data) > limit:
            break
    return data.split(b"\n")[:-1][:count], False


def ask(path, request, timeout=5.0):
    with connect(path, timeout) as s:
        try:
            s.sendall(json.dumps(request).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused: the reason is already there to read
        lines, _ = read_lines(s, 1, timeout)
        return json.loads(lines[0]) if lines else None


def proc_usage(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


# --- the prober: another process, a fresh connection every 5 ms ----------------


def probe_loop(path, phase, stop, results, seen):
    stats = {}
    while not stop.is_set():
        name = phase.value.decode()
        entry = stats.setdefault(name, {"count": 0, "max_ms": 0.0, "refused": 0, "failed": 0, "reasons": [],
                                        "online": []})
        started = time.monotonic()
        try:
            with connect(path, 2.0) as s:
                try:
                    s.sendall(b'{"op":"status"}\n')
                except (BrokenPipeError, ConnectionResetError):
                    pass
                lines, _ = read_lines(s, 1, 2.0)
            took = (time.monotonic() - started) * 1000
            answer = json.loads(lines[0]) if lines else None
            if answer and answer.get("ok"):
                entry["count"] += 1
                entry["max_ms"] = max(entry["max_ms"], took)
                online = answer["result"]["cpus"]["online"]
                seen.value = len(online)
                if online not in entry["online"]:
                    entry["online"].append(online)
            elif answer and "error" in answer:
                entry["refused"] += 1
                if answer["error"] not in entry["reasons"]:
                    entry["reasons"].append(answer["error"])
            else:
                entry["failed"] += 1
        except OSError:
            entry["failed"] += 1
        time.sleep(0.005)
    results.put(stats)


def set_fixture_cpu3(sys_root, online):
    """cpu3 online or offline in a copy of the two_nodes fixture (tests/access uses it too)."""
    cpu = os.path.join(sys_root, "devices/system/cpu")
    for path, text in ((os.path.join(cpu, "online"), "0-3" if online else "0-2"),
                       (os.path.join(cpu, "cpu3/online"), "1" if online else "0"),
                       (os.path.join(sys_root, "devices/system/node/node1/cpulist"), "2-3" if online else "2")):
        with open(path, "w") as f:
            f.write(text + "\n")


class Daemon:
    def __init__(self, binary, fixtures, work):
        self.work = work
        self.sys = os.path.join(work, "sys")
        shutil.copytree(os.path.join(fixtures, "sysfs", "two_nodes"), self.sys, symlinks=True)
        self.cgroups = os.path.join(work, "cgroup")
        os.makedirs(os.path.join(self.cgroups, "web"))
        for name, text in (("cgroup.subtree_control", "cpuset\n"), ("web/cpuset.cpus", "\n"),
                           ("web/cpuset.mems", "\n")):
            with open(os.path.join(self.cgroups, name), "w") as f:
                f.write(text)
        self.cpu3 = False
        self.seen = multiprocessing.Value("i", 0)  # CPUs online in the prober's last status
        self.outside = os.path.join(work, "outside")
        os.makedirs(self.outside)
        self.config = os.path.join(work, "hpplaced.conf")
        with open(self.config, "w") as f:
            f.write('[[workload]]\nname = "web"\nthreads_per_cpu = 1\nbuffer_per_cpu = "1MiB"\n'
                    f'cgroup = "{self.cgroups}/web"\n')
        self.socket = os.path.join(work, "s")
        self.log_path = os.path.join(work, "hpplaced.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [binary, "--config", self.config, "--sysfs-root", self.sys, "--cgroup-root", self.cgroups,
             "--socket", self.socket, "--idle-timeout", str(IDLE_TIMEOUT_S), "--line-timeout", str(LINE_TIMEOUT_S),
             "--metrics-dir", ""],  # never the host's node_exporter directory
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if ask(self.socket, {"op": "ping"}, 1.0):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("hpplaced did not answer on " + self.socket)

    def toggle_cpu3(self):
        """cpu3 goes online or offline in the fixture copy; SIGHUP makes the daemon resync from it."""
        self.cpu3 = not self.cpu3
        self.set_cpu3(self.cpu3)
        self.process.send_signal(signal.SIGHUP)
        return [0, 1, 2, 3] if self.cpu3 else [0, 1, 2]

    def set_cpu3(self, online):
        set_fixture_cpu3(self.sys, online)

    def wait_seen(self, want, timeout=2.0):
        """Until the prober's fresh connections see the CPUs `want` (the phase still running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.seen.value == len(want):
                return True
            time.sleep(0.005)
        return False

    def follows_machine(self):
        """Toggles cpu3; seconds until status shows it (None: not within 2 s)."""
        started = time.monotonic()
        want = self.toggle_cpu3()
        while time.monotonic() - started < 2:
            status = ask(self.socket, {"op": "status"}, 2.0)
            if status and status.get("ok") and status["result"]["cpus"]["online"] == want:
                return time.monotonic() - started
            time.sleep(0.02)
        return None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# --- the phases -------------------------------------------------------------------


def phase_malformed(d):
    """Malformed lines, invalid UTF-8, deep nesting, integers past 2^64, oversized lines."""
    with connect(d.socket) as s:
        bad = [b"not json", b"[1,2]", b'{"op":7}', b'{"op":"nope"}', b'{"op":"status","id":[1]}',
               b'{"op":"st\xff\xfeatus"}', b"\xc0\x80\xed\xa0\x80", b'{"op":"status","id":184467440737095516161}',
               b'{"op":"subscribe","streams":["x"]}', b"[" * 30000 + b"]" * 30000,
               b'{"op":"register","workload":{"name":"big","threads":1e400}}', b"{" * 1000]
        s.sendall(b"\n".join(bad) + b"\n")
        lines, eof = read_lines(s, len(bad))
        check(len(lines) == len(bad) and not eof, f"malformed: {len(bad)} error answers, got {len(lines)}")
        check(all(json.loads(l).get("ok") is False for l in lines), "malformed: every answer is an error")
        s.sendall(b'{"op":"ping"}\n')
        lines, _ = read_lines(s, 1)
        check(bool(lines) and json.loads(lines[0]).get("ok") is True, "malformed: the connection still answers")
    # 100,000 nested brackets are longer than a line may be: one error, then closed.
    with connect(d.socket) as s:
        try:
            s.sendall(b"[" * 100000 + b"]" * 100000 + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        lines, eof = read_lines(s, 2)
        check(len(lines) == 1 and b"longer than 65536" in lines[0] and eof, "oversized: one error, then EOF")
    # A line that never ends, 1 MiB of it.
    with connect(d.socket) as s:
        try:
            for _ in range(16):
                s.sendall(b"x" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        lines, eof = read_lines(s, 2)
        check(len(lines) == 1 and eof, "oversized unfinished line: one error, then EOF")


def phase_held_open(d):
    """Lines held open without their newline on more connections than one process may have."""
    count = PER_PEER_CONNECTIONS + 24
    sockets = [connect(d.socket) for _ in range(count)]
    for s in sockets:
        try:
            s.sendall(b'{"op":"sta')
        except OSError:
            pass
    check(d.wait_seen(d.toggle_cpu3()), "held open: a resync while they are held shows the new CPU picture")
    started = time.monotonic()
    refused = timed_out = 0
    for s in sockets:
        lines, eof = read_lines(s, 2, timeout=LINE_TIMEOUT_S * 4)
        text = lines[0].decode(errors="replace") if lines else ""
        if "too many connections from process" in text:
            refused += 1
        elif "request line not finished" in text and eof:
            timed_out += 1
        s.close()
    took = time.monotonic() - started
    check(refused == count - PER_PEER_CONNECTIONS, f"held open: {count - PER_PEER_CONNECTIONS} refused, got {refused}")
    check(timed_out == PER_PEER_CONNECTIONS, f"held open: {PER_PEER_CONNECTIONS} timed out, got {timed_out}")
    check(took < LINE_TIMEOUT_S * 3, f"held open: all closed within {LINE_TIMEOUT_S * 3} s ({took:.2f} s)")


def lockout_child(path, count, ready, release):
    sockets = []
    for _ in range(count):
        try:
            sockets.append(connect(path))
        except OSError:
            pass
    ready.set()
    release.wait(10)
    for s in sockets:
        s.close()


def phase_idle_lockout(d, phase):
    """More idle connections than max_clients, from five processes: refused with a reason until the idle timeout."""
    ready = [multiprocessing.Event() for _ in range(5)]
    release = multiprocessing.Event()
    children = [multiprocessing.Process(target=lockout_child, args=(d.socket, PER_PEER_CONNECTIONS, r, release))
                for r in ready]
    for c in children:
        c.start()
    for r in ready:
        r.wait(10)
    answer = ask(d.socket, {"op": "status"})
    check(answer is not None and "too many clients" in answer.get("error", ""),
          f"idle lockout: a fresh client is told why ({answer})")
    hpctl = os.path.join(os.path.dirname(BINARY), "hpctl")
    if os.path.exists(hpctl):
        out = subprocess.run([hpctl, "status", "--socket", d.socket], capture_output=True, text=True, timeout=10)
        check(out.returncode != 0 and "too many clients" in out.stderr, f"idle lockout: hpctl says why ({out.stderr.strip()})")
    started = time.monotonic()
    back = None
    while time.monotonic() - started < IDLE_TIMEOUT_S * 4:
        answer = ask(d.socket, {"op": "status"})
        if answer and answer.get("ok"):
            back = time.monotonic() - started
            break
        time.sleep(0.05)
    check(back is not None, "idle lockout: status answered again after the idle timeout")
    phase.value = b"idle lockout (after)"
    release.set()
    for c in children:
        c.join(10)
    return back


def phase_concurrent(d, count=500):
    """500 connections at once, each sends ping: every one gets a line (an answer or a reason)."""
    sel = selectors.DefaultSelector()
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.setblocking(False)
        sockets.append(s)
    for s in sockets:
        try:
            s.send(b'{"op":"ping"}\n')
        except OSError:
            pass
        sel.register(s, selectors.EVENT_READ, bytearray())
    want = d.toggle_cpu3()
    answered = refused = 0
    pending = set(sockets)
    deadline = time.monotonic() + 15
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            try:
                chunk = key.fileobj.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            key.data.extend(chunk)
            if b"\n" in key.data or not chunk:
                line = bytes(key.data).split(b"\n")[0]
                try:
                    answer = json.loads(line)
                    if answer.get("ok"):
                        answered += 1
                    elif "too many" in answer.get("error", ""):
                        refused += 1
                except ValueError:
                    pass
                sel.unregister(key.fileobj)
                pending.discard(key.fileobj)
    check(d.wait_seen(want), "500 at once: a resync while they are open shows the new CPU picture")
    for s in sockets:
        s.close()
    check(answered + refused == count, f"500 at once: each gets an answer or a reason ({answered} + {refused})")
    check(answered >= PER_PEER_CONNECTIONS, f"500 at once: at least {PER_PEER_CONNECTIONS} answered ({answered})")
    return answered, refused


def phase_cycles(d, count=10000):
    started = time.monotonic()
    for i in range(count):
        if i == count // 2:
            want = d.toggle_cpu3()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.close()
    took = time.monotonic() - started
    check(d.wait_seen(want), "cycles: a resync in the middle of them shows the new CPU picture")
    return took


def phase_register_storm(d, count=5000):
    """5000 registers pipelined on one connection, then the connection closed."""
    with connect(d.socket, 30) as s:
        started = time.monotonic()
        batch = 250
        ok = errors = 0
        for first in range(0, count, batch):
            lines = b"".join(json.dumps({"op": "register", "workload": {"name": f"storm{i}", "threads_per_cpu": 1}})
                             .encode() + b"\n" for i in range(first, first + batch))
            s.sendall(lines)
            if first == count // 2:
                want = d.toggle_cpu3()
            answers, _ = read_lines(s, batch, timeout=30)
            for a in answers:
                if json.loads(a).get("ok"):
                    ok += 1
                else:
                    errors += 1
        took = time.monotonic() - started
        check(ok == PER_CLIENT_WORKLOADS and errors == count - PER_CLIENT_WORKLOADS,
              f"storm: {PER_CLIENT_WORKLOADS} registered, the rest refused ({ok}, {errors})")
        plan = ask(d.socket, {"op": "plan"})
        check(len(plan["result"]["workloads"]) == 1 + PER_CLIENT_WORKLOADS, "storm: planned with its share")
        check(d.wait_seen(want), "storm: a resync in the middle of it shows the new CPU picture")
    closed = time.monotonic()
    released = None
    while time.monotonic() - closed < 5:
        plan = ask(d.socket, {"op": "plan"})
        if [w["name"] for w in plan["result"]["workloads"]] == ["web"]:
            released = time.monotonic() - closed
            break
        time.sleep(0.01)
    check(released is not None, "storm: closing the connection releases its workloads")
    return took, released


def phase_extreme_registers(d):
    names = {"nul": "a\u0000b", "newline": "web\nhpplaced: FORGED LINE", "long": "n" * 60000}
    bad = [{"name": "x", "threads_per_cpu": 1 << 20}, {"name": "x", "threads_per_cpu": 0},
           {"name": "x", "threads": (1 << 20) + 1}, {"name": "x", "buffer_per_cpu": 1 << 63},
           {"name": "x", "buffer_per_cpu": "16EiB"}, {"name": "x", "nodes": []}, {"name": "x", "nodes": [0, 0]},
           {"name": "x", "nodes": [1 << 40]}, {"name": "x", "cgroup": d.cgroups + "/../outside"},
           {"name": "x", "cgroup": d.outside}, {"name": "x", "cgroup": "relative"},
           {"name": names["nul"]}, {"name": names["newline"]}, {"name": names["long"]},
           {"name": "x", "threads_per_cpu": 18446744073709551617}, {"name": "x", "threads_per_cpu": -1}]
    with connect(d.socket) as s:
        for workload in bad:
            s.sendall(json.dumps({"op": "register", "workload": workload}).encode() + b"\n")
        s.sendall(b'{"op":"register","workload":{"name":"bad\xff\xfeutf8"}}\n')
        lines, eof = read_lines(s, len(bad) + 1)
    answers = [json.loads(l) for l in lines]
    check(len(answers) == len(bad) + 1 and all(a.get("ok") is False for a in answers),
          f"extreme registers: all {len(bad) + 1} refused ({sum(1 for a in answers if a.get('ok'))} accepted)")
    check(all(len(a.get("error", "")) < 1000 for a in answers), "extreme registers: errors are short")
    check(not os.listdir(d.outside), "extreme registers: nothing written outside the cgroup root")
    with open(d.log_path, errors="replace") as f:
        log = f.read()
    check("\nhpplaced: FORGED LINE" not in log and "FORGED" not in log.replace("\\n", ""),
          "extreme registers: no forged log line")
    check(max((len(l) for l in log.splitlines()), default=0) < 2000, "extreme registers: no log line is huge")
    plan = ask(d.socket, {"op": "plan"})
    check([w["name"] for w in plan["result"]["workloads"]] == ["web"], "extreme registers: nothing planned")


def phase_large_plan(d):
    """A valid plan far above 64 KiB (20,000 threads): hpctl reads it whole."""
    with connect(d.socket) as s:
        s.sendall(b'{"op":"register","workload":{"name":"many","threads":20000}}\n')
        lines, _ = read_lines(s, 1)
        check(bool(lines) and json.loads(lines[0]).get("ok") is True, "large plan: 20,000 threads registered")
        hpctl = os.path.join(os.path.dirname(BINARY), "hpctl")
        out = subprocess.run([hpctl, "plan", "--json", "--socket", d.socket], capture_output=True, text=True,
                             timeout=30)
        size = len(out.stdout)
        threads = 0
        if out.returncode == 0:
            plan = json.loads(out.stdout)
            threads = sum(len(w["threads"]) for w in plan["workloads"] if w["name"] == "many")
        check(out.returncode == 0 and threads == 20000,
              f"large plan: hpctl plan --json read {threads} threads ({size} bytes; {out.stderr.strip()})")
    return f"{size} bytes"


def repeat_for(seconds, run):
    """Runs a short phase again and again for `seconds`; returns the rounds."""
    started = time.monotonic()
    rounds = 0
    while rounds == 0 or time.monotonic() - started < seconds:
        run()
        rounds += 1
    return f"{rounds} rounds"


def main():
    global BINARY
    parser = argparse.ArgumentParser()
    parser.add_argument("hpplaced")
    parser.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "fixtures"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    BINARY = os.path.abspath(args.hpplaced)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    multiprocessing.set_start_method("fork")
    work = tempfile.mkdtemp(prefix="hpplace-abuse-")
    started = time.monotonic()
    d = Daemon(BINARY, args.fixtures, work)
    phase = multiprocessing.Array("c", 64)
    stop = multiprocessing.Event()
    results = multiprocessing.Queue()
    prober = multiprocessing.Process(target=probe_loop, args=(d.socket, phase, stop, results, d.seen))
    try:
        phase.value = b"idle"
        prober.start()
        time.sleep(0.5)
        base_rss, base_fds = proc_usage(d.process.pid)
        # The prober's connection may be open at any one sample: the fewest
        # descriptors over a few of them are the daemon's own.
        for _ in range(10):
            time.sleep(0.02)
            base_fds = min(base_fds, proc_usage(d.process.pid)[1])
        print(f"baseline: RSS {base_rss} kB, {base_fds} fds", flush=True)
        report = []
        phases = [
            ("malformed", lambda: repeat_for(0.5, lambda: phase_malformed(d))),
            ("held open", lambda: phase_held_open(d)),
            ("idle lockout", lambda: phase_idle_lockout(d, phase)),
            ("500 concurrent", lambda: phase_concurrent(d)),
            ("10000 cycles", lambda: phase_cycles(d)),
            ("5000 registers", lambda: phase_register_storm(d)),
            ("extreme registers", lambda: repeat_for(0.5, lambda: phase_extreme_registers(d))),
            ("large plan", lambda: phase_large_plan(d)),
        ]
        for name, run in phases:
            phase.value = name.encode()
            t0 = time.monotonic()
            result = run()
            took = time.monotonic() - t0
            phase.value = (name + " (after)").encode()
            followed = d.follows_machine()
            check(followed is not None, f"{name}: status follows cpu3 after SIGHUP")
            rss = fds = None
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                rss, fds = proc_usage(d.process.pid)
                if fds == base_fds and rss <= base_rss + RSS_SLACK_KB:
                    break
                time.sleep(0.1)
            check(fds == base_fds, f"{name}: open files back to {base_fds} (got {fds})")
            check(rss <= base_rss + RSS_SLACK_KB, f"{name}: RSS back near {base_rss} kB (got {rss} kB)")
            report.append((name, took, result, followed, rss, fds))
            print(f"{name}: {took:.2f} s, result {result}, resync seen after "
                  f"{'-' if followed is None else f'{followed * 1000:.0f} ms'}, RSS {rss} kB, {fds} fds", flush=True)
        stop.set()
        stats = results.get(timeout=10)
        prober.join(10)
        print("status from a fresh connection (prober, every 5 ms):")
        for name, entry in stats.items():
            print(f"  {name:28s} {entry['count']:4d} answers, max {entry['max_ms']:6.1f} ms, "
                  f"{entry['refused']} refused, {entry['failed']} failed {entry['reasons'][:2]}")
            check(entry["max_ms"] <= STATUS_LIMIT_MS, f"{name}: status within {STATUS_LIMIT_MS} ms "
                                                      f"(max {entry['max_ms']:.1f} ms)")
            check(entry["failed"] == 0, f"{name}: no probe without an answer")
            if not name.startswith("idle lockout"):
                check(entry["refused"] == 0, f"{name}: the prober was never refused")
            else:
                check(all("too many clients" in r for r in entry["reasons"]), f"{name}: refusals say why")
        check(d.process.poll() is None, "hpplaced still runs")
    finally:
        stop.set()
        if prober.is_alive():
            prober.terminate()
        d.stop()
        print(f"total {time.monotonic() - started:.1f} s; hpplaced log {d.log_path}")
        if not args.keep and not failures:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
