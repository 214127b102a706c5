#!/usr/bin/env python3
"""Aggregates kcl-bench --json results into a Markdown report.

  report.py --results DIR [--pgx pgx-bulk.json] --out report.md

DIR holds <run>.json (kcl-bench output), optional <run>.rows (rows found in
the run's table afterwards), machine.txt, and ours.missing when our child
was not built. The --pgx file comes from the Go sink's own benchmark:
{"name": "...", "records_per_s": 123.4}.
Standard library only.
"""

import argparse
import glob
import json
import os

ORDER = ["driver-null", "ours-discard", "ours-pg", "kclpy-discard", "kclpy-seed", "kclpy-batched"]
OURS = ["ours-discard", "ours-pg"]
KCLPY = ["kclpy-discard", "kclpy-seed", "kclpy-batched"]


def load(results_dir):
    runs = {}
    for path in glob.glob(os.path.join(results_dir, "*.json")):
        with open(path) as f:
            r = json.load(f)
        rows = os.path.join(results_dir, r["name"] + ".rows")
        if os.path.exists(rows):
            with open(rows) as f:
                r["rows"] = int(f.read().strip() or 0)
        runs[r["name"]] = r
    return runs


def sort_key(name):
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def fmt_int(v):
    return "{:,.0f}".format(v)


def result_table(runs):
    head = ("| run | records | records/s | MB/s | batch p50 / p99 / max ms | child peak RSS MiB "
            "| child CPU s | CPU µs/record | checkpoints (all covered) | rows written | violations | status |")
    lines = [head, "|" + "---|" * 12]
    for name in sorted(runs, key=sort_key):
        r = runs[name]
        lat = r["batch_latency_ms"]
        status = "ok" if not r.get("error") and r["violations"] == 0 else "FAILED: " + r.get("error", "violations")[:80]
        cpu_us = r["child_cpu_s"] / r["records"] * 1e6 if r["records"] else 0
        lines.append(
            "| {name} | {rec} | **{rps}** | {mbs:.1f} | {p50:.0f} / {p99:.0f} / {mx:.0f} | {rss:.0f} | {cpu:.2f} | {cpuus:.1f} "
            "| {ck} ({cov}) | {rows} | {viol} | {status} |".format(
                name=name, rec=fmt_int(r["records"]), rps=fmt_int(r["records_per_s"]), mbs=r["mb_per_s"],
                p50=lat["p50"], p99=lat["p99"], mx=lat["max"], rss=r["child_peak_rss_mib"], cpu=r["child_cpu_s"],
                cpuus=cpu_us, ck=r["checkpoints"], cov="yes" if r["checkpoint_at_end"] else "no",
                rows=fmt_int(r["rows"]) if "rows" in r else "–", viol=r["violations"], status=status.replace("|", "/"),
            )
        )
    return lines


def ratio_table(runs):
    ours = [n for n in OURS if n in runs]
    theirs = [n for n in KCLPY if n in runs]
    if not ours or not theirs:
        return ["Not enough runs for ratios (need one of %s and one of %s)." % (", ".join(OURS), ", ".join(KCLPY))]
    lines = ["| ours ÷ | " + " | ".join(theirs) + " |", "|---|" + "---|" * len(theirs)]
    for o in ours:
        cells = []
        for t in theirs:
            base = runs[t]["records_per_s"]
            cells.append("%.1f×" % (runs[o]["records_per_s"] / base) if base else "–")
        lines.append("| %s | %s |" % (o, " | ".join(cells)))
    return lines


def pgx_section(path):
    shape = '`{"name": "...", "records_per_s": 123456.0}`'
    if not path or not os.path.exists(path):
        return ["Not provided: the Go sink's bulk benchmark writes %s to `%s`." % (shape, path or ".stack/bench/pgx-bulk.json")]
    with open(path) as f:
        p = json.load(f)
    return ["| name | records/s |", "|---|---|", "| %s | %s |" % (p.get("name", "pgx"), fmt_int(p["records_per_s"]))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--pgx", default="")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    runs = load(args.results)
    if not runs:
        raise SystemExit("no kcl-bench results in " + args.results)
    any_run = next(iter(runs.values()))
    md = ["# Child process benchmark (kcl-bench)", ""]
    md.append("Each run: `initialize`, `processRecords` batches of %d records of %d B JSON (base64 on the wire), "
              "`shutdownRequested`, `leaseLost`, stdin EOF. records/s and MB/s cover the processRecords stream; "
              "MB are protocol input (10^6 bytes). Generator seed and record set are identical across runs; "
              "kclpy-seed may run fewer records." % (any_run["batch_size"], any_run["record_size"]))
    md.append("")
    md += result_table(runs)
    missing = os.path.join(args.results, "ours.missing")
    if os.path.exists(missing):
        with open(missing) as f:
            md += ["", "Our child (`%s`) was not built, so its rows are missing." % f.read().strip()]
    md += ["", "## Ratios (records/s)", ""] + ratio_table(runs)
    md += ["", "## Direct pgx bulk rate", ""] + pgx_section(args.pgx)
    md += ["", "## Machine", "", "```"]
    machine = os.path.join(args.results, "machine.txt")
    md.append(open(machine).read().rstrip() if os.path.exists(machine) else "(not recorded)")
    md += ["```", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
