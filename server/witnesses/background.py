"""Check the store's witnesses in the background after start-up, so pages show real runs."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from server.db import unit_of_work
from server.witnesses import service

log = logging.getLogger("readingroom.witnesses")


def check_stale_witnesses(engine: Engine, stop: threading.Event) -> int:
    """Run every witness without a current passing run; returns how many ran."""
    with unit_of_work(engine, write=False) as session:
        witnesses = service.select_witnesses(session, [])
        jobs, _ = service.plan_checks(session, witnesses)
    if not jobs or stop.is_set():
        return 0
    done = service.run_jobs(jobs)
    if stop.is_set():
        return 0
    with unit_of_work(engine) as session:
        outcomes = service.record_runs(session, done)
    failed = [o.key for o in outcomes if o.status != "passed"]
    log.info("checked %d witness(es) at start-up; failing: %s", len(outcomes), failed or "none")
    return len(outcomes)


def start_background_check(engine: Engine) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()

    def run() -> None:
        try:
            check_stale_witnesses(engine, stop)
        except Exception:  # a failed background check must not take the service down
            log.exception("background witness check failed")

    thread = threading.Thread(target=run, name="witness-check", daemon=True)
    thread.start()
    return thread, stop
