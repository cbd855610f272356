"""Witness checks as jobs in the database, for PostgreSQL: any host's worker takes them.

On PostgreSQL a check of a stored witness is a job in procrastinate's queue, in the store's
own database (its schema is a migration). ``readingroom worker`` processes, on any host that
reaches the database, take the jobs, run each witness in their own sandbox and record the run
in the store; ``readingroom check`` defers one job per witness that needs a run and follows
them to the end; the server defers its start-up check at low priority and also takes
``READINGROOM_SERVE_JOB_WORKERS`` jobs at a time itself. A user's check goes first: its jobs
have a higher priority, and a witness already waiting in the queue is raised to it. One job
per witness and version waits at a time (procrastinate's queueing lock), so several servers
starting on one database check each witness once.

SQLite has no queue: runs there stay in the process that asks for them
(``server.witnesses.queue``). Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import select

from server.db import normalise_url, unit_of_work
from server.models import Witness
from server.witnesses import service
from server.witnesses.records import latest_runs

if TYPE_CHECKING:
    import procrastinate

log = logging.getLogger("readingroom.witnesses")

QUEUE = "witnesses"
TASK = "readingroom.check_witness"
BUMP_TASK = "readingroom.bump_revision"
BUMP_LOCK = "readingroom.bump_revision"  # at most one bump waits at a time
USER_PRIORITY = 10  # `readingroom check`: before the start-up check's jobs
BACKGROUND_PRIORITY = -10  # the start-up check
HEARTBEAT_S = 5.0  # how often a worker says it is alive
ALIVE_S = 3 * HEARTBEAT_S  # a worker heard from within this long is taking jobs
ENDED = ("succeeded", "failed", "cancelled", "aborted")


def uses_job_queue(database_url: str) -> bool:
    """Checks go through the database queue on PostgreSQL only."""
    return make_url(normalise_url(database_url)).get_backend_name() == "postgresql"


def conninfo(database_url: str) -> str:
    """The store's URL as psycopg itself takes it (without SQLAlchemy's driver name)."""
    url = make_url(normalise_url(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def job_app(database_url: str) -> procrastinate.App:
    """A procrastinate app on the store's database, with the witness task registered."""
    import procrastinate

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=4
        )
    )
    app.task(name=TASK, queue=QUEUE, pass_context=True)(check_witness)
    app.task(name=BUMP_TASK, queue=QUEUE, pass_context=True, priority=USER_PRIORITY)(
        bump_store_revision
    )
    return app


def lock_for(key: str, cache_key: str, force: bool) -> str:
    return f"{key}@{cache_key}" + ("!" if force else "")


# -- the task ------------------------------------------------------------------------------


def check_witness(context: Any, witness_key: str, force: bool = False) -> str:
    """Run one stored witness (as it is now) and record the run; its status, or why not.

    A witness that is gone, or that passed at its current version meanwhile, is not run again
    (unless ``force``). Jobs below the default priority (the start-up check) run at the lowest
    CPU priority.
    """
    engine: Engine = context.additional_context["engine"]
    with unit_of_work(engine, write=False) as session:
        witnesses = list(session.exec(select(Witness).where(Witness.key == witness_key)))
        todo, cached = service.plan_checks(session, witnesses, force=force)
    if not todo:
        return "cached" if cached else "gone"
    background = (context.job.priority or 0) < 0
    done = service.run_jobs(todo, workers=1, background=background)
    # A waiting worker's low-priority runs share one bump every few seconds (each bump makes
    # cached pages build again); a worker that stops once caught up bumps at once.
    coalesce = background and context.additional_context.get("coalesce_bumps", False)
    with unit_of_work(engine) as session:
        outcomes = service.record_runs(session, done, bump=not coalesce)
    if coalesce:
        schedule_bump(context.app)
    return outcomes[0].status


def bump_store_revision(context: Any) -> None:
    """Show the start-up check's recorded runs: one revision bump for all of them so far."""
    from server.store import bump_revision

    with unit_of_work(context.additional_context["engine"]) as session:
        bump_revision(session)


def schedule_bump(app: procrastinate.App) -> None:
    from procrastinate import exceptions
    from procrastinate.types import TimeDeltaParams

    from server.witnesses.background import RECORD_S

    task = app.tasks[BUMP_TASK]
    with contextlib.suppress(exceptions.AlreadyEnqueued):  # a bump already waits: it shows ours
        delay: TimeDeltaParams = {"seconds": math.ceil(RECORD_S)}
        task.configure(queueing_lock=BUMP_LOCK, schedule_in=delay).defer()


# -- deferring and following ---------------------------------------------------------------


def defer_checks(
    app: procrastinate.App,
    engine: Engine,
    jobs: Iterable[service.CheckJob],
    *,
    priority: int,
    force: bool = False,
) -> dict[str, int]:
    """One job per witness; a witness already waiting keeps its job (raised to ``priority``).

    Returns witness key -> job id. ``app`` must be open.
    """
    from procrastinate import exceptions

    task = app.tasks[TASK]
    ids: dict[str, int] = {}
    for job in jobs:
        lock = lock_for(job.key, job.cache_key, force)

        def defer(key: str = job.key, lock: str = lock) -> int:
            return task.configure(priority=priority, queueing_lock=lock).defer(
                witness_key=key, force=force
            )

        try:
            ids[job.key] = defer()
        except exceptions.AlreadyEnqueued:
            waiting = _raise_waiting(engine, lock, priority)
            # None: taken by a worker just now, so a new job for this version may wait again
            ids[job.key] = waiting if waiting is not None else defer()
    return ids


def _raise_waiting(engine: Engine, lock: str, priority: int) -> int | None:
    with engine.begin() as connection:
        found = connection.execute(
            text(
                "UPDATE procrastinate_jobs SET priority = GREATEST(priority, :priority)"
                " WHERE queueing_lock = :lock AND status = 'todo' RETURNING id"
            ),
            {"lock": lock, "priority": priority},
        ).scalar()
    return None if found is None else int(found)


def _count(engine: Engine, query: str, **values: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(query), values).scalar() or 0)


def waiting_user_jobs(engine: Engine) -> int:
    """Jobs at a user's priority not yet taken: the queue's backlog for requests."""
    return _count(
        engine,
        "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = :queue"
        " AND status = 'todo' AND priority >= :priority",
        queue=QUEUE,
        priority=USER_PRIORITY,
    )


def queue_state(engine: Engine) -> dict[str, int]:
    """What ``/api/health`` shows of the queue: jobs waiting and running, workers alive."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT"
                " (SELECT count(*) FROM procrastinate_jobs WHERE queue_name = :queue"
                "  AND status = 'todo' AND scheduled_at IS NULL),"
                " (SELECT count(*) FROM procrastinate_jobs WHERE queue_name = :queue"
                "  AND status = 'doing'),"
                " (SELECT count(*) FROM procrastinate_jobs WHERE queue_name = :queue"
                "  AND status = 'failed'),"
                " (SELECT count(*) FROM procrastinate_workers"
                "  WHERE last_heartbeat > now() - make_interval(secs => :alive))"
            ),
            {"queue": QUEUE, "alive": ALIVE_S},
        ).one()
    waiting, running, failed, workers = (int(value or 0) for value in row)
    return {"waiting": waiting, "running": running, "failed": failed, "workers": workers}


def live_workers(engine: Engine) -> int:
    """Workers (``readingroom worker``, servers taking jobs) heard from recently."""
    return _count(
        engine,
        "SELECT count(*) FROM procrastinate_workers"
        " WHERE last_heartbeat > now() - make_interval(secs => :alive)",
        alive=ALIVE_S,
    )


def job_states(engine: Engine, ids: Iterable[int]) -> dict[int, str]:
    """Job id -> status; a finished job the worker deleted counts as ``succeeded``."""
    wanted = list(ids)
    if not wanted:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, status FROM procrastinate_jobs WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": wanted},
        ).all()
    found = {int(row[0]): str(row[1]) for row in rows}
    return {job: found.get(job, "succeeded") for job in wanted}


def follow(
    engine: Engine,
    ids: dict[str, int],
    on_done: Callable[[str, str], None] | None = None,
    *,
    poll_s: float = 0.2,
    still_running: Callable[[], bool] | None = None,
) -> dict[str, str]:
    """Wait until every job has ended; witness key -> the job's final status.

    ``still_running``, when given, is asked between polls: once it says no (a worker run here
    has caught up), jobs not ended are reported as they stand rather than waited for.
    """
    by_id = {job: key for key, job in ids.items()}
    ended: dict[str, str] = {}
    while len(ended) < len(ids):
        states = job_states(engine, [job for job, key in by_id.items() if key not in ended])
        for job, status in states.items():
            if status in ENDED:
                ended[by_id[job]] = status
                if on_done is not None:
                    on_done(by_id[job], status)
        if len(ended) == len(ids):
            break
        if still_running is not None and not still_running():
            left = [job for job, key in by_id.items() if key not in ended]
            for job, status in job_states(engine, left).items():
                ended[by_id[job]] = status
            break
        time.sleep(poll_s)
    return ended


def outcomes_of(
    engine: Engine, ended: dict[str, str], since: dict[str, int | None]
) -> list[service.CheckOutcome]:
    """What the jobs recorded: each witness's newest run, if it is newer than ``since``."""
    with unit_of_work(engine, write=False) as session:
        latest = latest_runs(session, list(ended))
    outcomes = []
    for key, status in ended.items():
        run = latest.get(key)
        if run is None or run.id == since.get(key) or status != "succeeded":
            why = "the job was " + status if status != "succeeded" else "no run was recorded"
            if status == "failed":
                why = "the job failed in its worker (see the worker's log)"
            outcomes.append(service.CheckOutcome(key, "error", False, 0.0, why))
            continue
        message = None
        if run.status != "passed":
            message = run.stderr.rstrip("\n").rpartition("\n")[2] or None
        outcomes.append(service.CheckOutcome(key, run.status, False, run.duration_ms, message))
    return outcomes


def newest_run_ids(engine: Engine, keys: list[str]) -> dict[str, int | None]:
    with unit_of_work(engine, write=False) as session:
        return {key: run.id for key, run in latest_runs(session, keys).items()}


# -- workers -------------------------------------------------------------------------------


@dataclass
class WorkerOptions:
    concurrency: int = 1
    wait: bool = True
    name: str | None = None
    install_signal_handlers: bool = True
    listen_notify: bool = True

    def as_kwargs(self, engine: Engine) -> dict[str, Any]:
        return {
            "queues": [QUEUE],
            "concurrency": self.concurrency,
            "wait": self.wait,
            "name": self.name or f"readingroom-{os.uname().nodename}-{os.getpid()}",
            "install_signal_handlers": self.install_signal_handlers,
            "listen_notify": self.listen_notify,
            "additional_context": {"engine": engine, "coalesce_bumps": self.wait},
            "delete_jobs": "successful",  # failed jobs stay, to be looked into
            "update_heartbeat_interval": HEARTBEAT_S,
            "stalled_worker_timeout": ALIVE_S,
            "fetch_job_polling_interval": 1.0,
        }


def run_worker(database_url: str, engine: Engine, options: WorkerOptions) -> None:
    """Take jobs until stopped (``wait``) or until the queue has caught up."""
    app = job_app(database_url)
    app.run_worker(**options.as_kwargs(engine))


class BackgroundWorker:
    """A worker in a thread of its own (with its own event loop): the server's, or the one
    ``readingroom check`` runs when no worker is taking jobs."""

    def __init__(self, database_url: str, engine: Engine, options: WorkerOptions) -> None:
        self.app = job_app(database_url)
        self.engine = engine
        self.options = WorkerOptions(**{**options.__dict__, "install_signal_handlers": False})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, name="witness-jobs", daemon=True)

    def start(self) -> BackgroundWorker:
        self.thread.start()
        self._started.wait(timeout=30)
        return self

    def running(self) -> bool:
        return self.thread.is_alive()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except asyncio.CancelledError:
            pass
        except Exception:  # the server goes on without taking jobs itself
            log.exception("the witness job worker stopped")
        finally:
            self._started.set()
            loop.close()

    async def _main(self) -> None:
        self._task = asyncio.current_task()
        self._started.set()
        async with self.app.open_async():
            await self.app.run_worker_async(**self.options.as_kwargs(self.engine))

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop taking jobs; a run in progress is finished first (up to ``timeout_s``)."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has just ended on its own
                loop.call_soon_threadsafe(task.cancel)
        self.thread.join(timeout=timeout_s)


def defer_start_up_check(database_url: str, engine: Engine) -> int:
    """The server's start-up check on PostgreSQL: low-priority jobs; how many were deferred."""
    from server.witnesses.background import stale_jobs

    jobs = stale_jobs(engine)
    if not jobs:
        return 0
    app = job_app(database_url)
    with app.open():
        ids = defer_checks(app, engine, jobs, priority=BACKGROUND_PRIORITY)
    log.info("deferred %d witness check(s) at start-up to the job queue", len(ids))
    return len(ids)
