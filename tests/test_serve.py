"""`readingroom serve` as a new user runs it: a fresh directory, the bundled content, a kill -9."""

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

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


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
def serving(cwd: Path, *args: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINGROOM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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
                    raise AssertionError(f"serve did not start:\n{stderr}") from None
                time.sleep(0.2)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()


def test_serve_on_a_fresh_directory_then_survive_kill_9(tmp_path: Path) -> None:
    with serving(tmp_path) as base:
        status, page = get(f"{base}/api/concepts/generative-models/normalizing-flows")
        assert status == 200
        assert page["title"] == "Normalizing Flows: Tractable Density via Invertible Transforms"
        assert (tmp_path / "readingroom.db").exists()
        # witnesses are checked in the background after start-up
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, page = get(f"{base}/api/concepts/generative-models/normalizing-flows")
            statuses = {w["status"] for w in page["witnesses"]}  # type: ignore[attr-defined]
            if statuses != {"unchecked"} and "unchecked" not in statuses:
                break
            time.sleep(0.5)
        assert statuses == {"passed"}
    # killed with SIGKILL above; the store must come back whole, with nothing to re-ingest
    with serving(tmp_path) as base:
        status, health = get(f"{base}/api/health")
        assert status == 200 and health["revision"] == 2  # ingest, then the witness runs
        status, concepts = get(f"{base}/api/concepts")
        assert status == 200 and concepts["count"] == 3
