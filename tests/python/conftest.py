"""Fixtures of the Python package's tests (ctest python_client).

``hpplace``: the package as ``pip install --target`` installs it from a copy of python/ (so that the
tests use what pip installs, and the build leaves nothing in the tree). ``daemon``: the real hpplaced
(HPPLACED) on a copy of the two_nodes sysfs fixture with a private socket. ``fake``: a socket server
that says what a test tells it to, for what a real daemon never sends."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "sysfs" / "two_nodes"


def wait_for(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """The directory pip installed the package into."""
    work = tmp_path_factory.mktemp("pip")
    source = work / "src"
    shutil.copytree(ROOT / "python", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    # Offline, from Debian's setuptools and wheel: no build isolation, no index.
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                             "--no-index", "--disable-pip-version-check", "--target", str(target), str(source)],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return target


@pytest.fixture(scope="session")
def hpplace(installed):
    sys.path.insert(0, str(installed))
    module = importlib.import_module("hpplace")
    assert Path(module.__file__).parent == installed / "hpplace", module.__file__
    return module


def binary(name):
    path = os.environ.get(name.upper())
    if not path:
        pytest.skip(f"{name.upper()} (the path of {name}) is not set; ctest sets it")
    return path


class Daemon:
    def __init__(self, work: Path):
        self.work = work
        self.sys = work / "sys"
        shutil.copytree(FIXTURE, self.sys, symlinks=True)
        self.config = work / "hpplaced.conf"
        self.config.write_text('[[workload]]\nname = "web"\nthreads_per_cpu = 1\nbuffer_per_cpu = "1MiB"\n')
        self.socket = str(work / "s")
        self.log_path = work / "hpplaced.log"
        self.process = None

    def start(self):
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [binary("hpplaced"), "--config", str(self.config), "--sysfs-root", str(self.sys),
             "--socket", self.socket, "--metrics-dir", ""],  # never the host's node_exporter directory
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.answers, 20, f"hpplaced answering on {self.socket} (log: {self.log_path})")
        # Until the first plan the plan document is empty.
        wait_for(lambda: self.ask("status").get("plan_generation", 0) > 0, 20, "hpplaced's first plan")

    def ask(self, op):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.socket)
            s.sendall(json.dumps({"op": op, "id": 1}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 16)
                assert chunk, "hpplaced closed the connection"
                data += chunk
        return json.loads(data)["result"]

    def answers(self):
        try:
            return self.ask("ping") == {"version": 1}
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(20) == 0, f"hpplaced exited {self.process.returncode}"
        self.process = None
        self.log.close()

    def set_cpu3(self, online: bool):
        cpu = self.sys / "devices/system/cpu"
        (cpu / "online").write_text("0-3\n" if online else "0-2\n")
        (cpu / "cpu3/online").write_text("1\n" if online else "0\n")
        (self.sys / "devices/system/node/node1/cpulist").write_text("2-3\n" if online else "2\n")


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    d.start()
    yield d
    d.stop()


class FakeDaemon:
    """Accepts connections on a socket; each one gets ``script(conn, requests)`` run on a thread, where
    ``requests`` yields the request lines it receives (parsed)."""

    def __init__(self, path: str, script):
        self.path = path
        self.script = script
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(8)
        self.threads = []
        self.open = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.open.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, conn):
        def requests():
            data = b""
            while True:
                while b"\n" in data:
                    line, data = data.split(b"\n", 1)
                    yield json.loads(line)
                chunk = conn.recv(1 << 16)
                if not chunk:
                    return
                data += chunk
        try:
            self.script(conn, requests())
        except OSError:
            pass
        finally:
            conn.close()  # the script is done: the peer sees the connection closed

    def close(self):
        self.stopped = True
        self.listener.close()
        for conn in self.open:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


@pytest.fixture
def fake(tmp_path):
    servers = []

    def make(script):
        server = FakeDaemon(str(tmp_path / f"fake{len(servers)}"), script)
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.close()


def send(conn, value):
    conn.sendall((value if isinstance(value, bytes) else json.dumps(value).encode()) + b"\n")


#: A status document for the fake daemon: CPUs 0-1 on node 0 (1 GiB), node 1 without CPUs or memory.
FAKE_STATUS = {"source": "kernel", "cpus": {"online": [0, 1], "present": [0, 1, 2]},
               "nodes": [{"id": 0, "cpus": [0, 1], "memory_bytes": 1 << 30}, {"id": 1, "cpus": [], "memory_bytes": 0}],
               "events": {"received": 0, "last_seq": 10, "lost": 0, "resyncs": 0}, "plan_generation": 1}


def answer_subscribe_and_status(requests, conn, status=FAKE_STATUS):
    """Answers the client's first two requests (subscribe, status) as hpplaced does."""
    for request in requests:
        if request["op"] == "subscribe":
            send(conn, {"ok": True, "result": {"streams": request.get("streams", ["events", "plans"])},
                        "id": request.get("id")})
        elif request["op"] == "status":
            send(conn, {"ok": True, "result": status, "id": request.get("id")})
            return
