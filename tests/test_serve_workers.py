"""`readingroom serve --workers 2` on a fresh store: prepared once, both workers answer.

Which worker answers a connection is up to the kernel, so each worker is shown to answer by
pausing the other (SIGSTOP: it cannot accept) while a request is made. TCP_NODELAY is read
from the accepted socket itself, copied out of the worker with pidfd_getfd.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server import migrations
from server.db import make_engine, normalise_url
from tests.conftest import VALID_CONTENT
from tests.serving import free_port

pytestmark = pytest.mark.slow

PIDFD_GETFD = 438  # the syscall's number on x86_64 and aarch64 alike (asm-generic)
FIXTURE_CONCEPTS = len(list(VALID_CONTENT.glob("*/*.md")))


@contextmanager
def serving_workers(
    tmp_path: Path, database_url: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("READINGROOM_")}
    env.update(
        READINGROOM_DATABASE_URL=database_url,
        READINGROOM_CONTENT_DIR=str(VALID_CONTENT),
        READINGROOM_CHECK_WITNESSES_ON_START="false",
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
    )
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=out)
    try:
        yield port, process
    finally:
        workers = worker_pids(process.pid)
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        process.send_signal(signal.SIGTERM)  # the parent stops its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pid in workers:  # never leave a worker holding the port
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def worker_pids(parent: int) -> list[int]:
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return []
    pids = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            pids.append(int(child))
    return sorted(pids)


def wait_for_workers(process: subprocess.Popen[bytes], log: Path) -> list[int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited:\n{log.read_text()}"
        workers = worker_pids(process.pid)
        if len(workers) == 2 and log.read_text().count("Application startup complete") == 2:
            return workers
        time.sleep(0.2)
    raise AssertionError(f"two workers did not start:\n{log.read_text()}")


def get_health(port: int, timeout: float) -> dict[str, object] | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/api/health")
        response = connection.getresponse()
        return dict(json.loads(response.read())) if response.status == 200 else None
    except OSError:
        return None
    finally:
        connection.close()


def answers_alone(port: int, serving: int, paused: int) -> dict[str, object]:
    """A request made while ``paused`` cannot accept is answered by ``serving``.

    The pause stays short: the parent replaces a worker that misses its health checks.
    """
    os.kill(paused, signal.SIGSTOP)
    try:
        health = get_health(port, timeout=3)
    finally:
        os.kill(paused, signal.SIGCONT)
    assert health is not None, f"worker {serving} did not answer while {paused} was paused"
    return health


def accepted_socket(workers: list[int], client: socket.socket) -> socket.socket:
    """The server side of ``client``'s connection, copied out of whichever worker holds it."""
    libc = ctypes.CDLL(None, use_errno=True)
    peer = client.getsockname()
    for pid in workers:
        pidfd = os.pidfd_open(pid)
        try:
            for name in os.listdir(f"/proc/{pid}/fd"):
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
                fd = libc.syscall(PIDFD_GETFD, pidfd, int(name), 0)
                if fd < 0:
                    error = ctypes.get_errno()
                    pytest.skip(f"pidfd_getfd refused here: {os.strerror(error)}")
                sock = socket.socket(fileno=fd)
                try:
                    if sock.type == socket.SOCK_STREAM and sock.getpeername() == peer:
                        return sock
                except OSError:
                    pass
                sock.close()
        finally:
            os.close(pidfd)
    raise AssertionError("no worker holds the accepted connection")


def check_two_workers(tmp_path: Path, database_url: str) -> None:
    with serving_workers(tmp_path, database_url) as (port, process):
        log = tmp_path / "serve.log"
        first, second = wait_for_workers(process, log)
        answers_alone(port, serving=first, paused=second)
        health = answers_alone(port, serving=second, paused=first)
        assert health["revision"] == 1  # one ingest, made by the parent before the workers

        # a kept-alive connection: the accepted socket has Nagle's algorithm off
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(2):
                connection.request("GET", "/api/health")
                response = connection.getresponse()
                response.read()
                assert response.status == 200 and not response.will_close
            assert connection.sock is not None
            server_side = accepted_socket([first, second], connection.sock)
            with server_side:
                nodelay = server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            connection.close()
        assert nodelay == 1
    output = log.read_text()
    assert "Traceback" not in output and "locked" not in output, output
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert [row[0] for row in versions] == [migrations.head_revision()]
            concepts = connection.execute(text("SELECT count(*) FROM concept")).scalar()
            assert concepts == FIXTURE_CONCEPTS
    finally:
        engine.dispose()


def test_two_workers_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    check_two_workers(tmp_path, f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.db
def test_two_workers_on_a_fresh_postgresql_database(tmp_path: Path) -> None:
    backend = os.environ.get("READINGROOM_TEST_DATABASE", "sqlite")
    if not backend.startswith("postgresql"):
        pytest.skip("the PostgreSQL run (READINGROOM_TEST_DATABASE) covers this")
    name = f"readingroom_workers_{uuid.uuid4().hex[:10]}"
    admin = make_engine(backend).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(backend)).set(database=name).render_as_string(False)
    try:
        check_two_workers(tmp_path, url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
