#!/usr/bin/env python3
"""Checks that common/hpnotify.h says what common/hpnotify.yaml says.

    check_uapi.py [--self-test] [--cc CC] [HEADER SPEC]

The spec is the protocol's one definition; the header is written by hand in
the kernel's genetlink-c conventions. Derived from the spec, the header must
have exactly these names and values, and no others (the private __*_MAX
sentinels aside):
  - HPNOTIFY_FAMILY_NAME "<name>", HPNOTIFY_MCGRP_<GROUP> "<group>";
  - per enum definition, <NAME-PREFIX><ENTRY> from value-start, then <PREFIX>MAX;
  - per attribute set, HPNOTIFY_A_<SET>_<ATTR> from 1 (or its "value"), then
    HPNOTIFY_A_<SET>_MAX; a set whose attributes are an enum's entries with
    the same values is keyed by that enum and has no enum of its own;
  - per operation, HPNOTIFY_CMD_<OP> from 1, then HPNOTIFY_CMD_MAX;
  - every attribute's comment in the header starts with its type as the
    header writes it (__u32, __u64, bitmap, nest), pads excepted.
Values are the compiler's (a C program that includes the header prints them).
--self-test checks that the checker catches a renamed, renumbered, retyped
and an extra constant in copies of the header. Exit status 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HEADER_TYPES = {"u32": "__u32", "u64": "__u64", "binary": "bitmap", "nest": "nest"}


def c_name(*parts: str) -> str:
    return "_".join(p.strip("-").replace("-", "_").upper() for p in parts if p)


def expected(spec: dict) -> tuple[dict[str, int | str], dict[str, str]]:
    """C name -> value, and C name -> header type of every attribute."""
    family = spec["name"]
    values: dict[str, int | str] = {c_name(family, "family-name"): family}
    types: dict[str, str] = {}
    for group in spec.get("mcast-groups", {}).get("list", []):
        values[c_name(family, "mcgrp", group["name"])] = group["name"]
    enums: dict[str, dict[str, int]] = {}
    for definition in spec.get("definitions", []):
        if definition["type"] != "enum":
            continue
        prefix = definition.get("name-prefix", f"{family}-{definition['name']}-")
        value = definition.get("value-start", 0)
        entries = {}
        for entry in definition["entries"]:
            name = entry["name"] if isinstance(entry, dict) else entry
            entries[name] = value
            values[c_name(prefix + name)] = value
            value += 1
        values[c_name(prefix + "max")] = value - 1
        enums[definition["name"]] = entries
    for attribute_set in spec["attribute-sets"]:
        attrs, value = {}, 1
        for attribute in attribute_set["attributes"]:
            value = attribute.get("value", value)
            attrs[attribute["name"]] = (value, attribute["type"])
            value += 1
        if any(all(a in entries and entries[a] == v for a, (v, _) in attrs.items())
               for entries in enums.values()):
            continue  # keyed by that enum: no enum of its own
        for name, (value, kind) in attrs.items():
            constant = c_name(family, "a", attribute_set["name"], name)
            values[constant] = value
            if kind != "pad":
                types[constant] = HEADER_TYPES[kind]
        values[c_name(family, "a", attribute_set["name"], "max")] = max(v for v, _ in attrs.values())
    operations = spec["operations"]["list"]
    for value, operation in enumerate(operations, start=1):
        values[c_name(family, "cmd", operation["name"])] = operation.get("value", value)
    values[c_name(family, "cmd", "max")] = len(operations)
    return values, types


def header_names(text: str) -> tuple[set[str], dict[str, str]]:
    """Public constants the header defines, and the comment before each enumerator."""
    names = set(re.findall(r"^#define\s+([A-Z][A-Z0-9_]*)\s+\S", text, re.M))
    names.discard(re.search(r"^#ifndef\s+(\w+)", text, re.M).group(1))
    comments: dict[str, str] = {}
    for body in re.findall(r"\benum\b[^{]*\{(.*?)\};", text, re.S):
        # Each enumerator with the comment right above it (one line or a block).
        for comment, name in re.findall(r"(?:/\*((?:[^*]|\*(?!/))*)\*/\s*)?\b([A-Za-z_]\w*)\s*(?:=[^,\n]*)?,?\s*\n", body):
            if not name.startswith("__"):
                names.add(name)
                comments[name] = " ".join(w.lstrip("*") for w in comment.split()).strip()
    return names, comments


def compiled_values(header: Path, want: dict[str, int | str], names: list[str], cc: str) -> dict[str, int | str]:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "values.c"
        lines = [f'#include "{header.resolve()}"', "#include <stdio.h>", "int main(void) {"]
        for name in names:
            if isinstance(want[name], str):
                lines.append(f'  printf("{name} s %s\\n", {name});')
            else:
                lines.append(f'  printf("{name} i %lld\\n", (long long)({name}));')
        lines.append("  return 0;\n}")
        source.write_text("\n".join(lines) + "\n")
        binary = Path(tmp) / "values"
        build = subprocess.run([cc, "-std=c11", "-o", str(binary), str(source)], capture_output=True, text=True)
        if build.returncode != 0:
            raise SystemExit(f"check_uapi: cannot compile the header's values:\n{build.stderr[:2000]}")
        out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    values: dict[str, int | str] = {}
    for line in out.splitlines():
        name, kind, value = line.split(" ", 2)
        values[name] = value if kind == "s" else int(value)
    return values


def problems(header: Path, spec_path: Path, cc: str) -> list[str]:
    spec = yaml.safe_load(spec_path.read_text())
    want, want_types = expected(spec)
    text = header.read_text()
    have, comments = header_names(text)
    found = []
    for name in sorted(set(want) - have):
        found.append(f"{name}: in the spec, not in the header")
    for name in sorted(have - set(want)):
        if name != "HPNOTIFY_FAMILY_VERSION":  # the spec's doc names the version
            found.append(f"{name}: in the header, not in the spec")
    present = sorted(set(want) & have)
    values = compiled_values(header, want, present, cc)
    for name in present:
        if values[name] != want[name]:
            found.append(f"{name}: header {values[name]!r}, spec {want[name]!r}")
    for name, kind in sorted(want_types.items()):
        if name in comments and not re.match(rf"{re.escape(kind)}\b", comments[name]):
            found.append(f"{name}: spec type {kind}, header comment {comments[name]!r}")
    return found


def self_test(header: Path, spec: Path, cc: str) -> list[str]:
    text = header.read_text()
    mutations = {
        "renamed": ("HPNOTIFY_A_EVENT_CPU,", "HPNOTIFY_A_EVENT_CPU_ID,"),
        "renumbered": ("HPNOTIFY_A_STATS_LAST_SEQ = 1,", "HPNOTIFY_A_STATS_LAST_SEQ = 2,"),
        "retyped": ("/* __u32: the CPU (cpu_* events) */", "/* __u64: the CPU (cpu_* events) */"),
        "extra": ("HPNOTIFY_CMD_EVENT,", "HPNOTIFY_CMD_EVENT,\n\tHPNOTIFY_CMD_SPARE,"),
    }
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for what, (old, new) in mutations.items():
            if old not in text:
                failures.append(f"self-test: the header no longer has {old!r} to mutate")
                continue
            copy = Path(tmp) / header.name
            copy.write_text(text.replace(old, new, 1))
            if not problems(copy, spec, cc):
                failures.append(f"self-test: a {what} constant went unnoticed")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("header", nargs="?", type=Path, default=ROOT / "common" / "hpnotify.h")
    parser.add_argument("spec", nargs="?", type=Path, default=ROOT / "common" / "hpnotify.yaml")
    parser.add_argument("--cc", default="cc")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    found = (self_test if args.self_test else problems)(args.header, args.spec, args.cc)
    for problem in found:
        print(f"FAIL {problem}")
    if not found:
        print("self-test: every mutation was caught" if args.self_test else
              f"{args.header.name} matches {args.spec.name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
