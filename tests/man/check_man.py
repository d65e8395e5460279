#!/usr/bin/env python3
"""The man pages against the programs they describe, and their rendering.

Each generated page must render without a warning (groff -ww, man --warnings).
The pages cannot drift from the code: every hpctl command and each of its
options (from `hpctl --help` and `hpctl COMMAND --help`), every hpplaced
option (`hpplaced --help`) and every configuration key the parser knows (the
"known: ..." list of its unknown-key errors, top level and [[workload]]) must
be a term of its page's source. --self-test shows that a missing term fails.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)


def render_problems(page):
    problems = []
    groff = run(["groff", "-ww", "-z", "-t", "-man", page])
    if groff.returncode != 0 or groff.stderr:
        problems.append(f"groff -ww on {page}: status {groff.returncode}: {groff.stderr.strip()}")
    if shutil.which("man"):
        env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
        man = run(["man", "--warnings", "-l", page], env=env)
        if man.returncode != 0 or man.stderr:
            problems.append(f"man --warnings -l {page}: status {man.returncode}: {man.stderr.strip()}")
        elif "NAME" not in man.stdout:
            problems.append(f"man -l {page}: no NAME section in the output")
    return problems


def terms(source):
    """The bold words of a page's source (scdoc *word*), as a set."""
    return set(re.findall(r"\*([^*\s]+)\*", source))


def options_of(text):
    return sorted(set(re.findall(r"(--[a-z][a-z-]*)", text)))


def hpctl_names(hpctl):
    out = run([hpctl, "--help"])
    assert out.returncode == 0, f"hpctl --help: status {out.returncode}"
    commands = re.findall(r"^  hpctl ([a-z][a-z-]*)", out.stdout, re.M)
    assert commands, f"hpctl --help lists no commands:\n{out.stdout}"
    names = list(dict.fromkeys(commands))
    for command in dict.fromkeys(commands):
        help_ = run([hpctl, command, "--help"])
        assert help_.returncode == 0 and help_.stdout, f"hpctl {command} --help: status {help_.returncode}"
        names += options_of(help_.stdout)
    return sorted(set(names))


def hpplaced_names(hpplaced):
    out = run([hpplaced, "--help"])
    assert out.returncode == 0, f"hpplaced --help: status {out.returncode}"
    return options_of(out.stdout)


def known_keys(hpctl, topology, config_text):
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as config:
        config.write(config_text)
        config.flush()
        out = run([hpctl, "plan", "--topology", topology, "--config", config.name])
    match = re.search(r"unknown key \(known: ([^)]*)\)", out.stderr)
    assert out.returncode != 0 and match, f"no list of known keys from the parser: {out.stderr!r}"
    return [key.strip() for key in match.group(1).split(",")]


def config_names(hpctl, topology):
    top = known_keys(hpctl, topology, "not_a_key_of_hpplaced = 1\n")
    workload = known_keys(hpctl, topology, '[[workload]]\nname = "w"\nnot_a_key_of_hpplaced = 1\n')
    return sorted(set(top + workload))


def missing(names, source):
    have = terms(source)
    return [name for name in names if name not in have]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", required=True, help="directory of the generated pages")
    parser.add_argument("--sources", required=True, help="directory of the .scd sources")
    parser.add_argument("--hpctl", required=True)
    parser.add_argument("--hpplaced", required=True)
    parser.add_argument("--topology", required=True, help="a topology document for hpctl plan")
    args = parser.parse_args()

    def source(page):
        with open(os.path.join(args.sources, page + ".scd"), encoding="utf-8") as f:
            return f.read()

    expected = {
        "hpctl.8": hpctl_names(args.hpctl),
        "hpplaced.8": hpplaced_names(args.hpplaced),
        "hpplaced.conf.5": config_names(args.hpctl, args.topology),
    }
    problems = []
    for page, names in expected.items():
        problems += render_problems(os.path.join(args.pages, page))
        for name in missing(names, source(page)):
            problems.append(f"{page}: {name} is not described (add a *{name}* term to docs/man/{page}.scd)")
        print(f"{page}: {len(names)} names checked: {' '.join(names)}")

    # The check itself: a page without one of its names must fail.
    for page, names in expected.items():
        text = source(page)
        dropped = names[0]
        if missing(names, text.replace(f"*{dropped}*", dropped)) != [dropped]:
            problems.append(f"self-test: dropping *{dropped}* from {page} went unnoticed")

    for problem in problems:
        print("FAIL: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
