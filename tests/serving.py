"""Run `readingroom serve` as a subprocess on a free port, as a user would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@contextmanager
def serving(cwd: Path, *args: str, settings: dict[str, str] | None = None) -> Iterator[str]:
    """``settings``: READINGROOM_* variables for the server (the caller's own are dropped)."""
    with serving_process(cwd, *args, settings=settings) as (base, _process):
        yield base


@contextmanager
def serving_process(
    cwd: Path, *args: str, log: Path | None = None, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like ``serving``, and hands out the process too (to kill it at a chosen moment);
    ``log``, when given, collects the server's stderr (for a test to show when it fails);
    ``settings`` are ``READINGROOM_*`` variables for the server (all others are cleared)."""
    port = free_port()
    log_file = log.open("ab") if log is not None else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINGROOM_")}
    env.update(settings or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), *args],
        cwd=cwd,
        env={**env, **(settings or {}), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        stdout=subprocess.DEVNULL,
        stderr=log_file or subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/api/health")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    stderr = log.read_text() if log is not None else stderr
                    raise AssertionError(f"serve did not start:\n{stderr}") from None
                time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()
        if log_file is not None:
            log_file.close()
