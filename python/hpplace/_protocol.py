"""The control socket protocol of hpplaced (docs/contract.md, "Control socket"): JSON lines over an
AF_UNIX stream socket, read with the limits the C++ client uses, and the daemon's documents read into
typed values. Nothing here starts a thread."""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

#: Where hpplaced listens unless told otherwise (hpplaced --socket, hpctl --socket).
DEFAULT_SOCKET_PATH = "/run/hpplaced.sock"
#: The longest request line the daemon takes.
MAX_REQUEST_BYTES = 64 * 1024
#: The longest line the daemon sends (a large plan); a longer one is bad input.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: The control protocol version this package speaks (the ``ping`` answer).
PROTOCOL_VERSION = 1

_MAX_ID = 1 << 20  # CPU and node numbers, as the daemon bounds them


class HpplaceError(Exception):
    """Base class of every error this package raises; the message is one line."""


class ConnectError(HpplaceError):
    """The daemon is not there, or the socket cannot be reached."""


class ProtocolError(HpplaceError):
    """The daemon sent something that is not the protocol: a line that is not JSON, too long, or a
    document with missing or mistyped fields (the message names the field)."""


class DaemonError(HpplaceError):
    """The daemon answered a request with an error (``{"ok": false, "error": ...}``)."""


class AnswerTimeout(HpplaceError):
    """The daemon did not answer within the timeout."""


def connect_error(path: str, error: OSError) -> ConnectError:
    """The reason hpctl gives for a failed connect."""
    code = error.errno
    if code == errno.ENOENT:
        return ConnectError(f"hpplaced is not running (no socket at {path})")
    if code == errno.ECONNREFUSED:
        return ConnectError(f"hpplaced is not running (nobody listens on {path})")
    if code in (errno.EACCES, errno.EPERM):
        return ConnectError(f"permission denied on {path} (run as root or as a member of the socket's group)")
    if code == errno.ENOTSOCK:
        return ConnectError(f"{path} is not a socket")
    return ConnectError(f"cannot connect to hpplaced at {path}: {os.strerror(code) if code else error}")


def connect(path: str, timeout: float) -> socket.socket:
    """A connected, non-blocking socket, as hpctl connects: a blocking connect bounded by SO_SNDTIMEO, so
    that with the listen backlog full it waits in the kernel with every other connector (a timeout raises
    ConnectError, as does anything else)."""
    if not path or len(os.fsencode(path)) > 107:
        raise ConnectError(f'socket path "{path}" is empty or longer than 107 bytes')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    # Python retries an interrupted connect itself (PEP 475); a zero timeout would mean no limit.
    left = max(timeout, 0.001)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("@ll", int(left), int(left % 1 * 1_000_000)))
    try:
        sock.connect(path)
    except BlockingIOError:
        sock.close()
        raise ConnectError(f"hpplaced at {path} did not accept within {timeout:g} s") from None
    except OSError as error:
        sock.close()
        raise connect_error(path, error) from None
    sock.setblocking(False)
    return sock


class LineReader:
    """Cuts the bytes of one connection into lines; a line (finished or not) longer than
    ``max_line`` is a ProtocolError, after which the connection must be dropped."""

    def __init__(self, max_line: int = MAX_MESSAGE_BYTES) -> None:
        self._max_line = max_line
        self._partial = bytearray()

    def feed(self, data: bytes) -> List[bytes]:
        lines = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            chunk = data[start:] if newline < 0 else data[start:newline]
            if len(self._partial) + len(chunk) > self._max_line:
                self._partial.clear()
                raise ProtocolError(f"line from hpplaced longer than {self._max_line} bytes")
            self._partial += chunk
            if newline < 0:
                return lines
            line = bytes(self._partial)
            self._partial.clear()
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.strip():
                lines.append(line)  # blank lines are keep-alives
            start = newline + 1


@dataclass
class Message:
    """One line from the daemon: ``kind`` is "result", "error", "event" or "plan"."""

    kind: str
    payload: Any = None
    id: Any = None
    error: str = ""


def _excerpt(line: bytes) -> str:
    text = line[:80].decode("utf-8", "replace")
    return text + ("..." if len(line) > 80 else "")


def parse_message(line: bytes) -> Message:
    """A response or a push; anything else is a ProtocolError."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError(f'message from hpplaced is not JSON: "{_excerpt(line)}"') from None
    if not isinstance(value, dict):
        raise ProtocolError(f"message from hpplaced must be a JSON object, got {type(value).__name__}")
    message_id = value.get("id")
    if "ok" in value:
        ok = value["ok"]
        if not isinstance(ok, bool):
            raise ProtocolError('"ok" must be a boolean')
        if ok:
            if "result" not in value:
                raise ProtocolError('response has "ok": true and no "result"')
            return Message("result", value["result"], message_id)
        error = value.get("error")
        if not isinstance(error, str):
            raise ProtocolError('response has "ok": false and no string "error"')
        return Message("error", None, message_id, error)
    if "event" in value:
        return Message("event", value["event"])
    if "plan" in value:
        return Message("plan", value["plan"])
    raise ProtocolError(f'message from hpplaced is neither a response nor a push: "{_excerpt(line)}"')


def render_request(op: str, request_id: Any = None, **fields: Any) -> bytes:
    request: Dict[str, Any] = {"op": op}
    if request_id is not None:
        request["id"] = request_id
    request.update(fields)
    return json.dumps(request, separators=(",", ":")).encode() + b"\n"


# --- documents ------------------------------------------------------------------------------------


def _bad(where: str, what: str) -> ProtocolError:
    return ProtocolError(f"{where}: {what}")


def _field(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise _bad(where, "not an object")
    if key not in obj:
        raise _bad(where, f'missing "{key}"')
    return obj[key]


def _unsigned(value: Any, where: str, maximum: int = (1 << 64) - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(where, "not a non-negative integer")
    if value > maximum:
        raise _bad(where, "out of range")
    return value


def _optional_unsigned(obj: Dict[str, Any], key: str, where: str, maximum: int = (1 << 64) - 1) -> Optional[int]:
    value = obj.get(key)
    return None if value is None else _unsigned(value, f"{where}.{key}", maximum)


def parse_cpu_list(text: str) -> List[int]:
    """The kernel's cpulist syntax ("0-3,8") as a sorted list; "" is empty. ValueError when malformed."""
    cpus = set()
    for part in text.strip().split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f'bad cpulist "{text}"')
        first, last = int(low), int(high) if dash else int(low)
        if first > last or last > _MAX_ID:
            raise ValueError(f'bad cpulist "{text}"')
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def format_cpu_list(cpus: Iterable[int]) -> str:
    """The kernel's cpulist syntax by runs ("0-3,8"), as the C++ side prints it."""
    runs: List[Tuple[int, int]] = []
    for cpu in sorted(set(cpus)):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], cpu)
        else:
            runs.append((cpu, cpu))
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _cpus(value: Any, where: str) -> List[int]:
    if isinstance(value, str):
        try:
            return parse_cpu_list(value)
        except ValueError as error:
            raise _bad(where, str(error)) from None
    if not isinstance(value, list):
        raise _bad(where, "not a CPU list")
    return sorted({_unsigned(cpu, where, _MAX_ID) for cpu in value})


EVENT_TYPES = (
    "cpu_arrived", "cpu_add_start", "cpu_online", "cpu_add_failed", "cpu_going_offline", "cpu_offline",
    "cpu_removed", "mem_going_online", "mem_online", "mem_online_canceled", "mem_going_offline", "mem_offline",
    "mem_offline_canceled", "node_mem_added", "node_mem_removed", "mem_block_added", "mem_block_removed",
)


@dataclass(frozen=True)
class Event:
    """A hotplug event as the daemon pushes it (the object of ``hpctl watch --json``)."""

    type: str
    seq: int = 0
    source: str = "kernel"
    time_ns: int = 0
    cpu: Optional[int] = None
    node: Optional[int] = None
    start: Optional[int] = None
    size: Optional[int] = None
    online_cpus: Optional[int] = None
    online_mask: Optional[Tuple[int, ...]] = None


def event_from_json(value: Any) -> Event:
    """The daemon's event object; unknown fields are ignored, missing or mistyped ones raise
    ProtocolError naming them."""
    kind = _field(value, "type", "event")
    if not isinstance(kind, str):
        raise _bad("event.type", "not a string")
    if kind not in EVENT_TYPES:
        raise _bad("event.type", f'unknown type "{kind}"')
    source = value.get("source")
    mask = value.get("online_mask")
    return Event(
        type=kind,
        seq=_optional_unsigned(value, "seq", "event") or 0,
        source=source if source in ("kernel", "udev", "sysfs") else "kernel",
        time_ns=_optional_unsigned(value, "time_ns", "event") or 0,
        cpu=_optional_unsigned(value, "cpu", "event", _MAX_ID),
        node=_optional_unsigned(value, "node", "event", _MAX_ID),
        start=_optional_unsigned(value, "start", "event"),
        size=_optional_unsigned(value, "size", "event"),
        online_cpus=_optional_unsigned(value, "online_cpus", "event", _MAX_ID),
        online_mask=None if mask is None else tuple(_cpus(mask, "event.online_mask")),
    )


@dataclass
class Snapshot:
    """The CPU and memory picture of a status document."""

    online: List[int] = field(default_factory=list)
    node_of_cpu: Dict[int, int] = field(default_factory=dict)  # present CPUs of the nodes
    node_memory: Dict[int, int] = field(default_factory=dict)  # bytes, nodes with memory
    last_seq: int = 0


def snapshot_from_status(status: Any) -> Snapshot:
    """The picture of a status document (``hpctl status --json``); ProtocolError naming a bad field."""
    snapshot = Snapshot()
    snapshot.online = _cpus(_field(_field(status, "cpus", "status"), "online", "status.cpus"), "status.cpus.online")
    nodes = _field(status, "nodes", "status")
    if not isinstance(nodes, list):
        raise _bad("status.nodes", "not an array")
    for i, node in enumerate(nodes):
        where = f"status.nodes[{i}]"
        node_id = _unsigned(_field(node, "id", where), f"{where}.id", _MAX_ID)
        for cpu in _cpus(_field(node, "cpus", where), f"{where}.cpus"):
            snapshot.node_of_cpu[cpu] = node_id
        memory = _unsigned(_field(node, "memory_bytes", where), f"{where}.memory_bytes")
        if memory:
            snapshot.node_memory[node_id] = memory
    events = status.get("events")
    if isinstance(events, dict) and events.get("last_seq") is not None:
        snapshot.last_seq = _unsigned(events["last_seq"], "status.events.last_seq")
    return snapshot


# --- one request on its own connection ------------------------------------------------------------


class RequestConnection:
    """A connection for requests and answers, as hpctl uses one: every wait is bounded by the timeout,
    pushes are skipped, an error answer raises DaemonError."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._sock = connect(path, timeout)
        self._reader = LineReader()
        self._lines: List[bytes] = []
        self._next_id = 1

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "RequestConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        deadline = time.monotonic() + self.timeout
        view = memoryview(data)
        while view:
            try:
                sent = self._sock.send(view)
                view = view[sent:]
                continue
            except BlockingIOError:
                pass
            except OSError as error:
                self._raise_refusal()
                raise ConnectError(f"lost the connection to hpplaced at {self.path}: {error.strerror or error}") \
                    from None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self._sock], [], left)[1]:
                raise AnswerTimeout(f"hpplaced at {self.path} did not take the request within {self.timeout:g} s")

    def _raise_refusal(self) -> None:
        # A refused connection (too many clients, a timeout) gets one error line before it is closed;
        # that line says more than EPIPE.
        try:
            line = self.read_line(time.monotonic() + 0.1)
            if line is not None:
                message = parse_message(line)
                if message.kind == "error":
                    raise DaemonError(f"hpplaced: {message.error}")
        except (ProtocolError, ConnectError, AnswerTimeout):
            pass

    def read_line(self, deadline: float) -> Optional[bytes]:
        """The next line, or None at the deadline."""
        while not self._lines:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._sock], [], [], left)[0]:
                return None
            try:
                data = self._sock.recv(1 << 16)
            except BlockingIOError:
                continue
            except OSError as error:
                raise ConnectError(f"lost the connection to hpplaced at {self.path}: {error.strerror or error}") \
                    from None
            if not data:
                raise ConnectError(f"hpplaced closed the connection at {self.path}")
            self._lines = self._reader.feed(data)
        return self._lines.pop(0)

    def request(self, op: str, **fields: Any) -> Any:
        """The result of one request."""
        request_id = self._next_id
        self._next_id += 1
        self.send(render_request(op, request_id, **fields))
        deadline = time.monotonic() + self.timeout
        while True:
            line = self.read_line(deadline)
            if line is None:
                raise AnswerTimeout(f'no answer from hpplaced at {self.path} to "{op}" within {self.timeout:g} s')
            message = parse_message(line)
            if message.kind in ("event", "plan"):
                continue  # a push
            if message.id is not None and message.id != request_id:
                continue  # the answer to an earlier request that timed out
            if message.kind == "error":
                raise DaemonError(f"hpplaced: {message.error}")
            return message.payload
