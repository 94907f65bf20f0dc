#!/usr/bin/env python3
"""Checks that doc/monitoring.md, the alert rules and the Grafana dashboard agree.

Every metric a rule or a dashboard query uses must be in the documented table (a rule on a
metric the agent never exports never fires). With --scrape FILE (a /metrics scrape of a demo
agent), every documented metric must also be exported (except those documented as appearing
only after their first event), and nothing exported may be missing from the table.
"""
import argparse
import json
import re
import sys

ROOT = sys.argv[0].rsplit("/tests/obs/", 1)[0] if "/tests/obs/" in sys.argv[0] else "."
# Present only after their first event (say so in the doc).
LAZY = {"stagesync_alerts_sent_total"}
METRIC = re.compile(r"\b((?:stagesync|process)_[a-z_]+)\b")


def documented(doc):
    text = open(doc, encoding="utf-8").read()
    m = re.search(r"<!-- metrics-table.*?-->(.*?)<!-- end metrics-table -->", text, re.S)
    if not m:
        sys.exit(f"{doc}: no metrics-table block")
    names = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            names[cells[0].strip("`")] = cells[1]
    return names


def base(name, kind):
    """A series name used in a query, reduced to its metric family."""
    if kind.startswith("histogram"):
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def used_in(text):
    return set(METRIC.findall(text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--scrape")
    args = ap.parse_args()
    doc = documented(f"{args.root}/doc/monitoring.md")
    problems = []
    hist = {n for n, k in doc.items() if k.startswith("histogram")}

    def family(n):
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix) and n[: -len(suffix)] in hist:
                return n[: -len(suffix)]
        return n

    rules = open(f"{args.root}/conf/prometheus/stagesync-rules.yml", encoding="utf-8").read()
    exprs = "\n".join(re.findall(r"^\s*expr:(.*)$", rules, re.M))
    for n in sorted(used_in(exprs)):
        if family(n) not in doc:
            problems.append(f"stagesync-rules.yml uses {n}, not in doc/monitoring.md")
    dash = json.load(open(f"{args.root}/conf/grafana/stagesync.json", encoding="utf-8"))
    queries = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("expr", "query", "definition") and isinstance(x, str):
                    queries.append(x)
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(dash)
    for n in sorted(used_in("\n".join(queries))):
        if family(n) not in doc:
            problems.append(f"stagesync.json uses {n}, not in doc/monitoring.md")
    ids = [p.get("id") for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("stagesync.json: duplicate panel ids")

    if args.scrape:
        exported = set()
        for line in open(args.scrape, encoding="utf-8"):
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                exported.add(m.group(1))
        for n in sorted(doc):
            if n not in exported and n not in LAZY:
                problems.append(f"documented metric {n} is not in the scrape {args.scrape}")
        for n in sorted(exported):
            if (n.startswith("stagesync_") or n.startswith("process_")) and n not in doc:
                problems.append(f"exported metric {n} is not documented in doc/monitoring.md")

    for p in problems:
        print(p)
    print(f"{len(doc)} documented metrics, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
