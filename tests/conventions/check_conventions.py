#!/usr/bin/env python3
"""hpctl's and hpplaced's command-line conventions, their logs and the metrics
file, on the real binaries (docs/contract.md):

- --version on both; `hpctl COMMAND --help` for every command; exit status 0
  success, 1 failure, 2 usage error (hpctl without a command: one line of
  usage on stderr); hpplaced's 78 for a bad config file;
- logs: "hpplaced: text" on a plain stderr, "<N>text" when stderr is the
  journal ($JOURNAL_STREAM names it), with the priority of each kind of line;
- the metrics file in --metrics-dir: 0644 under umask 027, replaced whole, with
  build_info, the event source, the nodes and the config reload gauges, which
  a failed SIGHUP reload sets to 0; the format checked by prom_format.py and
  by `promtool check metrics` when --promtool is given.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prom_format  # noqa: E402

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
    return ok


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kwargs)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    check(False, f"{what} within {timeout} s")
    return None


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def cli(args, version):
    hpctl, hpplaced = args.hpctl, args.hpplaced
    for binary, name in ((hpctl, "hpctl"), (hpplaced, "hpplaced")):
        out = run([binary, "--version"])
        check(out.returncode == 0 and re.fullmatch(rf"{name} {re.escape(version)}( \(git [^)]+\))?\n", out.stdout)
              is not None and out.stderr == "", f"{name} --version: {out.stdout!r}, status {out.returncode}")

    out = run([hpctl])
    check(out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
          and out.stderr.startswith("usage: hpctl"), f"hpctl alone: one line of usage on stderr, status 2 ({out.stderr!r})")
    out = run([hpctl, "--help"])
    commands = list(dict.fromkeys(re.findall(r"^  hpctl ([a-z][a-z-]*)", out.stdout, re.M)))
    check(out.returncode == 0 and len(commands) >= 6, f"hpctl --help: status 0, commands {commands}")
    for command in commands:
        for flag in ("--help", "-h"):
            out = run([hpctl, command, flag])
            check(out.returncode == 0 and out.stdout.startswith(f"usage: hpctl {command}") and out.stderr == "",
                  f"hpctl {command} {flag}: its usage on stdout, status 0")
        out = run([hpctl, command, "--no-such-option"])
        check(out.returncode == 2 and out.stderr.startswith(f"hpctl {command}: ") and out.stderr.count("\n") == 1,
              f"hpctl {command} --no-such-option: status 2, one line ({out.stderr.strip()!r})")
    out = run([hpctl, "no-such-command"])
    check(out.returncode == 2, f"hpctl no-such-command: status 2 ({out.stderr.strip()!r})")
    for argv in (["watch", "--count", "0"], ["watch", "--count"], ["status", "--socket"],
                 ["plan", "--topology", args.topology]):
        out = run([hpctl] + argv)
        check(out.returncode == 2, f"hpctl {' '.join(argv)}: a usage error, status 2 ({out.stderr.strip()!r})")

    with tempfile.TemporaryDirectory() as work:
        out = run([hpctl, "status", "--socket", os.path.join(work, "nobody")])
        check(out.returncode == 1 and out.stderr.startswith("hpctl status: "),
              f"hpctl status without a daemon: status 1 ({out.stderr.strip()!r})")
        bad = os.path.join(work, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        config = os.path.join(work, "c.toml")
        with open(config, "w") as f:
            f.write("")
        out = run([hpctl, "plan", "--topology", bad, "--config", config])
        check(out.returncode == 1, f"hpctl plan with a malformed topology: status 1 ({out.stderr.strip()!r})")

        out = run([hpplaced, "--no-such-option"])
        check(out.returncode == 2 and out.stderr.startswith("hpplaced: "), f"hpplaced --no-such-option: status 2")
        out = run([hpplaced, "--rcvbuf", "lots"])
        check(out.returncode == 2, f"hpplaced --rcvbuf lots: status 2 ({out.stderr.strip()!r})")
        out = run([hpplaced, "--help"])
        check(out.returncode == 0 and "--metrics-dir" in out.stdout and "--version" in out.stdout,
              "hpplaced --help: status 0")
        common = ["--socket", os.path.join(work, "s"), "--sysfs-root", args.sysfs, "--metrics-dir", ""]
        out = run([hpplaced, "--config", os.path.join(work, "absent.conf")] + common)
        check(out.returncode == 78, f"hpplaced --config ABSENT: status 78 ({out.stderr.strip()!r})")
        with open(config, "w") as f:
            f.write('auto_online = "sometimes"\n')
        out = run([hpplaced, "--config", config] + common)
        check(out.returncode == 78 and out.stderr.count("\n") == 1 and out.stderr.startswith(f"hpplaced: {config}:1:"),
              f"hpplaced with a bad config: status 78, one line ({out.stderr.strip()!r})")


class Daemon:
    def __init__(self, hpplaced, sysfs, work, journal, metrics_dir):
        self.work = work
        self.config = os.path.join(work, "hpplaced.conf")
        self.write_config('auto_online = "off"\n')
        self.socket = os.path.join(work, "hpplaced.sock")
        self.log_path = os.path.join(work, "stderr")
        self.log = open(self.log_path, "w")
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        if journal:
            st = os.fstat(self.log.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        self.process = subprocess.Popen(
            [hpplaced, "--config", self.config, "--sysfs-root", sysfs, "--socket", self.socket,
             "--cgroup-root", work, "--metrics-dir", metrics_dir],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env, preexec_fn=lambda: os.umask(0o027))

    def write_config(self, text):
        with open(self.config + ".new", "w") as f:
            f.write(text)
        os.replace(self.config + ".new", self.config)

    def lines(self):
        with open(self.log_path) as f:
            return f.read().splitlines()

    def answers(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.socket)
                s.sendall(b'{"op":"ping"}\n')
                return b'"ok":true' in s.recv(4096)
        except OSError:
            return False

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self.log.close()
        return status


def metrics_file_checks(args, version):
    with tempfile.TemporaryDirectory() as work:
        metrics_dir = os.path.join(work, "textfile")
        os.mkdir(metrics_dir)
        path = os.path.join(metrics_dir, "hpplaced.prom")
        d = Daemon(args.hpplaced, args.sysfs, work, False, metrics_dir)
        try:
            started = time.time()
            if not wait_for(lambda: os.path.exists(path) and d.answers(), 20, "hpplaced answers and writes hpplaced.prom"):
                print("\n".join(d.lines()))
                return
            mode = stat.S_IMODE(os.stat(path).st_mode)
            check(mode == 0o644, f"hpplaced.prom mode {mode:o} under umask 027 (want 644)")
            text = open(path).read()
            for problem in prom_format.problems(text):
                check(False, f"hpplaced.prom format: {problem}")
            check(not prom_format.problems(text), "hpplaced.prom: the text format holds (prom_format.py)")
            if args.promtool:
                out = subprocess.run([args.promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                                     timeout=60)
                check(out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(),
                      f"promtool check metrics: status {out.returncode} {out.stdout.strip()} {out.stderr.strip()}")
            s = samples(text)
            info = [k for k in s if k.startswith("hpplaced_build_info{")]
            check(len(info) == 1 and f'version="{version}"' in info[0] and s[info[0]] == 1,
                  f"build_info: {info}")
            sources = {k: v for k, v in s.items() if k.startswith("hpplaced_event_source{")}
            check(sorted(sources.values()) == [0, 0, 1], f"one event source is current: {sources}")
            # The fixture's nodes: node0 cpus 0-1, node1 cpu 2 (tests/fixtures/sysfs/two_nodes).
            check(s.get('hpplaced_node_online_cpus{node="0"}') == 2 and s.get('hpplaced_node_online_cpus{node="1"}') == 1,
                  "online CPUs per node as the fixture has them")
            check(s.get('hpplaced_node_online_memory_bytes{node="0"}', 0) > 0, "node0's online memory")
            check(s.get("hpplaced_config_last_reload_successful") == 1, "config loaded at start: successful 1")
            first = s.get("hpplaced_config_last_reload_success_timestamp_seconds", 0)
            check(started - 5 <= first <= time.time() + 1, f"the start's load time {first} (started {started:.0f})")
            leftovers = [n for n in os.listdir(metrics_dir) if n != "hpplaced.prom"]
            check(not leftovers, f"no temporary files left beside hpplaced.prom: {leftovers}")

            # A bad config on SIGHUP: the running one kept, the metrics say so.
            d.write_config("auto_online = 1\n")
            d.process.send_signal(signal.SIGHUP)
            failed = wait_for(lambda: samples(open(path).read()).get("hpplaced_config_last_reload_successful") == 0,
                              20, "a failed reload shows as hpplaced_config_last_reload_successful 0")
            if failed:
                s = samples(open(path).read())
                check(s.get("hpplaced_config_last_reload_success_timestamp_seconds") == first,
                      "a failed reload leaves the last success's time")
            time.sleep(1.1)  # the next success's time must be later
            d.write_config('auto_online = "off"\n')
            d.process.send_signal(signal.SIGHUP)
            again = wait_for(lambda: samples(open(path).read()).get("hpplaced_config_last_reload_successful") == 1,
                             20, "a good reload shows as successful 1 again")
            if again:
                later = samples(open(path).read()).get("hpplaced_config_last_reload_success_timestamp_seconds", 0)
                check(later > first, f"the good reload's time {later} is after the start's {first}")
            out = run([args.hpctl, "metrics", "--socket", d.socket])
            check(out.returncode == 0 and not prom_format.problems(out.stdout) and "hpplaced_build_info" in out.stdout,
                  "hpctl metrics: the same format")
        finally:
            status = d.stop()
        check(status == 0, f"hpplaced stopped by SIGTERM: status {status}")
        lines = d.lines()
        check(bool(lines) and all(line.startswith("hpplaced: ") for line in lines),
              f"a plain stderr: every line 'hpplaced: ...', no priority prefix ({len(lines)} lines)")
        check(any("config reload failed" in line for line in lines), "the failed reload is logged")


def journal_checks(args):
    with tempfile.TemporaryDirectory() as work:
        d = Daemon(args.hpplaced, args.sysfs, work, True, os.path.join(work, "no-such-dir"))
        try:
            if wait_for(d.answers, 20, "hpplaced answers (journal mode)"):
                d.write_config("auto_online = 1\n")
                d.process.send_signal(signal.SIGHUP)
                # Each line looked for below but the stop's, before stopping (the first plan and the
                # metrics file's first attempt may still be on their way on a loaded host).
                for fragment in ("config reload failed", "plan generation", "does not exist"):
                    wait_for(lambda: any(fragment in line for line in d.lines()), 30, f"'{fragment}' is logged")
        finally:
            status = d.stop()
        check(status == 0, f"hpplaced stopped by SIGTERM: status {status}")
        lines = d.lines()
        check(bool(lines) and all(re.match(r"<[0-7]>", line) for line in lines),
              f"stderr is the journal: every line begins with <N> ({len(lines)} lines)")
        check(not any("hpplaced:" in line for line in lines), "no 'hpplaced:' before the text (journald names it)")

        def priority_of(fragment):
            for line in lines:
                if fragment in line:
                    return line[:3]
            return None
        for fragment, want in (("event source:", "<5>"), ("config reload failed", "<3>"), ("SIGHUP: reloading", "<5>"),
                               ("plan generation", "<6>"), ("does not exist", "<6>"), ("SIGTERM: stopping", "<5>")):
            got = priority_of(fragment)
            check(got == want, f"'{fragment}' logged at {want} (got {got})")
        if failures:
            print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hpctl", required=True)
    parser.add_argument("--hpplaced", required=True)
    parser.add_argument("--version", required=True, help="the project version")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--promtool")
    args = parser.parse_args()
    args.topology = os.path.join(args.fixtures, "planner", "two_nodes", "topology.json")
    with tempfile.TemporaryDirectory() as work:
        args.sysfs = os.path.join(work, "sys")
        shutil.copytree(os.path.join(args.fixtures, "sysfs", "two_nodes"), args.sysfs, symlinks=True)
        cli(args, args.version)
        metrics_file_checks(args, args.version)
        journal_checks(args)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
