#!/usr/bin/env python3
"""`make demo`: the VM demo (a vCPU and a DIMM arriving, seen by hpplaced and the client library).

Not written yet: it lands with the client library and will reuse tests/vm/vmlib.py.
"""
import sys

print("demo.py: the demo lands with the client library; meanwhile `make vm-test` runs the VM scenarios",
      file=sys.stderr)
sys.exit(1)
