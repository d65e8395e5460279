"""The Python package hpplace against the real hpplaced on the two_nodes fixture (CPUs 0-2 online, 3
offline; node 0: CPUs 0-1, 512 MiB; node 1: CPU 2, 256 MiB) and against a fake daemon for what the real
one never sends (events on a host without the module, bad input)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time

import pytest

from conftest import answer_subscribe_and_status, binary, send, wait_for

MiB = 1 << 20


class Recorder:
    """A callback that keeps what it gets and the thread it ran on."""

    def __init__(self):
        self.calls = []
        self.threads = set()
        self.lock = threading.Lock()

    def __call__(self, change):
        with self.lock:
            self.calls.append(change)
            self.threads.add(threading.current_thread().name)

    def wait(self, count, timeout=20.0):
        wait_for(lambda: len(self.calls) >= count, timeout, f"{count} calls (got {self.calls})")
        return list(self.calls)


def hpctl(*args):
    result = subprocess.run([binary("hpctl"), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- the real daemon ------------------------------------------------------------------------------


def test_installed_with_type_hints(hpplace, installed):
    assert (installed / "hpplace" / "py.typed").is_file()
    assert hpplace.Client().socket_path == "/run/hpplaced.sock"  # the C++ client's and hpctl's default
    assert hpplace.Client("/tmp/x.sock").socket_path == "/tmp/x.sock"
    with pytest.raises(ValueError):
        hpplace.Client("")


def test_documents_are_hpctls(hpplace, daemon):
    client = hpplace.Client(daemon.socket)
    status = client.status()
    assert status["cpus"] == {"online": [0, 1, 2], "present": [0, 1, 2, 3]}
    assert status["nodes"] == [{"id": 0, "cpus": [0, 1], "memory_bytes": 512 * MiB},
                               {"id": 1, "cpus": [2], "memory_bytes": 256 * MiB}]
    assert status == json.loads(hpctl("status", "--json", "--socket", daemon.socket))

    plan = client.plan()
    assert plan == json.loads(hpctl("plan", "--json", "--socket", daemon.socket))
    assert plan["generation"] == status["plan_generation"] >= 1
    (web,) = plan["workloads"]
    assert web["name"] == "web"
    assert [(t["cpu"], t["node"]) for t in web["threads"]] == [(0, 0), (1, 0), (2, 1)]
    assert [(b["node"], b["bytes"]) for b in web["buffers"]] == [(0, 2 * MiB), (1, 1 * MiB)]

    metrics = client.metrics()
    assert metrics["text"].rstrip("\n") == hpctl("metrics", "--socket", daemon.socket).rstrip("\n")
    assert f"hpplaced_plan_generation {plan['generation']}" in metrics["text"].splitlines()
    assert client.ping() == 1


def test_add_existing_replays_every_active_cpu(hpplace, daemon):
    with hpplace.Client(daemon.socket) as client:
        cpus, memory = Recorder(), Recorder()
        client.on_processor_change(cpus, add_existing=True)
        client.on_memory_change(memory, add_existing=True)
        got = cpus.wait(3)
        assert [(c.state, c.cpu, c.node, c.synthesized, c.seq) for c in got] == [
            (hpplace.ProcessorState.ADD_COMPLETE, 0, 0, True, 0),
            (hpplace.ProcessorState.ADD_COMPLETE, 1, 0, True, 0),
            (hpplace.ProcessorState.ADD_COMPLETE, 2, 1, True, 0)]
        assert all(c.active_count == 3 and c.active_cpus == (0, 1, 2) for c in got)
        assert [(m.state, m.node, m.size) for m in memory.wait(2)] == [
            (hpplace.MemoryState.ONLINE, 0, 512 * MiB), (hpplace.MemoryState.ONLINE, 1, 256 * MiB)]
        assert cpus.threads == memory.threads == {"hpplace-callbacks"}
        assert client.wait_connected(10) and client.active_processors() == [0, 1, 2]
        # Registered once the picture is there: replayed at once; without add_existing: nothing.
        late, plain = Recorder(), Recorder()
        client.on_processor_change(late, add_existing=True)
        client.on_processor_change(plain)
        assert [c.cpu for c in late.wait(3)] == [0, 1, 2]
        time.sleep(0.2)
        assert plain.calls == [] and len(cpus.calls) == 3


def test_reconnects_and_reports_what_changed(hpplace, daemon):
    with hpplace.Client(daemon.socket, reconnect_max=0.2, log=lambda line: None) as client:
        cpus, links = Recorder(), Recorder()
        client.on_connection(links)
        client.on_processor_change(cpus, add_existing=True)
        cpus.wait(3)
        assert links.wait(1) == [True]
        daemon.stop()
        assert links.wait(2) == [True, False]
        daemon.set_cpu3(True)
        daemon.start()
        assert links.wait(3) == [True, False, True]
        change = cpus.wait(4)[3]
        assert (change.state, change.cpu, change.node, change.synthesized) == \
            (hpplace.ProcessorState.ADD_COMPLETE, 3, 1, True)
        assert change.active_cpus == (0, 1, 2, 3) and change.active_count == 4
        stats = client.stats()
        assert stats["connects"] == 2 and stats["dropped_connections"] == 1 and stats["bad_messages"] == 0


def test_unregister_waits_for_a_running_call_and_stops_calls(hpplace, daemon):
    entered, release = threading.Event(), threading.Event()
    calls, finished = [], []

    def slow(change):
        calls.append(change.cpu)
        entered.set()
        release.wait(10)
        finished.append(change.cpu)

    with hpplace.Client(daemon.socket, reconnect_max=0.2, log=lambda line: None) as client:
        registration = client.on_processor_change(slow, add_existing=True)
        assert entered.wait(20)
        done = threading.Event()
        threading.Thread(target=lambda: (registration.unregister(), done.set()), daemon=True).start()
        assert not done.wait(0.3), "unregister returned while the callback was running"
        release.set()
        assert done.wait(10)
        assert finished == [0] and not registration.active
        # Two replayed CPUs were still queued, and a reconnect brings cpu3: none reaches it.
        daemon.stop()
        daemon.set_cpu3(True)
        daemon.start()
        wait_for(lambda: client.stats()["connects"] == 2 and client.connected, 20, "the reconnect")
        time.sleep(0.3)
        assert calls == [0]


def test_no_daemon_is_a_clear_error(hpplace, tmp_path):
    client = hpplace.Client(str(tmp_path / "absent.sock"))
    with pytest.raises(hpplace.ConnectError, match=r"hpplaced is not running \(no socket at .*absent.sock\)"):
        client.status()


def test_a_full_listen_queue_times_out_clearly(hpplace, tmp_path):
    """Nobody accepts and the backlog is full: the connect waits its timeout in the kernel, then fails."""
    import socket
    path = str(tmp_path / "full.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    fillers = []
    while len(fillers) < 16:
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        filler.setblocking(False)
        try:
            filler.connect(path)
        except BlockingIOError:
            filler.close()
            break
        fillers.append(filler)
    assert len(fillers) < 16, "the listen queue never filled"
    client = hpplace.Client(path, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(hpplace.ConnectError, match=r"hpplaced at .*full.sock did not accept within 0.3 s"):
        client.status()
    took = time.monotonic() - started
    assert 0.25 <= took < 5, f"gave up after {took:.2f} s"
    for sock in [listener, *fillers]:
        sock.close()


# --- a fake daemon: events, and input the real one never sends -------------------------------------


def event(seq, kind, **fields):
    return {"event": {"seq": seq, "type": kind, "source": "kernel", "time_ns": 1000 + seq, **fields}}


def test_events_become_changes(hpplace, fake):
    def script(conn, requests):
        answer_subscribe_and_status(requests, conn)
        for push in (event(9, "cpu_online", cpu=1, node=0, online_cpus=2),  # before the picture: dropped
                     event(11, "cpu_add_start", cpu=2, node=1, online_cpus=2),
                     event(12, "cpu_online", cpu=2, node=1, online_cpus=3),
                     event(13, "mem_online", node=1, start=0x40000000, size=128 * MiB, online_cpus=3),
                     event(14, "cpu_going_offline", cpu=0, node=0, online_cpus=3),
                     event(15, "cpu_offline", cpu=0, node=0, online_cpus=2)):
            send(conn, push)
        for _ in requests:
            pass
    server = fake(script)
    with hpplace.Client(server.path) as client:
        cpus, memory = Recorder(), Recorder()
        client.on_memory_change(memory)
        client.on_processor_change(cpus, add_existing=True)
        S = hpplace.ProcessorState
        got = [(c.state, c.cpu, c.node, c.active_count, c.active_cpus, c.seq, c.synthesized, c.time_ns)
               for c in cpus.wait(6)]
        assert got == [(S.ADD_COMPLETE, 0, 0, 2, (0, 1), 0, True, 0), (S.ADD_COMPLETE, 1, 0, 2, (0, 1), 0, True, 0),
                       (S.ADD_START, 2, 1, 2, (0, 1), 11, False, 1011),
                       (S.ADD_COMPLETE, 2, 1, 3, (0, 1, 2), 12, False, 1012),
                       (S.GOING_OFFLINE, 0, 0, 3, (0, 1, 2), 14, False, 1014),
                       (S.OFFLINE, 0, 0, 2, (1, 2), 15, False, 1015)]
        (m,) = memory.wait(1)
        assert (m.state, m.node, m.start, m.size, m.seq) == (hpplace.MemoryState.ONLINE, 1, 0x40000000, 128 * MiB, 13)
        assert client.active_processors() == [1, 2]


def test_callbacks_do_not_stall_the_socket(hpplace, fake):
    def script(conn, requests):
        answer_subscribe_and_status(requests, conn)
        for seq in range(11, 61):
            send(conn, event(seq, "cpu_online", cpu=2, node=1, online_cpus=3))
        for _ in requests:
            pass
    release = threading.Event()
    seen = []
    server = fake(script)
    with hpplace.Client(server.path) as client:
        client.on_processor_change(lambda change: (release.wait(10), seen.append(change.seq)))
        # The first call blocks; the reading thread goes on taking the other 49.
        wait_for(lambda: client.stats()["events"] == 50, 10, "50 events read while a callback blocks")
        assert seen == []
        release.set()
        wait_for(lambda: len(seen) == 50, 10, "50 calls")
        assert seen == list(range(11, 61))


@pytest.mark.parametrize("answer, error, match", [
    (b"this is not json", "ProtocolError", "not JSON"),
    (b"[1,2]", "ProtocolError", "must be a JSON object"),
    (b'{"ok":true,"result":[1],"id":1}', "ProtocolError", "not a JSON object"),
    (b'{"ok":"yes","id":1}', "ProtocolError", '"ok" must be a boolean'),
    (b'{"ok":false,"error":"status: it broke","id":1}', "DaemonError", "hpplaced: status: it broke"),
    (b"x" * (4 * MiB + 1), "ProtocolError", "longer than 4194304 bytes"),
    (None, "ConnectError", "closed the connection"),
    (b"", "AnswerTimeout", 'no answer from hpplaced at .* to "status" within 0.5 s'),
])
def test_bad_answers_raise_never_hang(hpplace, fake, answer, error, match):
    def script(conn, requests):
        next(requests)
        if answer is None:
            return  # closes
        if answer:
            conn.sendall(answer + (b"" if len(answer) > MiB else b"\n"))
        for _ in requests:
            pass
    server = fake(script)
    started = time.monotonic()
    with pytest.raises(getattr(hpplace, error), match=match):
        hpplace.Client(server.path, timeout=0.5).status()
    assert time.monotonic() - started < 5


def test_bad_pushes_are_skipped_and_an_oversized_line_reconnects(hpplace, fake):
    def script(conn, requests):
        answer_subscribe_and_status(requests, conn)
        if server.connections == 1:
            send(conn, b"garbage")
            send(conn, {"event": {"seq": 11, "type": "cpu_exploded", "cpu": 2}})
            send(conn, {"event": {"seq": 12, "type": "cpu_online", "cpu": -1}})
            send(conn, event(13, "cpu_online", cpu=2, node=1, online_cpus=3))
            conn.sendall(b"{" * (4 * MiB + 1))
        for _ in requests:
            pass
    logged = []
    server = fake(script)
    with hpplace.Client(server.path, log=logged.append) as client:
        cpus = Recorder()
        client.on_processor_change(cpus)
        assert cpus.wait(1)[0].seq == 13
        wait_for(lambda: client.stats()["connects"] == 2 and client.connected, 10, "a new connection")
        assert client.stats()["bad_messages"] == 3
        assert any("not JSON" in line for line in logged), logged
        assert any('unknown type "cpu_exploded"' in line for line in logged), logged
        assert any("event.cpu: not a non-negative integer" in line for line in logged), logged
        assert any("longer than 4194304 bytes" in line for line in logged), logged
        # The second connection's picture has cpu2 offline (the fake's status): a synthesized offline.
        second = cpus.wait(2)[1]
        assert (second.state, second.cpu, second.seq, second.synthesized, second.active_cpus) == \
            (hpplace.ProcessorState.OFFLINE, 2, 0, True, (0, 1))


# --- python3 -m hpplace watch -----------------------------------------------------------------------


def watch(installed, *args, timeout=20):
    env = dict(os.environ, PYTHONPATH=str(installed))
    return subprocess.run([sys.executable, "-m", "hpplace", "watch", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


WATCH_PUSHES = [
    event(11, "cpu_add_start", cpu=2, node=1, online_cpus=2),
    event(12, "cpu_online", cpu=2, node=1, online_cpus=3),
    event(13, "mem_online", node=1, start=0x40000000, size=128 * MiB, online_cpus=3),
    {"event": {"seq": 4711, "type": "mem_block_added", "source": "udev", "time_ns": 5, "node": 1,
               "start": 0x48000000, "size": 128 * MiB}},
]


def watch_script(conn, requests):
    answer_subscribe_and_status(requests, conn)
    for push in WATCH_PUSHES:
        send(conn, push)
    for _ in requests:
        pass


def test_watch_prints_hpctl_watch_lines(hpplace, installed, fake):
    server = fake(watch_script)
    result = watch(installed, "--socket", server.path, "--count", "4")
    assert result.returncode == 0, result.stderr
    # hpctl watch's readable lines (core/event.cpp to_text): the active set after each event.
    assert result.stdout.splitlines() == [
        "#11 cpu_add_start [kernel] cpu 2 node 1 online 2 (0-1)",
        "#12 cpu_online [kernel] cpu 2 node 1 online 3 (0-2)",
        "#13 mem_online [kernel] node 1 start 0x40000000 size 128 MiB online 3 (0-2)",
        "#4711 mem_block_added [udev] node 1 start 0x48000000 size 128 MiB"]


def test_watch_json_prints_hpctl_watch_json_lines(hpplace, installed, fake):
    server = fake(watch_script)
    result = watch(installed, "--json", "--socket", server.path, "--count", "2")
    assert result.returncode == 0, result.stderr
    # nlohmann's dump(): compact, keys in order.
    assert result.stdout.splitlines() == [
        '{"cpu":2,"node":1,"online_cpus":2,"seq":11,"source":"kernel","time_ns":1011,"type":"cpu_add_start"}',
        '{"cpu":2,"node":1,"online_cpus":3,"seq":12,"source":"kernel","time_ns":1012,"type":"cpu_online"}']


def test_watch_without_daemon_fails_with_the_reason(installed, tmp_path):
    result = watch(installed, "--socket", str(tmp_path / "absent.sock"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == f"hpplace watch: hpplaced is not running (no socket at {tmp_path}/absent.sock)"


def test_watch_real_daemon_until_it_stops(installed, daemon):
    process = subprocess.Popen([sys.executable, "-m", "hpplace", "watch", "--socket", daemon.socket],
                               env=dict(os.environ, PYTHONPATH=str(installed)), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert select.select([process.stderr], [], [], 20)[0], "watch said nothing within 20 s"
    assert process.stderr.readline() == f"hpplace watch: subscribed to hpplaced at {daemon.socket}\n"
    daemon.stop()
    out, err = process.communicate(timeout=20)
    assert process.returncode == 1 and out == ""
    assert err == f"hpplace watch: hpplaced closed the connection at {daemon.socket}\n"


def test_watch_follow_goes_on_across_a_restart(installed, fake):
    def script(conn, requests):
        answer_subscribe_and_status(requests, conn)
        if server.connections >= 2:
            send(conn, event(21, "cpu_online", cpu=2, node=1, online_cpus=3))
            for _ in requests:
                pass
    server = fake(script)  # the first connection ends right after its status answer
    result = watch(installed, "--follow", "--count", "1", "--socket", server.path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["#21 cpu_online [kernel] cpu 2 node 1 online 3 (0-2)"]
    assert "hpplaced closed the connection" in result.stderr and "retrying (--follow)" in result.stderr
    assert server.connections == 2
