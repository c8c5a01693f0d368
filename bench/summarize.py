#!/usr/bin/env python3
"""Prints the Markdown tables of BENCHMARKS.md from kinerja-bench JSON reports.

Usage: bench/summarize.py bench/results/sqlite-10k.json [...]
"""
import json
import sys


def f(v, d=0, scale=1.0):
    return "-" if v is None else f"{v / scale:.{d}f}"


for path in sys.argv[1:]:
    r = json.load(open(path))
    if "summary" not in r:
        continue
    print(f"#### {r['engine']}, {r['employees']:,} employees, {r['units']:,} units ({path})\n")
    loads = r["machine"]["load_average"]
    print(f"Load average at start: `{loads}`. Database size after seeding: "
          f"{f(r.get('db_bytes'), 0, 1048576)} MB. Server RSS idle at start "
          f"{f(r['idle_rss_start'], 1, 1048576)} MB, idle after the rounds "
          f"{f(r['idle_rss_end'], 1, 1048576)} MB, peak during the seed import "
          f"{f(r['import_peak_rss'], 1, 1048576)} MB.\n")
    pg = [x["pgbench"]["tps"] for x in r["rounds"] if x.get("pgbench")]
    if pg:
        pg.sort()
        print(f"pgbench single-row insert (per round): {', '.join(f'{t:.0f}' for t in pg)} tps\n")
    print("| scenario | rounds | req/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/call | PostgreSQL CPU µs/call | CPU ÷ bare echo | rate ÷ write baseline | peak RSS MB | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in r["summary"]:
        print(f"| {s['scenario']} | {s['rounds']} | {f(s['rate'])} | {f(s['p50_us'], 2, 1000)} | "
              f"{f(s['p99_us'], 2, 1000)} | {f(s['p999_us'], 2, 1000)} | {f(s['server_cpu_us'], 1)} | "
              f"{f(s.get('db_cpu_us'), 1)} | {f(s['cpu_vs_bare_echo'], 2)} | "
              f"{f(s['rate_vs_write_baseline'], 2)} | {f(s['peak_rss'], 1, 1048576)} | {s['errors']} |")
    print()
    for imp in r["imports"]:
        print(f"Seed import: {imp['employees']:,} employees + {imp['assignments']:,} assignments in "
              f"{imp['seconds']:.1f} s = **{imp['employees_per_sec']:,.0f} employees/s** (server CPU "
              f"{f(imp['server_cpu_s'], 1)} s, PostgreSQL CPU {f(imp.get('db_cpu_s'), 1)} s).\n")
    print("| target | measured | limit | met |")
    print("|---|---|---|---|")
    for t in r["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        print(f"| {t['target']} | {f(t['measured'], 2)} | {t['limit']} | {met} |")
    print()
