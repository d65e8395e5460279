"""``python3 -m hpplace watch``: the daemon's events, one line each, as ``hpctl watch`` prints them."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any, List, Optional, Set

from . import _protocol as protocol
from ._protocol import DEFAULT_SOCKET_PATH, Event, HpplaceError

USAGE = "python3 -m hpplace watch [--json] [--count N] [--socket PATH] [--follow]"


def event_json(event: Event) -> str:
    """The event as ``hpctl watch --json`` prints it: the contract's fields, compact, keys sorted."""
    fields = {"seq": event.seq, "type": event.type, "source": event.source, "time_ns": event.time_ns}
    for key in ("cpu", "node", "start", "size", "online_cpus"):
        value = getattr(event, key)
        if value is not None:
            fields[key] = value
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def event_line(event: Event, active: Optional[Set[int]] = None) -> str:
    """The readable line of ``hpctl watch``: ``#SEQ TYPE [SOURCE]``, then ``cpu N``, ``node N``,
    ``start 0xADDR``, ``size N MiB``, ``online N (CPULIST)`` as they apply. The CPU list is the
    event's ``online_mask``, else ``active`` when it has ``online_cpus`` CPUs, else left out."""
    out = f"#{event.seq} {event.type} [{event.source}]"
    if event.cpu is not None:
        out += f" cpu {event.cpu}"
    if event.node is not None:
        out += f" node {event.node}"
    if event.start is not None:
        out += f" start 0x{event.start:x}"
    if event.size is not None:
        out += f" size {event.size >> 20} MiB"
    if event.online_cpus is not None:
        out += f" online {event.online_cpus}"
        cpus = event.online_mask if event.online_mask is not None else active
        if cpus is not None and len(cpus) == event.online_cpus:
            out += f" ({protocol.format_cpu_list(cpus)})"
    return out


def _note(line: str) -> None:
    print(f"hpplace watch: {line}", file=sys.stderr, flush=True)


class _Watch:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.printed = 0
        # The daemon's active CPUs, from its status answer and the events since: hpctl's line has the
        # kernel's set, which the daemon's pushes do not carry.
        self.active: Optional[Set[int]] = None

    def handle(self, line: bytes) -> bool:
        """One line; False when --count is reached."""
        message = protocol.parse_message(line)
        if message.kind == "result" and message.id == "status":
            self.active = set(protocol.snapshot_from_status(message.payload).online)
            _note(f"subscribed to hpplaced at {self.args.socket}")  # stdout carries events only
        elif message.kind == "error":
            raise protocol.DaemonError(f"hpplaced: {message.error}")
        elif message.kind == "event":
            event = protocol.event_from_json(message.payload)
            if self.active is not None and event.cpu is not None:
                if event.type == "cpu_online":
                    self.active.add(event.cpu)
                elif event.type == "cpu_offline":
                    self.active.discard(event.cpu)
            text = event_json(event) if self.args.json else event_line(event, self.active)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            self.printed += 1
            if self.args.count and self.printed >= self.args.count:
                return False
        return True

    def session(self) -> bool:
        """One connection; False when --count is reached."""
        with protocol.RequestConnection(self.args.socket, 10.0) as connection:
            connection.send(protocol.render_request("subscribe", "subscribe", streams=["events"]) +
                            protocol.render_request("status", "status"))
            self.active = None
            while True:
                line = connection.read_line(time.monotonic() + 3600)
                if line is not None and not self.handle(line):
                    return False

    def run(self) -> int:
        backoff = 0.1
        while True:
            try:
                if not self.session():
                    return 0
            except HpplaceError as error:
                if not self.args.follow:
                    _note(str(error))
                    return 1
                _note(f"{error}; retrying (--follow)")
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f'needs a positive number, got "{text}"')
    return int(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m hpplace", description="hpplaced's events, status and plan")
    commands = parser.add_subparsers(dest="command", required=True)
    watch = commands.add_parser("watch", prog="python3 -m hpplace watch", usage=USAGE,
                                help="the daemon's events as hpctl watch prints them")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument("--count", type=_positive, help="stop after N events")
    watch.add_argument("--socket", default=DEFAULT_SOCKET_PATH, help=f"control socket (default {DEFAULT_SOCKET_PATH})")
    watch.add_argument("--follow", action="store_true", help="wait for the daemon and go on across its restarts")
    for name in ("status", "plan"):
        command = commands.add_parser(name, prog=f"python3 -m hpplace {name}",
                                      help=f"the daemon's {name} document (JSON)")
        command.add_argument("--socket", default=DEFAULT_SOCKET_PATH)
    args = parser.parse_args(argv)
    if args.command == "watch":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            return _Watch(args).run()
        except KeyboardInterrupt:
            return 0
        except BrokenPipeError:
            return 1
    from ._client import Client
    try:
        document: Any = getattr(Client(args.socket), args.command)()
    except HpplaceError as error:
        print(f"hpplace {args.command}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(document, sort_keys=True, separators=(",", ":")))
    return 0
