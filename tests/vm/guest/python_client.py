"""The Python package's callbacks in the guest (VM scenario client_python_cpu_hotadd).

Registers on_connection, then on_processor_change and on_memory_change with add_existing=True, on the
default socket and prints one line per call, flushed: "connected" / "disconnected",
"STATE cpu N node N active COUNT CPULIST seq SEQ synthesized|event THREAD" or
"memory STATE node N size BYTES seq SEQ synthesized|event THREAD". Runs until SIGTERM."""

import signal
import threading

import hpplace


def main() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with hpplace.Client() as client:
        client.on_connection(lambda up: print("connected" if up else "disconnected", flush=True))

        def on_processor(change: hpplace.ProcessorChange) -> None:
            cpus = ",".join(map(str, change.active_cpus)) or "-"
            kind = "synthesized" if change.synthesized else "event"
            print(f"{change.state.value} cpu {change.cpu} node {change.node} active {change.active_count} {cpus} "
                  f"seq {change.seq} {kind} {threading.current_thread().name}", flush=True)

        def on_memory(change: hpplace.MemoryChange) -> None:
            kind = "synthesized" if change.synthesized else "event"
            print(f"memory {change.state.value} node {change.node} size {change.size} seq {change.seq} {kind} "
                  f"{threading.current_thread().name}", flush=True)

        client.on_processor_change(on_processor, add_existing=True)
        client.on_memory_change(on_memory, add_existing=True)
        while not stop.wait(0.5):
            pass


main()
