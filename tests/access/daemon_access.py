#!/usr/bin/env python3
"""Who may use the real hpplaced's control socket (ctest daemon_access).

Runs build/bin/hpplaced on a copy of the two_nodes sysfs fixture with a temp
cgroup root, as root, and talks to it as other users through util-linux
setpriv with numeric ids (no entry in /etc/passwd or /etc/group needed):

  GROUP 61000 owns the socket; MEMBER uid 61001 has it as a supplementary
  group, PRIMARY uid 61003 as its primary group; STRANGER uid 61002 has
  neither.

1. The daemon binds the socket itself, `socket_group = 61000`, `socket_mode =
   0o660`: the file is root:61000 0660; both members run `hpctl status`; the
   stranger is kept out by the mode (EACCES) and, with the file made 0666, by
   the daemon (its error line; a log line with its uid); a member's
   libhpplace service (hpplace-example-service) registers, receives its plan
   and a new one when cpu3 comes (a resync, SIGHUP; the host may lack the
   fixture's CPUs, so pins may fail); a member cannot name a cgroup
   that is not its own, cannot replace or unregister a workload another
   process registered, and may name its own cgroup (the daemon writes its
   cpuset); root may do all of that.
2. `socket_group = "hpplace"` by name, with /etc/group replaced by a copy
   that has the group in a private mount namespace (unshare -m): the host's
   /etc is not touched.
3. Socket activation: a launcher binds and listens, passes the socket as fd 3
   with LISTEN_FDS=1 and LISTEN_PID; the daemon serves it (members in, the
   stranger refused), does not bind its --socket path, and leaves the file
   in place when it stops.

usage: daemon_access.py HPPLACED HPCTL EXAMPLE_SERVICE --library LIBHPPLACE_SO --fixtures DIR [--keep]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "abuse"))
from daemon_abuse import set_fixture_cpu3  # noqa: E402

GROUP, MEMBER, STRANGER, PRIMARY = 61000, 61001, 61002, 61003

failures = []


def check(condition, what):
    print(("  ok: " if condition else "  FAIL: ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


def as_user(uid, gid, groups):
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}",
            f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups", "--"]


# The clients' interpreter: the system's, which other users can run (a
# per-user one, pyenv's under /root, they cannot).
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

MEMBER_CMD = as_user(MEMBER, MEMBER, [GROUP])
PRIMARY_CMD = as_user(PRIMARY, GROUP, [])
STRANGER_CMD = as_user(STRANGER, STRANGER, [])

# Runs as the user: sends each request line on one connection, prints each
# answer line; with "hold" it then keeps the connection until stdin closes.
CLIENT = r"""
import json, socket, sys
path, requests = sys.argv[1], json.loads(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rb")
for r in requests:
    if r == "hold":
        print("holding", flush=True)
        sys.stdin.read()
        break
    s.sendall(json.dumps(r).encode() + b"\n")
    line = f.readline()
    print(line.decode().strip(), flush=True)
    if not line:
        break
"""


def client(user_cmd, path, requests, timeout=10):
    """Answers (dicts, None for a line that is not JSON) to requests sent by the user on one connection."""
    done = subprocess.run(user_cmd + [PYTHON, "-c", CLIENT, path, json.dumps(requests)],
                          capture_output=True, text=True, timeout=timeout)
    answers = []
    for line in done.stdout.splitlines():
        try:
            answers.append(json.loads(line))
        except ValueError:
            answers.append(None)
    if done.returncode != 0:
        answers.append({"client_error": done.stderr.strip().splitlines()[-1:] or ["exit " + str(done.returncode)]})
    return answers


def hold(user_cmd, path, requests):
    """A connection kept open by the user after its requests; returns (process, answers)."""
    process = subprocess.Popen(user_cmd + [PYTHON, "-c", CLIENT, path, json.dumps(requests + ["hold"])],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    answers = []
    for _ in requests:
        answers.append(json.loads(process.stdout.readline()))
    process.stdout.readline()  # holding
    return process, answers


def hpctl(user_cmd, tools, path):
    return subprocess.run(user_cmd + [os.path.join(tools, "hpctl"), "status", "--socket", path],
                          capture_output=True, text=True, timeout=20)


def wait_for(condition, seconds, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def answers_on(path):
    try:
        return client([], path, [{"op": "ping"}], 5)[0].get("ok") is True
    except (OSError, subprocess.SubprocessError, IndexError, AttributeError):
        return False


def own_cgroup(cgroups, pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                below = line[3:].strip().lstrip("/")
                return os.path.normpath(os.path.join(cgroups, below)) if below else cgroups
    raise RuntimeError("no cgroup v2 line in /proc/%d/cgroup" % pid)


class Rig:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        # Copies the users may run (the build tree may be in a directory only root enters).
        self.tools = os.path.join(work, "bin")
        os.makedirs(self.tools)
        for binary in (args.hpctl, args.example_service, args.library):
            shutil.copy(binary, self.tools)
        self.sys = os.path.join(work, "sys")
        shutil.copytree(os.path.join(args.fixtures, "sysfs", "two_nodes"), self.sys, symlinks=True)
        self.cgroups = os.path.join(work, "cgroup")
        self.other = os.path.join(self.cgroups, "other")
        self.make_cgroup(self.other)
        with open(os.path.join(self.cgroups, "cgroup.subtree_control"), "w") as f:
            f.write("cpuset\n")
        self.process = None
        self.log_path = None

    def make_cgroup(self, path):
        os.makedirs(path, exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            with open(os.path.join(path, name), "w") as f:
                f.write("\n")

    def start(self, name, config, socket_path, wrap=(), pass_fds=()):
        self.config = os.path.join(self.work, name + ".conf")
        with open(self.config, "w") as f:
            f.write(config)
        self.log_path = os.path.join(self.work, name + ".log")
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                list(wrap) + [self.args.hpplaced, "--config", self.config, "--sysfs-root", self.sys,
                              "--cgroup-root", self.cgroups, "--socket", socket_path,
                              "--metrics-dir", ""],  # never the host's node_exporter directory
                stdout=log, stderr=subprocess.STDOUT, pass_fds=pass_fds)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self.process = None


def members_and_stranger(rig, path):
    """hpctl status as each member succeeds; the stranger is refused, by the daemon when the mode lets it in."""
    for who, cmd in (("member (supplementary group)", MEMBER_CMD), ("member (primary group)", PRIMARY_CMD)):
        done = hpctl(cmd, rig.tools, path)
        check(done.returncode == 0 and "online" in done.stdout,
              f"{who}: hpctl status exits 0 and prints the status (exit {done.returncode}, {done.stderr.strip()!r})")
    done = hpctl(STRANGER_CMD, rig.tools, path)
    check(done.returncode == 1 and "permission denied" in done.stderr,
          f"stranger: hpctl status refused by the socket's mode (exit {done.returncode}, {done.stderr.strip()!r})")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    os.chmod(path, 0o666)  # a careless mode: the daemon's own check must still hold
    done = hpctl(STRANGER_CMD, rig.tools, path)
    expected = f"permission denied: uid {STRANGER} is neither root nor a member of group {GROUP}"
    check(done.returncode == 1 and expected in done.stderr,
          f"stranger on a 0666 socket: hpctl status refused by the daemon (exit {done.returncode}, "
          f"{done.stderr.strip()!r})")
    check(wait_for(lambda: f"uid {STRANGER}) refused: permission denied" in rig.log(), 5),
          "the daemon logs the stranger's refusal with its pid and uid")
    os.chmod(path, mode)


def phase_bound(rig):
    print("phase 1: the daemon binds the socket, socket_group = 61000 (a number)", flush=True)
    path = os.path.join(rig.work, "bound.sock")
    rig.start("bound", f"socket_group = {GROUP}\nsocket_mode = 0o660\n", path)
    if not check(wait_for(lambda: answers_on(path), 15), "hpplaced answers on its socket"):
        print(rig.log())
        return
    st = os.stat(path)
    check(st.st_uid == 0 and st.st_gid == GROUP and stat.S_IMODE(st.st_mode) == 0o660,
          f"the socket is root:{GROUP} 0660 (is {st.st_uid}:{st.st_gid} {oct(stat.S_IMODE(st.st_mode))})")
    members_and_stranger(rig, path)

    # A member's libhpplace service registers and follows the plan.
    out_path = os.path.join(rig.work, "service.out")
    with open(out_path, "w") as out:
        service = subprocess.Popen(MEMBER_CMD + [os.path.join(rig.tools, "hpplace-example-service"), "--socket", path,
                                                 "--name", "member-service"], stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, LD_LIBRARY_PATH=rig.tools))

    def service_out():
        with open(out_path) as f:
            return f.read()

    def planned():
        done = subprocess.run([os.path.join(rig.tools, "hpctl"), "plan", "--json", "--socket", path],
                              capture_output=True, text=True, timeout=10)
        try:
            return {w["name"]: len(w["threads"]) for w in json.loads(done.stdout)["workloads"]}
        except (ValueError, KeyError):
            return {}
    check(wait_for(lambda: planned().get("member-service") == 3, 15),
          f"the member's service registered its workload: planned {planned()}")
    # The fixture's CPUs 2-3 may not exist here: what counts is that plans arrive, not that pins succeed.
    def generations():
        return [int(line.split()[1].rstrip(":")) for line in service_out().splitlines() if line.startswith("plan ")]
    check(wait_for(lambda: generations() != [], 15),
          f"the member's service received its plan: {service_out()[-300:]!r}")
    first = max(generations() or [0])
    set_fixture_cpu3(rig.sys, True)
    rig.process.send_signal(signal.SIGHUP)
    check(wait_for(lambda: planned().get("member-service") == 4, 15) and
          wait_for(lambda: max(generations() or [0]) > first, 15),
          f"cpu3 came (a resync): the member's service received the plan with 4 threads: {service_out()[-300:]!r}")
    service.send_signal(signal.SIGTERM)
    service.wait(10)
    check(wait_for(lambda: "member-service" not in planned(), 10), "its workload left with the service")

    # What a member may name and touch.
    root_holder, root_answers = hold([], path, [{"op": "register", "workload": {"name": "root-wl"}}])
    check(root_answers[0].get("ok") is True, f"root registers a workload: {root_answers[0]}")
    foreign = client(MEMBER_CMD, path, [{"op": "register", "workload": {"name": "m", "cgroup": rig.other}},
                                        {"op": "register", "workload": {"name": "root-wl"}},
                                        {"op": "unregister", "name": "root-wl"},
                                        {"op": "status"}])
    check(len(foreign) == 4 and foreign[0].get("ok") is False and
          foreign[0]["error"].startswith("register: permission denied: cgroup ") and
          "is not the cgroup of process" in foreign[0]["error"],
          f"a member's register naming another cgroup is refused: {foreign[:1]}")
    check(len(foreign) == 4 and foreign[1].get("ok") is False and
          "register: permission denied: workload \"root-wl\" was registered by process" in foreign[1]["error"],
          f"a member cannot replace a workload another process registered: {foreign[1:2]}")
    check(len(foreign) == 4 and foreign[2].get("ok") is False and
          foreign[2]["error"].startswith("unregister: permission denied: workload \"root-wl\""),
          f"nor unregister it: {foreign[2:3]}")
    check(len(foreign) == 4 and foreign[3].get("ok") is True, "the connection stays usable after refusals")
    check(f"uid {MEMBER}): refused register: cgroup" in rig.log(),
          "the daemon logs the refused register with the member's pid and uid")
    check(not open(os.path.join(rig.other, "cpuset.cpus")).read().strip(), "nothing was written to the other cgroup")
    unit = client(MEMBER_CMD, path, [{"op": "register", "workload": {"name": "mu", "unit": "nginx.service"}}])
    check(len(unit) == 1 and unit[0].get("ok") is False and
          unit[0]["error"] == "register: permission denied: unit \"nginx.service\": only root may name a systemd unit",
          f"a member's register naming a systemd unit is refused: {unit}")
    root_holder.stdin.close()
    root_holder.wait(10)

    # The member's own cgroup: the one its process is in (this one's, inherited), made in the fixture root.
    own = own_cgroup(rig.cgroups, os.getpid())
    rig.make_cgroup(own)
    mine = client(MEMBER_CMD, path, [{"op": "register", "workload": {"name": "mine", "cgroup": own}},
                                     {"op": "unregister", "name": "mine"}])
    check(len(mine) == 2 and mine[0].get("ok") is True and mine[1].get("ok") is True,
          f"a member may register its own cgroup ({own}) and unregister its own workload: {mine}")

    # Root may do everything.
    admin = client([], path, [{"op": "register", "workload": {"name": "r", "cgroup": rig.other}}])
    check(admin[0].get("ok") is True, f"root registers any cgroup below the root: {admin}")
    check(wait_for(lambda: open(os.path.join(rig.other, "cpuset.cpus")).read().strip() != "", 10),
          "and the daemon writes its cpuset")
    rig.stop()


def phase_group_name(rig):
    print("phase 2: socket_group = \"hpplace\" (a name), /etc/group replaced in a private mount namespace", flush=True)
    if shutil.which("unshare") is None:
        check(False, "unshare (util-linux) is installed")
        return
    group_file = os.path.join(rig.work, "group")
    with open("/etc/group") as f:
        text = f.read()
    with open(group_file, "w") as f:
        f.write(text + ("" if text.endswith("\n") else "\n") + f"hpplace:x:{GROUP}:\n")
    path = os.path.join(rig.work, "named.sock")
    rig.start("named", 'socket_group = "hpplace"\n', path,
              wrap=["unshare", "-m", "--propagation", "private", "sh", "-c",
                    f'mount --bind "{group_file}" /etc/group && exec "$0" "$@"'])
    if not check(wait_for(lambda: answers_on(path), 15), "hpplaced answers on its socket"):
        print(rig.log())
        rig.stop()
        return
    check(os.stat(path).st_gid == GROUP, f"the socket's group is hpplace's id {GROUP}")
    done = hpctl(MEMBER_CMD, rig.tools, path)
    check(done.returncode == 0, f"a member runs hpctl status ({done.stderr.strip()!r})")
    rig.stop()
    with open("/etc/group") as f:
        check("hpplace:x:%d:" % GROUP not in f.read(), "the host's /etc/group is unchanged")
    rig.start("unknown", 'socket_group = "hpplace-no-such-group"\n', os.path.join(rig.work, "unknown.sock"))
    status = rig.process.wait(15)
    check(status == 1 and 'no group "hpplace-no-such-group"' in rig.log(),
          f"an unknown group stops the daemon at start with a clear line (exit {status}: {rig.log().strip()[-200:]!r})")
    rig.process = None


def phase_activated(rig):
    print("phase 3: socket activation (LISTEN_FDS=1, fd 3)", flush=True)
    path = os.path.join(rig.work, "activated.sock")
    unused = os.path.join(rig.work, "not-bound.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chown(path, 0, GROUP)
    os.chmod(path, 0o660)
    listener.listen(16)

    # As systemd passes it: fd 3, LISTEN_FDS=1, LISTEN_PID the daemon's (the launcher execs it).
    launcher = ("import os, sys\n"
                "fd = int(sys.argv[1])\n"
                "if fd != 3:\n"
                "    os.dup2(fd, 3)\n"
                "    os.close(fd)\n"
                "os.set_inheritable(3, True)\n"
                "os.environ['LISTEN_FDS'] = '1'\n"
                "os.environ['LISTEN_PID'] = str(os.getpid())\n"
                "os.execv(sys.argv[2], sys.argv[2:])\n")
    # socket_mode is ignored for systemd's socket: the file keeps 0660.
    rig.start("activated", "socket_mode = 0o600\n", unused, pass_fds=(listener.fileno(),),
              wrap=[sys.executable, "-c", launcher, str(listener.fileno())])
    listener.close()
    if not check(wait_for(lambda: answers_on(path), 15), "hpplaced answers on the inherited socket"):
        print(rig.log())
        rig.stop()
        return
    check(not os.path.exists(unused), "it did not bind its --socket path")
    check("from systemd" in rig.log(), "it logs that the socket came from systemd")
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o660, "the socket's mode is left as systemd set it")
    members_and_stranger(rig, path)
    rig.stop()
    check(os.path.exists(path), "the socket file stays when the daemon stops (systemd's to remove)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("hpplaced")
    parser.add_argument("hpctl")
    parser.add_argument("example_service")
    parser.add_argument("--library", required=True, help="libhpplace.so by its soname, for the service")
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("daemon_access: needs root (it runs clients as other users)")
        return 1
    if shutil.which("setpriv") is None:
        print("daemon_access: needs util-linux setpriv")
        return 1
    work = tempfile.mkdtemp(prefix="hpplace-access-")
    os.chmod(work, 0o755)  # the other users reach the socket and the tools in it
    rig = Rig(args, work)
    try:
        phase_bound(rig)
        phase_group_name(rig)
        phase_activated(rig)
    finally:
        rig.stop()
        if args.keep:
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("daemon_access: " + ("all checks held" if not failures else f"{len(failures)} check(s) failed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
