#!/usr/bin/env python3
"""Times the plans of ListEmployees' name-prefix filter on a kept SQLite bench database.

Usage (a 1,000,000-employee province, kept after the import):
    kinerja-bench import --engine sqlite --employees 1000000 --rounds 1 --keep --work-dir /tmp/w1
    python3 bench/name_prefix_plans.py /tmp/w1/kinerja_bench_*_import0.db

For prefixes of 1, 4, 8, 12 and 40 characters of 25 random employees' names, and for three
prefixes nobody's name has, prints the time per page (51 rows in id order) of the `LIKE` walk
(the filter before session 12) and of the plan the service now picks: a range of the name index
below 2,000 matches, else the walk in id order with the range as a filter. Python's own SQLite
runs the statements; the service's bundled SQLite plans them the same way (see the store's
plan tests).
"""

import random
import sqlite3
import sys
import time

THRESHOLD = 2000  # store::employees::NAME_RANGE_MAX


def after(p: str) -> str:
    return p[:-1] + chr(ord(p[-1]) + 1)


def main(path: str) -> None:
    c = sqlite3.connect(path)
    n = c.execute("SELECT max(rowid) FROM employees").fetchone()[0]
    random.seed(1)
    names = [
        c.execute("SELECT name_lower FROM employees WHERE rowid = ?", (random.randint(1, n),)).fetchone()[0]
        for _ in range(25)
    ]

    def like(p):
        c.execute("SELECT id FROM employees WHERE name_lower LIKE ? ORDER BY id LIMIT 51", (p + "%",)).fetchall()

    def picked(p):
        k = c.execute(
            "SELECT count(*) FROM (SELECT 1 FROM employees WHERE name_lower >= ? AND name_lower < ? LIMIT ?)",
            (p, after(p), THRESHOLD),
        ).fetchone()[0]
        col = "name_lower" if k < THRESHOLD else "+name_lower"
        c.execute(
            f"SELECT id FROM employees WHERE {col} >= ? AND {col} < ? ORDER BY id LIMIT 51", (p, after(p))
        ).fetchall()
        return k

    def timed(f, prefixes):
        t = time.perf_counter()
        out = [f(p) for p in prefixes]
        return (time.perf_counter() - t) / len(prefixes) * 1000, out

    print(f"{n} employees")
    for length in [1, 4, 8, 12, 40]:
        prefixes = [x[:length] for x in names]
        t_like, _ = timed(like, prefixes)
        t_new, counts = timed(picked, prefixes)
        print(
            f"prefix of {length:2} chars: matches (counted up to {THRESHOLD}) {sum(counts) / len(counts):6.0f}; "
            f"LIKE walk {t_like:7.2f} ms, picked plan {t_new:6.2f} ms"
        )
    for p in ["zzz", "agus daeng matata x", "siti aminah 1"]:
        t_like, _ = timed(like, [p])
        t_new, _ = timed(picked, [p])
        print(f"prefix {p!r} (no match): LIKE walk {t_like:7.2f} ms, picked plan {t_new:6.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1])
