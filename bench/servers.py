"""What the benchmarks share to serve: a free port, ``readingroom serve`` started on this
tree with no start-up witness check, waiting for an answer, stopping, and a scratch
PostgreSQL database. The scripts put the repository first on ``sys.path`` to import it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def readingroom() -> list[str]:
    """The ``readingroom`` command of this tree (its code first on the path, see ``env``)."""
    return [sys.executable, "-m", "server.cli"]


def env(database_url: str, settings: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a served reading room: none of the caller's READINGROOM_ settings,
    this tree's code, ``database_url``, no start-up witness check (its runs would change the
    served pages during a measurement), then ``settings``."""
    found = {k: v for k, v in os.environ.items() if not k.startswith("READINGROOM_")}
    found.update(
        PYTHONPATH=str(ROOT),
        READINGROOM_DATABASE_URL=database_url,
        READINGROOM_CHECK_WITNESSES_ON_START="false",
    )
    found.update(settings or {})
    return found


def wait_for(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 300.0
) -> bytes:
    """The body of the first 2xx answer of ``url``, asked again until one comes; gives up
    when ``process`` (the server) exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return bytes(response.read())
        except OSError:
            if process is not None and process.poll() is not None:
                raise SystemExit(f"the server exited ({process.returncode})") from None
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer in {timeout:g} s") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Ask the server to stop (SIGTERM: it finishes what it serves), kill it if it will not."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(
    cwd: Path,
    database_url: str,
    *args: str,
    settings: dict[str, str] | None = None,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
    timeout: float = 300.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``readingroom serve ARGS`` on a free loopback port, from ``cwd``: its base URL and its
    process, once ``/api/health`` answers; stopped afterwards."""
    port = free_port()
    command = [*readingroom(), "serve", "--host", HOST, "--port", str(port), *args]
    process = subprocess.Popen(
        command, cwd=cwd, env=env(database_url, settings), stdout=subprocess.DEVNULL,
        stderr=stderr,
    )  # fmt: skip
    base = f"http://{HOST}:{port}"
    try:
        wait_for(base + "/api/health", process, timeout)
        yield base, process
    finally:
        stop(process)


@contextmanager
def scratch_postgresql(admin_url: str, prefix: str = "readingroom_bench") -> Iterator[str]:
    """The URL of a new database on the PostgreSQL server of ``admin_url``, dropped after."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from server.db import make_engine, normalise_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(admin_url)).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def running(code: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -c CODE ARGS`` with this tree's code on the path (a bare server to measure
    against, say), stopped afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        yield process
    finally:
        stop(process)
