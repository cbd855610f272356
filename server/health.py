"""``GET /api/health``: the service answers and its database is reachable.

The route is async and reads a snapshot: it takes no thread of the request pool and no
database connection, so it answers at once however busy both are. A :class:`HealthMonitor`
(one thread of its own, started and stopped by the app's lifespan) keeps the snapshot:
``SELECT 1`` and the store revision every :data:`REFRESH_S`, and at once after a session
commits a revision bump, so a client that has just written sees its write's revision. A
snapshot that could not be refreshed for :data:`STALE_AFTER_S`, or a database that does not
answer, makes health answer 503.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server import __version__
from server.errors import ReadingRoomError
from server.store import BUMPED, current_revision

router = APIRouter(prefix="/api", tags=["health"])

REFRESH_S = 1.0  # how often the monitor asks the database
STALE_AFTER_S = 10.0  # a snapshot older than this is not an answer
FRESH_WAIT_S = 2.0  # how long a request waits for the snapshot after a revision bump
_COMMITTED_BUMP = "readingroom_health_bump"


class Unhealthy(ReadingRoomError):
    status_code = 503
    code = "unhealthy"


@dataclass(frozen=True)
class Snapshot:
    """What the monitor last saw: the database's answer, the revision, and when."""

    reachable: bool
    revision: int
    checked_at: float  # time.monotonic()
    generation: int  # bumps committed before this snapshot was taken
    problem: str | None = None
    jobs: dict[str, int] | None = None  # PostgreSQL: the witness job queue, as last seen


class HealthMonitor:
    """Keeps :class:`Snapshot` current from a thread of its own; the route only reads it."""

    def __init__(self, engine: Engine, refresh_s: float = REFRESH_S) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.refresh_s = refresh_s
        self.snapshot = Snapshot(False, 0, float("-inf"), -1, "not checked yet")
        self.generation = 0  # revision bumps committed in this process
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> HealthMonitor:
        event.listen(Session, "before_commit", self._before_commit)
        event.listen(Session, "after_commit", self._after_commit)
        self.refresh()  # the first answer is a real one
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        event.remove(Session, "before_commit", self._before_commit)
        event.remove(Session, "after_commit", self._after_commit)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the monitor's side --------------------------------------------------------------

    def _before_commit(self, session: Session) -> None:
        if session.info.get(BUMPED):  # set by bump_revision; the page cache pops it later
            session.info[_COMMITTED_BUMP] = True

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_COMMITTED_BUMP, False):
            with self._lock:
                self.generation += 1
            self._wake.set()

    def refresh(self) -> Snapshot:
        """Ask the database now (from the monitor's thread, or at start)."""
        with self._lock:
            generation = self.generation
        try:
            with Session(self.engine) as session:
                session.exec(text("SELECT 1"))  # type: ignore[call-overload]
                revision = current_revision(session)
            snapshot = Snapshot(True, revision, time.monotonic(), generation, jobs=self._jobs())
        except Exception as error:  # any failure to answer is the answer
            why = f"the database did not answer: {type(error).__name__}"
            snapshot = Snapshot(False, self.snapshot.revision, time.monotonic(), generation, why)
        self.snapshot = snapshot
        self._notify()
        return snapshot

    def _jobs(self) -> dict[str, int] | None:
        if self.dialect != "postgresql":
            return None  # SQLite has no job queue
        from server.witnesses.jobs import queue_state

        return queue_state(self.engine)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.refresh_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.refresh()

    def _notify(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    # -- the route's side ----------------------------------------------------------------

    async def current(self) -> Snapshot:
        """The snapshot, once it has seen every revision bump committed so far."""
        snapshot = self.snapshot
        deadline = time.monotonic() + FRESH_WAIT_S
        while snapshot.generation < self.generation and time.monotonic() < deadline:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            with self._lock:
                self._waiters.append((asyncio.get_running_loop(), future))
            self._wake.set()
            if self.snapshot.generation >= self.generation:  # refreshed meanwhile
                future.cancel()
            else:
                try:
                    await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    break
            snapshot = self.snapshot
        return self.snapshot


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@router.get("/health", summary="Liveness and database reachability")
async def health(request: Request) -> dict[str, Any]:
    monitor: HealthMonitor = request.app.state.health
    snapshot = await monitor.current()
    age = time.monotonic() - snapshot.checked_at
    if not snapshot.reachable:
        raise Unhealthy(snapshot.problem or "the database did not answer")
    if age > STALE_AFTER_S:
        raise Unhealthy(f"the database has not answered for {age:.0f} s")
    return {
        "status": "ok",
        "version": __version__,
        "database": monitor.dialect,
        "revision": snapshot.revision,
        "sandbox": request.app.state.sandbox,
        **({} if snapshot.jobs is None else {"witness_jobs": snapshot.jobs}),
    }
