"""Check the store's witnesses in the background after start-up, so pages show real runs.

The runs go through the app's run queue in its background lane, one at a time: a user's run
is always served first and is never refused because the start-up check filled the queue.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import CancelledError

from sqlalchemy.engine import Engine

from server.db import unit_of_work
from server.errors import Busy
from server.witnesses import service
from server.witnesses.queue import RunQueue
from server.witnesses.result import RunResult

log = logging.getLogger("readingroom.witnesses")


def check_stale_witnesses(engine: Engine, stop: threading.Event, queue: RunQueue) -> int:
    """Run every witness without a current passing run; returns how many ran."""
    with unit_of_work(engine, write=False) as session:
        witnesses = service.select_witnesses(session, [])
        jobs, _ = service.plan_checks(session, witnesses)
    done: list[tuple[service.CheckJob, RunResult]] = []
    for job in jobs:
        if stop.is_set():
            return 0
        try:
            done += queue.run_jobs([job], background=True).result()
        except (CancelledError, Busy):  # the queue closed: the server is stopping
            return 0
    if not done or stop.is_set():
        return 0
    with unit_of_work(engine) as session:
        outcomes = service.record_runs(session, done)
    failed = [o.key for o in outcomes if o.status != "passed"]
    log.info("checked %d witness(es) at start-up; failing: %s", len(outcomes), failed or "none")
    return len(outcomes)


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
