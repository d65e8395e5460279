#!/usr/bin/env python3
"""libhpplace.so exports exactly what its version script lists, and the script lists exactly the
functions hpplace.h declares:

- every HPP_EXPORT function of hpplace.h is a name of node HPPLACE_1 and the reverse;
- `nm -D --defined-only` shows each of those names, at version HPPLACE_1 (default, @@), and no other
  C name;
- every other exported symbol is C++ of namespace hpplace (matching the C++ node's patterns) at the
  C++ node's version.

    check_symbols.py LIBRARY VERSION_SCRIPT HEADER
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys

C_NODE = "HPPLACE_1"


def parse_script(text: str) -> dict[str, dict[str, list[str]]]:
    """{node: {"c": [names], "cxx": [patterns]}} of the global parts of a version script."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    nodes: dict[str, dict[str, list[str]]] = {}
    pos = 0
    while match := re.compile(r"([A-Za-z_][\w.]*)\s*\{").search(text, pos):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        body = text[match.end():end - 1]
        pos = end
        cxx = []
        for block in re.findall(r'extern\s+"C\+\+"\s*\{(.*?)\}', body, flags=re.S):
            cxx += [p.strip().strip('"') for p in block.split(";") if p.strip()]
        body = re.sub(r'extern\s+"C\+\+"\s*\{.*?\}\s*;?', "", body, flags=re.S)
        globals_part = body.split("local:")[0].replace("global:", "")
        nodes[match.group(1)] = {"c": [n.strip() for n in globals_part.split(";") if n.strip()], "cxx": cxx}
    return nodes


def exported(library: str) -> list[tuple[str, str, str]]:
    """(type, name, version) of each defined dynamic symbol; names demangled when demangle is set."""
    out = []
    for demangle in (False, True):
        args = ["nm", "-D", "--defined-only", "--with-symbol-versions"] + (["-C"] if demangle else []) + [library]
        lines = subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()
        out.append(lines)
    symbols = []
    for raw, demangled in zip(*out):
        _, kind, name = raw.split(" ", 2)
        pretty = demangled.split(" ", 2)[2]
        symbols.append((kind, name, pretty))
    return symbols


def split_version(name: str) -> tuple[str, str, bool]:
    """"f@@V" -> (f, V, default); "f" -> (f, "", False)."""
    if "@@" in name:
        base, version = name.split("@@", 1)
        return base, version, True
    if "@" in name:
        base, version = name.split("@", 1)
        return base, version, False
    return name, "", False


def main() -> int:
    library, script_path, header_path = sys.argv[1:4]
    nodes = parse_script(open(script_path, encoding="utf-8").read())
    header = open(header_path, encoding="utf-8").read()
    declared = set(re.findall(r"HPP_EXPORT\s[^;]*?\b(hpp_\w+)\s*\(", header))
    problems = []
    if C_NODE not in nodes:
        problems.append(f"{script_path}: no node {C_NODE}")
    listed = set(nodes.get(C_NODE, {}).get("c", []))
    cxx_nodes = {name: node["cxx"] for name, node in nodes.items() if node["cxx"]}
    if len(cxx_nodes) != 1:
        problems.append(f"{script_path}: expected one node with the C++ patterns, found {sorted(cxx_nodes)}")
    for name in sorted(declared - listed):
        problems.append(f"{header_path} declares {name}, which {script_path} does not list (it would be hidden)")
    for name in sorted(listed - declared):
        problems.append(f"{script_path} lists {name}, which {header_path} does not declare")

    seen_c = set()
    seen_cxx = 0
    for kind, raw, pretty in exported(library):
        base, version, default = split_version(raw)
        if kind == "A" and base in nodes:
            continue  # the version nodes themselves
        if not base.startswith("_Z"):
            if base not in listed:
                problems.append(f"exported C symbol {base} is not in {C_NODE} of {script_path}")
            elif version != C_NODE or not default:
                problems.append(f"{base} has version {version or 'none'}, expected @@{C_NODE}")
            seen_c.add(base)
            continue
        pretty_base = split_version(pretty)[0]
        matches = [node for node, patterns in cxx_nodes.items()
                   if any(fnmatch.fnmatchcase(pretty_base, p) for p in patterns)]
        if not matches:
            problems.append(f"exported C++ symbol {pretty_base} matches no C++ pattern of {script_path}")
        elif version != matches[0]:
            problems.append(f"{pretty_base} has version {version or 'none'}, expected {matches[0]}")
        seen_cxx += 1
    for name in sorted(listed - seen_c):
        problems.append(f"{name} is in {C_NODE} but {library} does not export it")
    if seen_cxx == 0:
        problems.append(f"{library} exports no C++ symbol at all")
    for problem in problems:
        print(f"check_symbols: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_symbols: {len(seen_c)} C functions at {C_NODE}, {seen_cxx} C++ symbols at "
              f"{', '.join(cxx_nodes)}; header, version script and library agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
