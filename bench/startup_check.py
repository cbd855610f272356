"""Requests while the start-up witness check runs, against the same server with it off.

    python bench/startup_check.py [--concepts 200] [--seconds 10] [--postgresql URL]

A store of generated concepts (``bench/gen.py``: one witness each, none run yet) is served by
``readingroom serve`` twice, on fresh copies of the same store: once with the start-up check
off, once with it on, measured while it is running. wrk (1 thread, 8 connections) drives a
cached concept page; the script prints requests per second and p99 latency of both, their
ratios, and how many witness runs the check recorded during the measurement (so a check that
did not run cannot pass for a harmless one). ``--postgresql`` takes an admin URL and does the
same on a scratch database, where the check is low-priority jobs the server's own worker takes.
Aim: requests keep at least 0.8 of their rate while the check runs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gen import concept_key, write_tree  # noqa: E402
from bench.servers import env, readingroom, scratch_postgresql, serving  # noqa: E402

AIM = 0.8


def settings(check: bool, server_takes_jobs: bool = True) -> dict[str, str]:
    return {
        "READINGROOM_INGEST_ON_START": "false",
        "READINGROOM_CHECK_WITNESSES_ON_START": "true" if check else "false",
        "READINGROOM_SERVE_JOB_WORKERS": "1" if server_takes_jobs else "0",
    }


@contextmanager
def served(database: str, check: bool, cwd: Path, worker: bool = False) -> Iterator[str]:
    """``serve``; with ``worker``, the jobs go to a ``readingroom worker`` process instead."""
    chosen = settings(check, server_takes_jobs=not worker)
    with serving(cwd, database, settings=chosen) as (base, _process):
        if not worker:
            yield base
            return
        helper = subprocess.Popen(
            [*readingroom(), "worker", "--concurrency", "1"],
            env=env(database, chosen),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield base
        finally:
            helper.terminate()
            helper.wait()


def runs_recorded(database: str) -> int:
    from sqlalchemy import text

    from server.db import make_engine

    engine = make_engine(database)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM witness_run")).scalar() or 0)
    finally:
        engine.dispose()


def wrk(url: str, seconds: int) -> tuple[float, float]:
    """Requests per second and p99 in milliseconds."""
    urllib.request.urlopen(url, timeout=10).read()  # built and cached before the measurement
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    tail = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    if not rate or not tail or "Non-2xx" in out:
        raise SystemExit(f"wrk failed:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[tail.group(2)]
    return float(rate.group(1)), float(tail.group(1)) * scale


def measure(fresh: Iterator[str], seconds: int, cwd: Path, worker: bool = False) -> None:
    path = "/api/concepts/" + concept_key(0).partition(":")[2]
    quiet_db = next(fresh)
    with served(quiet_db, False, cwd) as base:
        quiet_rate, quiet_p99 = wrk(base + path, seconds)
    busy_db = next(fresh)
    with served(busy_db, True, cwd, worker) as base:
        before = runs_recorded(busy_db)
        busy_rate, busy_p99 = wrk(base + path, seconds)
        during = runs_recorded(busy_db) - before
    print(f"  check off: {quiet_rate:8.0f} r/s   p99 {quiet_p99:6.2f} ms")
    print(f"  check on:  {busy_rate:8.0f} r/s   p99 {busy_p99:6.2f} ms   ({during} runs recorded)")
    ratio = busy_rate / quiet_rate
    verdict = "met" if ratio >= AIM and during > 0 else "SHORT"
    print(
        f"  rate ratio {ratio:.2f} (aim >= {AIM}: {verdict}), "
        f"p99 ratio {busy_p99 / quiet_p99:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--postgresql", default=None, help="admin URL of a PostgreSQL server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        write_tree(tmp / "content", args.concepts)
        template = tmp / "template.db"
        subprocess.run(
            [*readingroom(), "ingest", str(tmp / "content")],
            env=env(f"sqlite:///{template}", settings(False)),
            check=True,
            stdout=subprocess.DEVNULL,
        )

        def sqlite_copies() -> Iterator[str]:
            for number in range(2):
                copy = tmp / f"store-{number}.db"
                shutil.copyfile(template, copy)
                yield f"sqlite:///{copy}"

        print(f"sqlite, {args.concepts} concepts with a witness each:")
        measure(sqlite_copies(), args.seconds, tmp)
        if args.postgresql:

            def postgresql_copies() -> Iterator[str]:
                for _ in range(2):
                    with scratch_postgresql(args.postgresql) as url:
                        subprocess.run(
                            [*readingroom(), "ingest", str(tmp / "content")],
                            env=env(url, settings(False)),
                            check=True,
                            stdout=subprocess.DEVNULL,
                        )
                        yield url

            print(f"postgresql, {args.concepts} concepts, the server taking the jobs:")
            measure(postgresql_copies(), args.seconds, tmp)
            print(f"postgresql, {args.concepts} concepts, a `readingroom worker` taking them:")
            measure(postgresql_copies(), args.seconds, tmp, worker=True)


if __name__ == "__main__":
    main()
