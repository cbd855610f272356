"""The server under load: 10, 100 and 1,000 concurrent connections on loopback.

    python bench/load.py [--seconds 10] [--runs 45] [--run-seconds 1] [--levels 10,100,1000]

Starts a real ``readingroom serve`` (its own temporary SQLite database, the bundled content,
the start-up witness check off) on a random loopback port. For each level it keeps that many
connections busy (page, list, graph and demo-evaluation requests, each connection sending
one request after another) while ``--runs`` witness runs (``time.sleep`` of ``--run-seconds``
in the sandbox) are kept waiting in the run queue, and probes ``/api/health`` on a fresh
connection every 50 ms. Clients wait as long as a 503's ``Retry-After`` says before their
next request, as well-behaved clients do. The health probe is a process of its own, so its
latency is the server's, not the wait of a client loop that also drives the load. Prints,
per level, the counts of 2xx, 429/503 and 5xx answers, and the p50/p99 latency of
``/api/health``. Everything stops by itself after each level's ``--seconds`` (each request
also has its own timeout); nothing leaves loopback.

Aim: 0 x 5xx at 1,000 connections and /api/health p99 < 1 s while 45 runs are queued.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import HOST, serving

REQUEST_TIMEOUT_S = 30.0
KEEP_ALIVE_S = 4  # just under the server's default idle keep-alive timeout
# what a request may end in besides an answer: counted, never raised
FAILURES = (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError)
CONCEPT = "/api/concepts/generative-models/normalizing-flows"
DEMO_SPEC = {
    "spec": {
        "type": "chain",
        "dim": 2,
        "base": {"type": "normal"},
        "layers": [{"type": "affine", "A": [[1.2, 0.3], [0.1, 0.9]], "b": [0.5, -0.2]}],
    }
}
LOAD = [
    ("GET", CONCEPT, None),
    ("GET", "/api/concepts", None),
    ("GET", "/api/graph", None),
    ("GET", "/concepts/generative-models/normalizing-flows", None),
    ("POST", "/api/demos/evaluate", DEMO_SPEC),
]


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, status: int) -> None:
        if 200 <= status < 300:
            self.statuses["2xx"] += 1
        elif status in (429, 503):
            self.statuses["429/503"] += 1
        elif status >= 500:
            self.statuses["5xx"] += 1
        else:
            self.statuses[str(status)] += 1


class Connection:
    """One kept-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: object | None) -> tuple[int, float]:
        """The status of the answer, and its ``Retry-After`` in seconds (0 if none)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed before answering")
        status = int(status_line.split()[1])
        length, close, retry_after = 0, False, 0.0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
            elif name.lower() == "retry-after" and value.strip().isdigit():
                retry_after = float(value)
        await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, retry_after

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def keep_busy(port: int, until: float, tally: Tally, offset: int) -> None:
    connection = Connection(port)
    n = offset
    while time.monotonic() < until:
        method, path, body = LOAD[n % len(LOAD)]
        n += 1
        try:
            status, retry_after = await asyncio.wait_for(
                connection.request(method, path, body), REQUEST_TIMEOUT_S
            )
            tally.add(status)
            if retry_after:  # a well-behaved client waits as it is told
                await asyncio.sleep(retry_after)
                if retry_after >= KEEP_ALIVE_S:  # the server has closed it by now
                    await connection.close()
        except FAILURES as error:
            tally.errors[type(error).__name__] += 1
            await connection.close()
            await asyncio.sleep(0.05)
    await connection.close()


async def keep_running(port: int, until: float, tally: Tally, run_s: float) -> None:
    """Keep one witness run waiting or running until ``until``; refused runs retry shortly."""
    code = f"import time\ntime.sleep({run_s})\nprint('slept')\n"
    body = {"code": code, "checks": [{"kind": "stdout", "expected": "slept"}], "timeout_s": 30}
    connection = Connection(port)
    while time.monotonic() < until:
        try:
            status, retry_after = await asyncio.wait_for(
                connection.request("POST", "/api/witnesses/run", body), 120
            )
            tally.add(status)
            if status != 200:
                await asyncio.sleep(retry_after or 0.5)
        except FAILURES as error:
            tally.errors[type(error).__name__] += 1
            await connection.close()
            await asyncio.sleep(0.5)
    await connection.close()


def probe_health(port: int, seconds: float) -> None:
    """The probe process: a fresh connection to ``/api/health`` every 50 ms for ``seconds``;
    prints one JSON line: the latencies of the 200s, and the tally of the rest."""
    latencies: list[float] = []
    tally = Tally()
    request = f"GET /api/health HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            with socket.create_connection((HOST, port), timeout=REQUEST_TIMEOUT_S) as sock:
                sock.sendall(request.encode())
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            status = int(answer.split(b" ", 2)[1])
            tally.add(status)
            if status == 200:
                latencies.append(time.monotonic() - started)
        except FAILURES as error:
            tally.errors[type(error).__name__] += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))
    print(json.dumps({"latencies": latencies, "statuses": tally.statuses, "errors": tally.errors}))


async def probe_process(port: int, seconds: float) -> tuple[list[float], Tally]:
    probe = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--probe", str(port), "--seconds", str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await probe.communicate()
    found = json.loads(out)
    return found["latencies"], Tally(Counter(found["statuses"]), Counter(found["errors"]))


async def level(port: int, connections: int, seconds: float, runs: int, run_s: float) -> None:
    load, run_tally = Tally(), Tally()
    now = time.monotonic()
    # the runs start first, so the queue is full before the load and the probes begin
    run_tasks = [
        asyncio.create_task(keep_running(port, now + seconds + 2, run_tally, run_s))
        for _ in range(runs)
    ]
    await asyncio.sleep(2)
    until = time.monotonic() + seconds
    probe = asyncio.create_task(probe_process(port, seconds))
    tasks = [asyncio.create_task(keep_busy(port, until, load, n)) for n in range(connections)]
    await asyncio.gather(*tasks)
    latencies, health_tally = await probe
    for task in run_tasks:
        task.cancel()
    await asyncio.gather(*run_tasks, return_exceptions=True)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else float("nan")  # noqa: E501
    print(
        f"{connections:>5} connections, {seconds:g} s, {runs} runs kept queued: "
        f"load 2xx {load.statuses['2xx']}, 429/503 {load.statuses['429/503']}, "
        f"5xx {load.statuses['5xx']}, other {_other(load)}, connection errors "
        f"{sum(load.errors.values())} {dict(load.errors) or ''}".rstrip()
    )
    print(
        f"       runs: 2xx {run_tally.statuses['2xx']}, 429/503 {run_tally.statuses['429/503']},"
        f" 5xx {run_tally.statuses['5xx']}; /api/health: {len(latencies)} probes, "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies, default=0) * 1000:.0f} ms, "
        f"429/503 {health_tally.statuses['429/503']}, 5xx {health_tally.statuses['5xx']}, "
        f"errors {sum(health_tally.errors.values())}"
    )


def _other(tally: Tally) -> str:
    other = {k: v for k, v in tally.statuses.items() if k not in ("2xx", "429/503", "5xx")}
    return str(sum(other.values())) + (f" {other}" if other else "")


def raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, needed))
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each level")
    parser.add_argument("--runs", type=int, default=45, help="witness runs kept queued")
    parser.add_argument("--run-seconds", type=float, default=1.0, help="length of one run")
    parser.add_argument("--levels", default="10,100,1000", help="connection counts")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="READINGROOM_NAME=VALUE",
        help="a setting for the server (repeatable)",
    )
    parser.add_argument("--probe", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe_health(args.probe, args.seconds)
        return
    levels = [min(int(n), 2000) for n in args.levels.split(",")]  # bounded
    raise_open_file_limit(max(levels) + args.runs + 512)  # the server inherits it
    settings = dict(item.partition("=")[::2] for item in args.setting)
    with tempfile.TemporaryDirectory(prefix="readingroom-load-") as tmp:
        database = f"sqlite:///{Path(tmp) / 'load.db'}"
        with (
            open(Path(tmp) / "serve.log", "wb") as log,
            serving(Path(tmp), database, settings=settings, stderr=log, timeout=120) as (base, _),
        ):
            port = int(base.rpartition(":")[2])
            print(f"readingroom serve on {HOST}:{port}; levels {levels}, cores {os.cpu_count()}")
            for connections in levels:
                asyncio.run(level(port, connections, args.seconds, args.runs, args.run_seconds))
        crashes = (Path(tmp) / "serve.log").read_text(errors="replace").count("Traceback")
        print(f"server log: {crashes} traceback(s)")

if __name__ == "__main__":
    main()
