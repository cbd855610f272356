"""Check the store's witnesses in the background after start-up, so pages show real runs.

On SQLite the runs go through the app's run queue in its background lane: a user's run is
always served first and is never refused because the start-up check filled the queue; at
most ``background_share`` of them run at once, at the lowest CPU priority, and they are
recorded in batches (each bumps the store revision once, so cached pages are not rebuilt
after every run), so a large store shows its results as they come rather than at the end.
On PostgreSQL the check is jobs in the database queue instead (``server.witnesses.jobs``),
deferred at low priority and taken by whichever worker is free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future

from sqlalchemy.engine import Engine

from server.db import unit_of_work
from server.errors import Busy
from server.witnesses import service
from server.witnesses.queue import Done, RunQueue

log = logging.getLogger("readingroom.witnesses")

# The start-up check records its runs in batches: every RECORD_EVERY runs or RECORD_S seconds,
# whichever comes first. Each batch bumps the store revision once, and every bump makes the
# cached pages build again, so a check of a large store must not bump it after every run.
RECORD_EVERY = 25
RECORD_S = 5.0


def stale_jobs(engine: Engine) -> list[service.CheckJob]:
    """Every witness without a current passing run."""
    with unit_of_work(engine, write=False) as session:
        witnesses = service.select_witnesses(session, [])
        jobs, _ = service.plan_checks(session, witnesses)
    return jobs


def check_stale_witnesses(engine: Engine, stop: threading.Event, queue: RunQueue) -> int:
    """Run every witness without a current passing run; returns how many were recorded."""
    jobs = deque(stale_jobs(engine))
    window: deque[Future[Done]] = deque()
    batch: Done = []
    recorded: list[service.CheckOutcome] = []
    last_record = time.monotonic()

    def record() -> None:
        nonlocal last_record
        with unit_of_work(engine) as session:
            recorded.extend(service.record_runs(session, batch))
        batch.clear()
        last_record = time.monotonic()

    try:
        while jobs or window:
            while jobs and len(window) < queue.background_share and not stop.is_set():
                window.append(queue.run_jobs([jobs.popleft()], background=True))
            if stop.is_set():
                break
            batch += window.popleft().result()
            if len(batch) >= RECORD_EVERY or time.monotonic() - last_record >= RECORD_S:
                record()
    except (CancelledError, Busy):  # the queue closed: the server is stopping
        pass
    if batch:  # what has run is recorded, even when the server is stopping
        record()
    failed = [o.key for o in recorded if o.status != "passed"]
    if recorded:
        log.info("checked %d witness(es) at start-up; failing: %s", len(recorded), failed or "none")
    return len(recorded)


def start_background_check(
    engine: Engine, queue: RunQueue
) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()

    def run() -> None:
        try:
            check_stale_witnesses(engine, stop, queue)
        except Exception:  # a failed background check must not take the service down
            log.exception("background witness check failed")

    thread = threading.Thread(target=run, name="witness-check", daemon=True)
    thread.start()
    return thread, stop
