"""Fixtures for the sandbox tests: small limits, a service on loopback, leftover checks."""

from __future__ import annotations

import http.server
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.witnesses import uid_slots
from server.witnesses.judge_pool import close_default_pool
from server.witnesses.result import RunResult
from server.witnesses.sandbox import SandboxLimits, probe_confinement, run_in_sandbox

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
TIMEOUT_S = 2.0
LIMITS = SandboxLimits(
    memory_bytes=512 << 20,
    processes=32,
    file_size_bytes=4 << 20,
    open_files=128,
    scratch_bytes=16 << 20,
    scratch_inodes=1024,
    output_bytes=64 << 10,
    report_bytes=1 << 20,
)
BENIGN = "import numpy as np\nprint(np.arange(3) / 2)\n"
BENIGN_CHECKS = [{"kind": "stdout", "expected": "[0.  0.5 1. ]"}]


def hostile(name: str, **values: str) -> str:
    """The fixture program ``name``, with ``__KEY__`` placeholders filled in."""
    code = (HOSTILE / f"{name}.py").read_text(encoding="utf-8")
    for key, value in values.items():
        code = code.replace(f"__{key.upper()}__", value)
    return code


def sandbox_processes() -> list[int]:
    """Live processes of the sandbox uids this test process holds (its own runs only)."""
    return uid_slots.processes_of(uid_slots.held_uids())


def leftover_processes() -> list[int]:
    """What this test process's own runs left running: processes of the sandbox uids it
    still holds, and its own descendants. Another checkout's server or witness runs on the
    same machine use other uids (the uid locks are machine-wide) and other parents, so
    they never count. The judges waiting in the pool for future runs are not leftovers:
    the pool is shut down first (it starts again with the next run), so a judge a run took
    and did not end still counts."""
    close_default_pool()
    return sorted(set(sandbox_processes()) | set(uid_slots.descendants(os.getpid())))


@pytest.fixture(scope="session", autouse=True)
def judges_shut_down() -> Iterator[None]:
    """The judges this test process's runs started ahead are killed when its tests end."""
    yield
    close_default_pool()


@pytest.fixture(scope="session")
def confined() -> None:
    status = probe_confinement()
    assert status.available, status.message


@dataclass
class HostService:
    """A tiny HTTP service on the host's loopback that counts the requests it gets."""

    port: int
    requests: list[str]

    def answers(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as response:
            return bool(response.status == 200)


@pytest.fixture(scope="session")
def host_service() -> Iterator[HostService]:
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"service secret page")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HostService(port=server.server_address[1], requests=requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Contained:
    result: RunResult
    neighbour: RunResult


@pytest.fixture
def run_hostile(confined: None, host_service: HostService) -> Callable[..., Contained]:
    """Run hostile code next to a benign run; afterwards check the host and the neighbour."""

    def run(
        code: str, checks: list[dict[str, object]] | None = None, timeout_s: float = TIMEOUT_S
    ) -> Contained:
        with ThreadPoolExecutor(max_workers=2) as pool:
            hostile_run = pool.submit(
                run_in_sandbox, code, checks=checks, timeout_s=timeout_s, limits=LIMITS
            )
            neighbour = pool.submit(
                run_in_sandbox, BENIGN, checks=BENIGN_CHECKS, timeout_s=30, limits=LIMITS
            )
            contained = Contained(hostile_run.result(), neighbour.result())
        assert contained.neighbour.status == "passed", contained.neighbour
        assert leftover_processes() == []
        assert host_service.answers()
        return contained

    return run
