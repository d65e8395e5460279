"""hpplace: the Python client of hpplaced, the CPU and memory hot-plug daemon of hpnotify.

Windows-style arrival callbacks (KeRegisterProcessorChangeCallback with
KE_PROCESSOR_CHANGE_ADD_EXISTING, GUID_DEVICE_MEMORY arrival) and the daemon's status, plan and
metrics documents, over its control socket (docs/contract.md). Standard library only.

    import hpplace

    client = hpplace.Client()                      # /run/hpplaced.sock
    print(client.status()["cpus"]["online"])       # hpctl status --json, as a dict
    client.on_processor_change(lambda c: print(c.state.value, c.cpu, c.active_cpus), add_existing=True)

``python3 -m hpplace watch`` prints the daemon's events as ``hpctl watch`` does.
"""

from ._client import (Client, ConnectionCallback, MemoryCallback, MemoryChange, MemoryState, ProcessorCallback,
                      ProcessorChange, ProcessorState, Registration)
from ._protocol import (DEFAULT_SOCKET_PATH, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, AnswerTimeout, ConnectError,
                        DaemonError, Event, HpplaceError, ProtocolError)
from ._watch import event_line

__all__ = [
    "Client", "Registration", "ProcessorChange", "ProcessorState", "MemoryChange", "MemoryState",
    "ProcessorCallback", "MemoryCallback", "ConnectionCallback", "Event", "event_line",
    "HpplaceError", "ConnectError", "DaemonError", "ProtocolError", "AnswerTimeout",
    "DEFAULT_SOCKET_PATH", "MAX_MESSAGE_BYTES", "PROTOCOL_VERSION",
]
__version__ = "1.0.0"
