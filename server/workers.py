"""``readingroom serve --workers N``: the store prepared once, then N processes on one socket.

The parent migrates and ingests (under the start-up lock, see ``server.startlock``), binds
the listening socket, and hands it to N spawned worker processes supervised by uvicorn's
``Multiprocess`` (a worker that dies is replaced). Each worker builds its own app with
``ingest_on_start`` off, so nothing in a worker writes the schema or the content.

uvicorn's socket for several workers is made with protocol 0, and asyncio sets TCP_NODELAY
only on sockets whose protocol is TCP, so its workers answer a kept-alive request about 40 ms
late (Nagle's algorithm meeting delayed ACKs). The protocol here sets TCP_NODELAY on every
accepted connection itself.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from server import serving
from server.config import Settings


def nodelay_protocol(settings: Settings) -> type[Any]:
    """The server's HTTP protocol (``server.serving``), with TCP_NODELAY on each connection."""
    base = serving.protocol_for(settings)

    class NoDelayProtocol(base):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)

    return NoDelayProtocol


class WorkerConfig(uvicorn.Config):
    """uvicorn's config, pickled into each spawned worker, which builds the app there.

    One worker at a time holds ``check_lock`` (a file lock, released when its process ends):
    that worker alone runs the start-up witness check, so N workers do not run it N times.
    """

    def __init__(self, settings: Settings, check_lock: str, **options: Any) -> None:
        super().__init__("server.app:create_app", **options)
        self.readingroom_settings = settings
        self.check_lock = check_lock

    def load(self) -> None:
        from server.app import create_app

        settings = self.readingroom_settings.model_copy(update={"ingest_on_start": False})
        if settings.check_witnesses_on_start and not _hold_lock(self.check_lock):
            settings = settings.model_copy(update={"check_witnesses_on_start": False})
        self.app = create_app(settings)
        self.http = nodelay_protocol(settings)
        super().load()


_held: list[int] = []  # lock descriptors kept open for the life of the worker


def _hold_lock(path: str) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": settings.access_log,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "backlog": 4096,
    }


def run_workers(settings: Settings, workers: int) -> None:
    """Serve with ``workers`` processes; the caller has already prepared the store."""
    with tempfile.TemporaryDirectory(prefix="readingroom-serve-") as state:
        config = WorkerConfig(
            settings,
            check_lock=str(Path(state) / "start-up-check.lock"),
            workers=workers,
            **uvicorn_options(settings),
        )
        sock = config.bind_socket()
        try:
            Multiprocess(config, sockets=[sock]).run()
        finally:
            sock.close()
