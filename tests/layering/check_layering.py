#!/usr/bin/env python3
"""Checks that the build enforces which folder of daemon/src may include which.

    check_layering.py BUILD_DIR

For every folder's library, takes the compile command of one of its sources
(compile_commands.json) and preprocesses, with exactly those flags, one
#include of a header of every other folder: the folders the library may use
(daemon/CMakeLists.txt, hpplace_folder USES, transitively) must be found, every
other one must fail with "No such file". Exit status 1 on any difference,
naming the folder pair.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "daemon" / "src"


def folders() -> list[str]:
    return sorted(p.name for p in SRC.iterdir() if (p / "CMakeLists.txt").is_file())


def a_header(folder: str) -> str:
    headers = sorted((SRC / folder).glob("*.hpp"))
    if not headers:
        raise SystemExit(f"check_layering: daemon/src/{folder} has no header to include")
    return f"{folder}/{headers[0].name}"


def main() -> int:
    build = Path(sys.argv[1]).resolve()
    scopes = build / "include-scopes"
    commands = json.loads((build / "compile_commands.json").read_text())
    failures = []
    checked = 0
    for folder in folders():
        allowed = {p.name for p in (scopes / folder).iterdir()}
        entry = next((c for c in commands if Path(c["file"]).resolve().parent == SRC / folder), None)
        if entry is None:
            failures.append(f"{folder}: no compile command for any of its sources")
            continue
        argv = shlex.split(entry["command"]) if "command" in entry else entry["arguments"]
        # Drop the ccache launcher, the output and the source; keep every flag.
        argv = argv[1:] if Path(argv[0]).name == "ccache" else argv
        flags, skip = [], False
        for arg in argv[1:]:
            if skip:
                skip = False
            elif arg in ("-o", "-MF", "-MT", "-MQ"):
                skip = True
            elif arg in ("-c", "-MD", "-MMD") or arg == entry["file"] or arg.endswith(".cpp"):
                pass
            else:
                flags.append(arg)
        for other in folders():
            if other == folder:
                continue
            header = a_header(other)
            with tempfile.NamedTemporaryFile("w", suffix=".cpp", dir=build) as probe:
                probe.write(f'#include "{header}"\n')
                probe.flush()
                run = subprocess.run([argv[0], *flags, "-E", "-o", "/dev/null", probe.name],
                                     cwd=entry["directory"], capture_output=True, text=True)
            checked += 1
            found = run.returncode == 0
            missing = "No such file" in run.stderr or "file not found" in run.stderr
            if other in allowed and not found:
                failures.append(f"{folder} may use {other} but cannot include {header}:\n{run.stderr[:600]}")
            elif other not in allowed and (found or not missing):
                why = "compiles" if found else f"fails otherwise:\n{run.stderr[:600]}"
                failures.append(f"{folder} must not use {other}, yet #include \"{header}\" {why}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{checked} folder pairs checked, {len(failures)} wrong")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
