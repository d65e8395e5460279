#!/usr/bin/env python3
"""prom_format.py finds each kind of mistake it is there for, and passes a good text."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prom_format import problems  # noqa: E402

GOOD = """# HELP a_total A counter.
# TYPE a_total counter
a_total{type="x"} 1
a_total{type="y\\"q\\\\"} 2
# HELP g A gauge.
# TYPE g gauge
g 1.5e-06
# HELP h A histogram.
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 3
h_sum 4.5
h_count 3
"""

BAD = {
    "no newline at the end": GOOD.rstrip("\n"),
    "TYPE after samples": GOOD + "# TYPE a_total counter\n",
    "a counter without _total": GOOD.replace("a_total", "a"),
    "a gauge with _total": GOOD.replace("# TYPE g gauge\ng 1", "# TYPE g_total gauge\ng_total 1").replace("HELP g ", "HELP g_total "),
    "series twice": GOOD.replace('a_total{type="x"} 1\n', 'a_total{type="x"} 1\na_total{type="x"} 1\n'),
    "families interleaved": GOOD.replace('g 1.5e-06\n', 'g 1.5e-06\na_total{type="z"} 1\n'),
    "a bad value": GOOD.replace("g 1.5e-06", "g one"),
    "a bad label": GOOD.replace('{type="x"}', '{type=x}'),
    "a bad name": GOOD.replace("g 1.5e-06", "9g 1"),
    "no HELP": GOOD.replace("# HELP g A gauge.\n", ""),
    "no TYPE": GOOD.replace("# TYPE g gauge\n", ""),
    "buckets not cumulative": GOOD.replace('h_bucket{le="1"} 2', 'h_bucket{le="1"} 0'),
    "+Inf bucket != count": GOOD.replace("h_count 3", "h_count 4"),
    "no +Inf bucket": GOOD.replace('h_bucket{le="+Inf"} 3\n', ""),
    "an empty line": GOOD.replace("# HELP g", "\n# HELP g"),
}

failed = 0
if problems(GOOD):
    print("FAIL: the good text:", problems(GOOD))
    failed += 1
for what, text in BAD.items():
    found = problems(text)
    print(("ok   " if found else "FAIL ") + f"{what}: {found[:1]}")
    failed += not found
sys.exit(1 if failed else 0)
