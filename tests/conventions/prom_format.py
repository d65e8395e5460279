"""A checker of the Prometheus text exposition format (version 0.0.4), with
promtool's lint rules for what hpplaced exports: names and label names as the
format allows, HELP and TYPE once per family and before its samples, a
family's samples together, no series twice, counters ending in _total and
nothing else doing so, histograms with increasing `le` bounds, cumulative
counts, a +Inf bucket equal to _count and a _sum. problems(text) returns
what is wrong, one line each."""
import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(rf"^({NAME})(\{{(.*)\}})? (\S+)( -?\d+)?$")
LABEL_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(text)
    return float(text)


def parse_labels(text):
    labels = {}
    rest = text
    while rest:
        m = LABEL_PAIR.match(rest)
        if not m:
            raise ValueError(f"bad labels {{{text}}}")
        if m.group(1) in labels:
            raise ValueError(f"label {m.group(1)} twice")
        labels[m.group(1)] = m.group(2)
        rest = rest[m.end():]
    return labels


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def problems(text):
    out = []
    if not text.endswith("\n"):
        out.append("the text does not end in a newline")
    types, helps, seen, finished = {}, set(), set(), set()
    current = None
    samples = {}  # family -> [(name, labels, value)]
    for number, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {number}: "
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    out.append(where + f"bad metric name {name!r}")
                if name in samples:
                    out.append(where + f"{parts[1]} of {name} after its samples")
                if parts[1] == "HELP":
                    if name in helps:
                        out.append(where + f"HELP of {name} twice")
                    if len(parts) < 4 or not parts[3].strip():
                        out.append(where + f"empty HELP for {name}")
                    helps.add(name)
                else:
                    if name in types:
                        out.append(where + f"TYPE of {name} twice")
                    kind = parts[3] if len(parts) == 4 else ""
                    if kind not in TYPES:
                        out.append(where + f"bad TYPE {kind!r} for {name}")
                    types[name] = kind
            continue
        if not line:
            out.append(where + "empty line")
            continue
        m = SAMPLE.match(line)
        if not m:
            out.append(where + f"not a sample: {line!r}")
            continue
        name, labels_text, value_text = m.group(1), m.group(3) or "", m.group(4)
        try:
            labels = parse_labels(labels_text)
            value = parse_value(value_text)
        except ValueError as e:
            out.append(where + str(e))
            continue
        family = family_of(name, types)
        if family != current:
            if family in finished:
                out.append(where + f"samples of {family} not together")
            if current is not None:
                finished.add(current)
            current = family
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            out.append(where + f"series {name}{{{labels_text}}} twice")
        seen.add(key)
        samples.setdefault(family, []).append((name, labels, value))
    for family, rows in samples.items():
        kind = types.get(family)
        if kind is None:
            out.append(f"{family}: no TYPE")
        if family not in helps:
            out.append(f"{family}: no HELP")
        if kind == "counter" and not family.endswith("_total"):
            out.append(f"{family}: a counter whose name does not end in _total")
        if kind != "counter" and family.endswith("_total"):
            out.append(f"{family}: a {kind} whose name ends in _total")
        if kind in ("counter", "histogram") and any(v < 0 or math.isnan(v) for _, _, v in rows):
            out.append(f"{family}: a negative or NaN {kind} value")
        if kind == "histogram":
            out += histogram_problems(family, rows)
    return out


def histogram_problems(family, rows):
    out = []
    series = {}
    for name, labels, value in rows:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        entry = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if name == family + "_bucket":
            if "le" not in labels:
                out.append(f"{family}: a bucket without le")
                continue
            entry["buckets"].append((parse_value(labels["le"]), value))
        elif name == family + "_sum":
            entry["sum"] = value
        elif name == family + "_count":
            entry["count"] = value
        else:
            out.append(f"{family}: sample {name} in a histogram")
    for rest, entry in series.items():
        bounds = [b for b, _ in entry["buckets"]]
        counts = [c for _, c in entry["buckets"]]
        if not bounds or bounds[-1] != math.inf:
            out.append(f"{family}{dict(rest)}: no +Inf bucket")
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            out.append(f"{family}{dict(rest)}: le bounds do not increase")
        if counts != sorted(counts):
            out.append(f"{family}{dict(rest)}: bucket counts are not cumulative")
        if entry["sum"] is None or entry["count"] is None:
            out.append(f"{family}{dict(rest)}: no _sum or _count")
        elif counts and counts[-1] != entry["count"]:
            out.append(f"{family}{dict(rest)}: +Inf bucket {counts[-1]} != _count {entry['count']}")
    return out
