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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database: str, workers: int) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINGROOM_")}
    env.update(
        READINGROOM_DATABASE_URL=database,
        READINGROOM_CHECK_WITNESSES_ON_START="false",
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    with tempfile.TemporaryDirectory() as cwd:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for path in PATHS:
                wait_for(base + path)
            time.sleep(5 if workers > 1 else 0)  # the other workers finish starting
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def wait_for(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer")
        time.sleep(0.3)


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
            with serving(database, workers) as base:
                rates[workers].append(wrk(base, seconds))
    return statistics.median(rates[1]), statistics.median(rates[2])


@contextmanager
def scratch_postgresql(admin_url: str) -> Iterator[str]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from server.db import make_engine, normalise_url

    name = f"readingroom_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(admin_url)).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgresql", default=None, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"{'store':<11} {'1 worker':>12} {'2 workers':>12} {'ratio':>7}   (aim >= 1.6)")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            one, two = measure(f"sqlite:///{tmp}/bench.db", args.seconds, args.rounds)
        print(f"{'sqlite':<11} {one:>8.0f} r/s {two:>8.0f} r/s {two / one:>7.2f}")
    if args.postgresql:
        with scratch_postgresql(args.postgresql) as url:
            one, two = measure(url, args.seconds, args.rounds)
        print(f"{'postgresql':<11} {one:>8.0f} r/s {two:>8.0f} r/s {two / one:>7.2f}")


if __name__ == "__main__":
    main()
