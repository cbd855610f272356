"""``readingroom serve`` with 1 worker against 2 workers, on SQLite and on PostgreSQL.

    python bench/workers.py [--seconds 10] [--postgresql URL] [--rounds 3] [--no-sqlite]

Each configuration is a real ``serve`` on a fresh store of the bundled content, with the
start-up witness check off; wrk (Debian package ``wrk``, 2 threads, 16 connections) drives
routes that read the database on every request: the claims list, one claim's review history
and a source. Rounds alternate 1 and 2 workers; prints the median rates and their ratio
(aim: 2 workers at least 1.6 times one). ``--postgresql`` takes an admin URL; a scratch
database is made and dropped (default: PostgreSQL is skipped).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import scratch_postgresql, serving, wait_for

PATHS = (
    "/api/claims?limit=20",
    "/api/claims/claim:generative-models/normalizing-flows/rezende-definition/reviews",
    "/api/sources/rezende-2015-normalizing-flows",
)
WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@contextmanager
def serving_workers(database: str, workers: int) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as cwd, serving(
        Path(cwd), database, "--workers", str(workers), timeout=180
    ) as (base, process):
        for path in PATHS:
            wait_for(base + path, process, timeout=180)
        time.sleep(5 if workers > 1 else 0)  # the other workers finish starting
        yield base


def wrk(base: str, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(f'"{p}"' for p in PATHS))
    try:
        out = subprocess.run(
            ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", script.name, base],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found or "Non-2xx" in out:
        raise SystemExit(f"wrk failed:\n{out}")
    return float(found.group(1))


def measure(database: str, seconds: int, rounds: int) -> tuple[float, float]:
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in (1, 2):
            with serving_workers(database, workers) as base:
                rates[workers].append(wrk(base, seconds))
    return statistics.median(rates[1]), statistics.median(rates[2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgresql", default=None, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args()
    print(f"{'store':<11} {'1 worker':>12} {'2 workers':>12} {'ratio':>7}   (aim >= 1.6)")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            one, two = measure(f"sqlite:///{tmp}/bench.db", args.seconds, args.rounds)
        print(f"{'sqlite':<11} {one:>8.0f} r/s {two:>8.0f} r/s {two / one:>7.2f}")
    if args.postgresql:
        with scratch_postgresql(args.postgresql, "readingroom_bench") as url:
            one, two = measure(url, args.seconds, args.rounds)
        print(f"{'postgresql':<11} {one:>8.0f} r/s {two:>8.0f} r/s {two / one:>7.2f}")


if __name__ == "__main__":
    main()
