"""hpplace.Client: Windows-style processor and memory change callbacks from hpplaced, and its status,
plan and metrics documents. The Python counterpart of libhpplace's hpplace::Client."""

from __future__ import annotations

import collections
import dataclasses
import enum
import selectors
import socket
import sys
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple, Union

from . import _protocol as protocol
from ._protocol import DEFAULT_SOCKET_PATH, Event, HpplaceError, ProtocolError, Snapshot


class ProcessorState(enum.Enum):
    """Windows' KE_PROCESSOR_CHANGE_NOTIFY_STATE, plus the Linux hot-remove states."""

    ADD_START = "add_start"  #: KeProcessorAddStartNotify: bring-up begins (event cpu_add_start)
    ADD_COMPLETE = "add_complete"  #: KeProcessorAddCompleteNotify: the CPU runs tasks (cpu_online)
    ADD_FAILED = "add_failed"  #: KeProcessorAddFailureNotify (cpu_add_failed)
    GOING_OFFLINE = "going_offline"  #: the CPU is leaving (cpu_going_offline)
    OFFLINE = "offline"  #: the CPU is gone (cpu_offline)


class MemoryState(enum.Enum):
    """Memory notifier states; ONLINE is GUID_DEVICE_MEMORY arrival."""

    GOING_ONLINE = "going_online"
    ONLINE = "online"
    ONLINE_CANCELED = "online_canceled"
    GOING_OFFLINE = "going_offline"
    OFFLINE = "offline"
    OFFLINE_CANCELED = "offline_canceled"


_PROCESSOR_STATES = {
    "cpu_add_start": ProcessorState.ADD_START,
    "cpu_online": ProcessorState.ADD_COMPLETE,
    "cpu_add_failed": ProcessorState.ADD_FAILED,
    "cpu_going_offline": ProcessorState.GOING_OFFLINE,
    "cpu_offline": ProcessorState.OFFLINE,
}
_MEMORY_STATES = {
    "mem_going_online": MemoryState.GOING_ONLINE,
    "mem_online": MemoryState.ONLINE,
    "mem_online_canceled": MemoryState.ONLINE_CANCELED,
    "mem_going_offline": MemoryState.GOING_OFFLINE,
    "mem_offline": MemoryState.OFFLINE,
    "mem_offline_canceled": MemoryState.OFFLINE_CANCELED,
}


@dataclasses.dataclass(frozen=True)
class ProcessorChange:
    """What a processor callback gets."""

    state: ProcessorState
    cpu: int
    node: Optional[int]  #: NUMA node of the CPU, when known
    active_count: int  #: KeQueryActiveProcessorCount after the change
    active_cpus: Tuple[int, ...]  #: the active-CPU set after the change
    seq: int = 0  #: event sequence number; 0 when synthesized
    synthesized: bool = False  #: replayed existing state (add_existing) or found at a reconnect
    time_ns: int = 0  #: CLOCK_BOOTTIME of the event; 0 when synthesized


@dataclasses.dataclass(frozen=True)
class MemoryChange:
    """What a memory callback gets."""

    state: MemoryState
    start: int  #: physical start (0 when synthesized: unknown)
    size: int  #: bytes
    node: Optional[int]
    seq: int = 0
    synthesized: bool = False
    time_ns: int = 0


ProcessorCallback = Callable[[ProcessorChange], None]
MemoryCallback = Callable[[MemoryChange], None]
ConnectionCallback = Callable[[bool], None]
LogFunction = Callable[[str], None]
_Delivery = Union[ProcessorChange, MemoryChange, bool]

_PROCESSOR, _MEMORY, _CONNECTION = "processor", "memory", "connection"
#: How many malformed lines are logged per connection (all are counted).
_LOGGED_BAD_LINES = 5


def _log_to_stderr(line: str) -> None:
    print(f"hpplace: {line}", file=sys.stderr, flush=True)


class _State:
    """Turns the daemon's status answers and events into changes (libhpplace's ClientState)."""

    def __init__(self) -> None:
        self.snapshot: Optional[Snapshot] = None
        self.active: Set[int] = set()

    def _processor_change(self, state: ProcessorState, cpu: int, seq: int, synthesized: bool,
                          time_ns: int = 0) -> ProcessorChange:
        node = self.snapshot.node_of_cpu.get(cpu) if self.snapshot else None
        return ProcessorChange(state, cpu, node, len(self.active), tuple(sorted(self.active)), seq, synthesized,
                               time_ns)

    def on_event(self, event: Event) -> List[_Delivery]:
        snap = self.snapshot
        if snap and event.source == "kernel" and event.seq:
            if event.seq <= snap.last_seq:
                return []  # already part of the picture taken after it
            snap.last_seq = event.seq
        state = _PROCESSOR_STATES.get(event.type)
        if state is not None and event.cpu is not None:
            if event.node is not None and snap:
                snap.node_of_cpu[event.cpu] = event.node
            if event.online_mask is not None:
                self.active = set(event.online_mask)
            elif state is ProcessorState.ADD_COMPLETE:
                self.active.add(event.cpu)
            elif state is ProcessorState.OFFLINE:
                self.active.discard(event.cpu)
            if snap:
                snap.online = sorted(self.active)
            change = self._processor_change(state, event.cpu, event.seq, False, event.time_ns)
            if event.node is not None and change.node != event.node:
                change = _replace(change, node=event.node)
            if event.online_cpus is not None:
                change = _replace(change, active_count=event.online_cpus)
            return [change]
        memory_state = _MEMORY_STATES.get(event.type)
        if memory_state is None:
            return []
        size = event.size or 0
        if snap and event.node is not None:
            memory = snap.node_memory.get(event.node, 0)
            if memory_state is MemoryState.ONLINE:
                memory += size
            elif memory_state is MemoryState.OFFLINE:
                memory -= min(memory, size)
            if memory:
                snap.node_memory[event.node] = memory
            else:
                snap.node_memory.pop(event.node, None)
        return [MemoryChange(memory_state, event.start or 0, size, event.node, event.seq, False, event.time_ns)]

    def on_snapshot(self, snapshot: Snapshot) -> List[_Delivery]:
        """The changes since the previous picture (none for the first), as synthesized changes."""
        before = self.snapshot
        out: List[_Delivery] = []
        if before is not None:
            merged = dict(before.node_of_cpu)
            merged.update(snapshot.node_of_cpu)
            self.snapshot = Snapshot(before.online, merged, before.node_memory, before.last_seq)
            for cpu in sorted(set(before.online) - set(snapshot.online)):
                self.active.discard(cpu)
                out.append(self._processor_change(ProcessorState.OFFLINE, cpu, 0, True))
            for cpu in sorted(set(snapshot.online) - set(before.online)):
                self.active.add(cpu)
                out.append(self._processor_change(ProcessorState.ADD_COMPLETE, cpu, 0, True))
            for node in sorted(set(before.node_memory) | set(snapshot.node_memory)):
                was, now = before.node_memory.get(node, 0), snapshot.node_memory.get(node, 0)
                if was != now:
                    out.append(MemoryChange(MemoryState.ONLINE if now > was else MemoryState.OFFLINE, 0,
                                            abs(now - was), node, 0, True))
        self.snapshot = snapshot
        self.active = set(snapshot.online)
        return out

    def existing_processors(self) -> List[ProcessorChange]:
        return [self._processor_change(ProcessorState.ADD_COMPLETE, cpu, 0, True) for cpu in sorted(self.active)]

    def existing_memory(self) -> List[MemoryChange]:
        if not self.snapshot:
            return []
        return [MemoryChange(MemoryState.ONLINE, 0, size, node, 0, True)
                for node, size in sorted(self.snapshot.node_memory.items())]


def _replace(change: ProcessorChange, **fields: Any) -> ProcessorChange:
    return dataclasses.replace(change, **fields)


class _Dispatcher:
    """The thread that runs the callbacks, one at a time, so that a slow callback never stalls the
    socket. remove() waits for a running call of the callback it removes (unless called from a
    callback: it cannot wait for itself)."""

    def __init__(self, log: LogFunction) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._callbacks: Dict[int, Tuple[str, Callable[[Any], None]]] = {}
        self._queue: Deque[Tuple[int, _Delivery]] = collections.deque()
        self._next_id = 1
        self._running = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="hpplace-callbacks", daemon=True)
        self._thread.start()

    def add(self, kind: str, callback: Callable[[Any], None]) -> int:
        with self._lock:
            callback_id = self._next_id
            self._next_id += 1
            self._callbacks[callback_id] = (kind, callback)
            return callback_id

    def remove(self, callback_id: int) -> None:
        with self._lock:
            self._callbacks.pop(callback_id, None)
            if threading.current_thread() is not self._thread:
                while self._running == callback_id:
                    self._changed.wait()

    def post(self, kind: str, delivery: _Delivery) -> None:
        """To every callback of that kind registered now."""
        with self._lock:
            for callback_id, (callback_kind, _) in self._callbacks.items():
                if callback_kind == kind:
                    self._queue.append((callback_id, delivery))
            self._changed.notify_all()

    def post_to(self, callback_id: int, delivery: _Delivery) -> None:
        with self._lock:
            self._queue.append((callback_id, delivery))
            self._changed.notify_all()

    def shutdown(self) -> None:
        with self._lock:
            self._stopped = True
            self._queue.clear()
            self._changed.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        with self._lock:
            while True:
                while not self._queue and not self._stopped:
                    self._changed.wait()
                if self._stopped:
                    return
                callback_id, delivery = self._queue.popleft()
                entry = self._callbacks.get(callback_id)
                if entry is None:
                    continue  # unregistered since it was posted
                self._running = callback_id
                self._lock.release()
                try:
                    entry[1](delivery)
                except Exception as error:  # a callback's bug must not stop the others
                    self._log(f"a callback raised {type(error).__name__}: {error}")
                finally:
                    self._lock.acquire()
                    self._running = 0
                    self._changed.notify_all()


class Registration:
    """Keeps a callback registered. unregister() (or leaving a ``with`` block) removes it; once it has
    returned the callback is not running and is never called again (called from the callback itself,
    it returns at once: that call finishes, no other follows)."""

    def __init__(self, dispatcher: _Dispatcher, callback_id: int) -> None:
        self._dispatcher: Optional[_Dispatcher] = dispatcher
        self._id = callback_id

    @property
    def active(self) -> bool:
        return self._dispatcher is not None

    def unregister(self) -> None:
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            dispatcher.remove(self._id)

    def __enter__(self) -> "Registration":
        return self

    def __exit__(self, *exc: object) -> None:
        self.unregister()


class Client:
    """A client of hpplaced's control socket.

    ``status()``, ``plan()`` and ``metrics()`` ask the daemon on a connection of their own each, as
    hpctl does, and raise HpplaceError (ConnectError, DaemonError, ProtocolError, AnswerTimeout) with a
    one-line reason. The first callback registered starts the client's background connection: it
    subscribes to the daemon's events and keeps reconnecting (with backoff, 0.1 s doubling to 5 s) when
    the daemon is not there or restarts; after each reconnect the CPUs and memory that came or went
    meanwhile are reported as synthesized changes. Callbacks run one at a time on a thread of the
    library ("hpplace-callbacks"), never on the thread that reads the socket. Bad input from the daemon
    is counted and logged (``log``, default: stderr); a line longer than 4 MiB drops the connection,
    which is made anew. ``close()`` (or leaving a ``with`` block) stops and joins both threads.

        with hpplace.Client() as client:
            client.on_processor_change(lambda change: print(change.state, change.cpu), add_existing=True)
    """

    def __init__(self, socket_path: Optional[str] = None, *, timeout: float = 10.0,
                 reconnect_min: float = 0.1, reconnect_max: float = 5.0,
                 log: Optional[LogFunction] = None) -> None:
        """``socket_path`` None: /run/hpplaced.sock, the default of hpplaced and hpctl. ``timeout``
        bounds each request (connect, send, answer), in seconds."""
        if socket_path is not None and not socket_path:
            raise ValueError("hpplace.Client: empty socket path")
        if timeout <= 0 or reconnect_min <= 0 or reconnect_max < reconnect_min:
            raise ValueError("hpplace.Client: timeout and reconnect_min must be positive, reconnect_max at least "
                             "reconnect_min")
        self.socket_path: str = socket_path or DEFAULT_SOCKET_PATH
        self.timeout = timeout
        self._reconnect = (reconnect_min, reconnect_max)
        self._log: LogFunction = log or _log_to_stderr
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = _State()
        self._connected = False
        self._stats = {"connects": 0, "events": 0, "bad_messages": 0, "dropped_connections": 0}
        self._replay_processors: Set[int] = set()
        self._replay_memory: Set[int] = set()
        self._dispatcher: Optional[_Dispatcher] = None
        self._reader: Optional[threading.Thread] = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False

    # --- requests -------------------------------------------------------------------------------

    def _request(self, op: str) -> Dict[str, Any]:
        with protocol.RequestConnection(self.socket_path, self.timeout) as connection:
            result = connection.request(op)
        if not isinstance(result, dict):
            raise ProtocolError(f'the answer to "{op}" is not a JSON object')
        return result

    def status(self) -> Dict[str, Any]:
        """The status document, as ``hpctl status --json`` prints it (docs/contract.md)."""
        return self._request("status")

    def plan(self) -> Dict[str, Any]:
        """The current plan document, as ``hpctl plan --json`` prints it."""
        return self._request("plan")

    def metrics(self) -> Dict[str, Any]:
        """The ``metrics`` answer, ``{"text": "<Prometheus text exposition>"}``; the text is what
        ``hpctl metrics`` prints."""
        result = self._request("metrics")
        if not isinstance(result.get("text"), str):
            raise ProtocolError('malformed metrics answer from hpplaced (no string "text")')
        return result

    def ping(self) -> int:
        """The daemon's control protocol version."""
        result = self._request("ping")
        return protocol._unsigned(result.get("version"), "ping.version")

    # --- callbacks ------------------------------------------------------------------------------

    def on_processor_change(self, callback: ProcessorCallback, add_existing: bool = False) -> Registration:
        """Calls ``callback(ProcessorChange)`` for each CPU that comes or goes. ``add_existing``
        (Windows' KE_PROCESSOR_CHANGE_ADD_EXISTING): first an ADD_COMPLETE for every active CPU, as soon
        as the daemon's picture is there."""
        return self._register(_PROCESSOR, callback, add_existing)

    def on_memory_change(self, callback: MemoryCallback, add_existing: bool = False) -> Registration:
        """Calls ``callback(MemoryChange)`` for each memory change. ``add_existing``: first one ONLINE
        per node with memory (its bytes)."""
        return self._register(_MEMORY, callback, add_existing)

    def on_connection(self, callback: ConnectionCallback) -> Registration:
        """Calls ``callback(True)`` once the daemon's picture is in after each connect, ``callback(False)``
        when the connection is lost."""
        return self._register(_CONNECTION, callback, False)

    def _register(self, kind: str, callback: Callable[[Any], None], add_existing: bool) -> Registration:
        if not callable(callback):
            raise TypeError("hpplace.Client: the callback is not callable")
        with self._lock:
            if self._closed:
                raise HpplaceError("hpplace.Client: closed")
            self._start_locked()
            assert self._dispatcher is not None
            callback_id = self._dispatcher.add(kind, callback)
            if add_existing:
                if self._state.snapshot is not None:
                    self._replay_locked({callback_id} if kind == _PROCESSOR else set(),
                                        {callback_id} if kind == _MEMORY else set())
                elif kind == _PROCESSOR:
                    self._replay_processors.add(callback_id)
                else:
                    self._replay_memory.add(callback_id)
            return Registration(self._dispatcher, callback_id)

    def _start_locked(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = _Dispatcher(self._log)
            self._reader = threading.Thread(target=self._run, name="hpplace-io", daemon=True)
            self._reader.start()

    def _replay_locked(self, processors: Set[int], memory: Set[int]) -> None:
        assert self._dispatcher is not None
        for callback_id in sorted(processors):
            for change in self._state.existing_processors():
                self._dispatcher.post_to(callback_id, change)
        for callback_id in sorted(memory):
            for memory_change in self._state.existing_memory():
                self._dispatcher.post_to(callback_id, memory_change)

    # --- what the background connection knows -----------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the background connection is up and has the daemon's picture."""
        with self._lock:
            return self._connected

    def wait_connected(self, timeout: float) -> bool:
        """Waits until connected (after a callback was registered); False at the timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: self._connected, timeout)

    def active_processors(self) -> List[int]:
        """The active CPUs as the daemon reported them (empty before the first connection)."""
        with self._lock:
            return sorted(self._state.active)

    def stats(self) -> Dict[str, int]:
        """Counters: connects, events, bad_messages, dropped_connections."""
        with self._lock:
            return dict(self._stats)

    def close(self) -> None:
        """Stops the background connection and the callback thread, and waits for both. Pending
        deliveries are dropped; a running callback finishes first (unless close() is called from it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake_w.send(b"x")
        if self._reader is not None and threading.current_thread() is not self._reader:
            self._reader.join()
        if self._dispatcher is not None:
            self._dispatcher.shutdown()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # --- the background connection (thread "hpplace-io") -------------------------------------------

    def _post_locked(self, deliveries: List[_Delivery]) -> None:
        assert self._dispatcher is not None
        for delivery in deliveries:
            self._dispatcher.post(_PROCESSOR if isinstance(delivery, ProcessorChange) else _MEMORY, delivery)

    def _sleep(self, seconds: float) -> bool:
        """Waits; False when close() was called."""
        selector = selectors.DefaultSelector()
        try:
            selector.register(self._wake_r, selectors.EVENT_READ)
            return not selector.select(seconds)
        finally:
            selector.close()

    def _run(self) -> None:
        backoff, logged_absent = self._reconnect[0], False
        while True:
            try:
                sock = protocol.connect(self.socket_path, self.timeout)
            except protocol.ConnectError as error:
                if not logged_absent:
                    self._log(f"{error}; retrying in the background")
                    logged_absent = True
                if not self._sleep(backoff):
                    return
                backoff = min(backoff * 2, self._reconnect[1])
                continue
            with self._lock:
                self._stats["connects"] += 1
            logged_absent, backoff = False, self._reconnect[0]
            try:
                stopped = self._session(sock)
            except ProtocolError as error:
                self._log(f"dropping the connection to hpplaced: {error}")
                stopped = False
            except OSError as error:
                self._log(f"connection to hpplaced lost ({error.strerror or error}); reconnecting")
                stopped = False
            finally:
                sock.close()
            self._set_disconnected()
            if stopped or not self._sleep(self._reconnect[0]):
                return

    def _session(self, sock: socket.socket) -> bool:
        """One connection; True when close() was called, False when the connection ended."""
        pending = protocol.render_request("subscribe", "subscribe", streams=["events"]) + \
            protocol.render_request("status", "status")
        reader = protocol.LineReader()
        bad_lines = 0
        selector = selectors.DefaultSelector()
        try:
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, "sock")
            while True:
                for key, mask in selector.select():
                    if key.data == "wake":
                        return True
                    if mask & selectors.EVENT_WRITE and pending:
                        try:
                            pending = pending[sock.send(pending):]
                        except BlockingIOError:
                            pass
                        if not pending:
                            selector.modify(sock, selectors.EVENT_READ, "sock")
                    if mask & selectors.EVENT_READ:
                        try:
                            data = sock.recv(1 << 16)
                        except BlockingIOError:
                            continue
                        if not data:
                            self._log("hpplaced closed the connection; reconnecting")
                            return False
                        for line in reader.feed(data):  # ProtocolError on an oversized line
                            bad_lines = self._handle_line(line, bad_lines)
        finally:
            selector.close()

    def _handle_line(self, line: bytes, bad_lines: int) -> int:
        with self._lock:
            try:
                message = protocol.parse_message(line)
                if message.kind == "event":
                    self._stats["events"] += 1
                    self._post_locked(self._state.on_event(protocol.event_from_json(message.payload)))
                elif message.kind == "result" and message.id == "status":
                    self._on_status_locked(protocol.snapshot_from_status(message.payload))
                elif message.kind == "error":
                    what = f'request "{message.id}"' if isinstance(message.id, str) else "a request"
                    self._log(f"{what} refused by hpplaced: {message.error}")
            except ProtocolError as error:
                self._stats["bad_messages"] += 1
                bad_lines += 1
                if bad_lines <= _LOGGED_BAD_LINES:
                    self._log(f"ignoring a message from hpplaced: {error}")
            self._changed.notify_all()
        return bad_lines

    def _on_status_locked(self, snapshot: Snapshot) -> None:
        assert self._dispatcher is not None
        first = self._state.snapshot is None
        self._post_locked(self._state.on_snapshot(snapshot))
        if first:
            self._replay_locked(self._replay_processors, self._replay_memory)
            self._replay_processors.clear()
            self._replay_memory.clear()
        if not self._connected:
            self._connected = True
            self._dispatcher.post(_CONNECTION, True)

    def _set_disconnected(self) -> None:
        with self._lock:
            if self._connected:
                self._connected = False
                self._stats["dropped_connections"] += 1
                assert self._dispatcher is not None
                self._dispatcher.post(_CONNECTION, False)
            self._changed.notify_all()
