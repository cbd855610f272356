"""Witness routes: history, rerun, and ad-hoc runs (loopback only in local mode).

Runs wait on the app's run queue (``server.witnesses.queue``) without holding a thread of
the request pool; the short database work before and after a run goes to that pool. On
PostgreSQL, while some worker is taking jobs, a rerun of a stored witness is a job in the
database queue instead (``server.witnesses.jobs``): whichever worker is free runs it, and the
request waits for the recorded run. Ad-hoc code is not stored, so it always runs here.
"""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import Future
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from server.db import unit_of_work
from server.deps import SessionDep
from server.errors import BadRequest, Busy, JobFailed, NotFound
from server.keys import parse_key
from server.objects.resolve import resolve_key
from server.people.deps import CodeRunner
from server.witnesses import jobs, service
from server.witnesses.queue import RunQueue
from server.witnesses.result import RunResult

router = APIRouter(prefix="/api/witnesses", tags=["witnesses"])

MAX_CODE_CHARS = 100_000
JOB_POLL_S = 0.1  # how often a request waiting for its job looks at it
T = TypeVar("T")


class AdHocRun(BaseModel):
    code: str = Field(min_length=1, max_length=MAX_CODE_CHARS)
    checks: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    timeout_s: float = Field(default=10.0, gt=0, le=60)


@router.get("/{key:path}", summary="A witness with its run history (newest first)")
def get_witness(key: str, session: SessionDep) -> dict[str, Any]:
    return service.witness_detail(session, key)


@router.post("/run", summary="Run ad-hoc code in the sandbox (editors; loopback in local mode)")
async def run_adhoc(body: AdHocRun, request: Request, _runner: CodeRunner) -> RunResult:
    queue: RunQueue = request.app.state.runs
    return await wait_for_run(request, queue.run_code(body.code, body.checks, body.timeout_s))


@router.post(
    "/{key:path}/runs", summary="Run a stored witness again and record the run (as for /run)"
)
async def rerun(key: str, request: Request, _runner: CodeRunner) -> dict[str, Any]:
    engine: Engine = request.app.state.engine
    queue: RunQueue = request.app.state.runs
    job = await run_in_threadpool(_plan_rerun, engine, key)
    jobs_app = getattr(request.app.state, "jobs", None)
    alive = 0 if jobs_app is None else await run_in_threadpool(jobs.live_workers, engine)
    if alive:
        return await _rerun_as_job(request, jobs_app, engine, queue, job)
    # no transaction is held while the code waits and runs
    done = await wait_for_run(request, queue.run_jobs([job]))
    return await run_in_threadpool(_record_rerun, engine, done)


async def _rerun_as_job(
    request: Request, app: Any, engine: Engine, queue: RunQueue, job: service.CheckJob
) -> dict[str, Any]:
    """Defer the rerun at a user's priority and wait for the worker's recorded run."""
    if await run_in_threadpool(jobs.waiting_user_jobs, engine) >= queue.backlog:
        raise Busy(
            "witness runs are already waiting in the job queue; try again later",
            max(1, math.ceil(queue.typical_run_s)),
        )
    task = app.tasks[jobs.TASK]
    job_id = await task.configure(
        priority=jobs.USER_PRIORITY, queueing_lock=jobs.lock_for(job.key, job.cache_key, True)
    ).defer_async(witness_key=job.key, force=True)
    gone: asyncio.Future[None] = asyncio.ensure_future(_client_gone(request))
    try:
        while True:
            status = (await run_in_threadpool(jobs.job_states, engine, [job_id]))[job_id]
            if status in jobs.ENDED:
                break
            if gone.done() and await app.job_manager.cancel_job_by_id_async(job_id):
                raise BadRequest("the client went away before the run started; it was dropped")
            await asyncio.sleep(JOB_POLL_S)
    finally:
        gone.cancel()
    if status != "succeeded":
        raise JobFailed(f"the job running '{job.key}' ended {status}; see the worker's log")
    with unit_of_work(engine, write=False) as session:
        return service.witness_detail(session, job.key)


async def wait_for_run(request: Request, run: Future[T]) -> T:
    """The run's result; a run still waiting when its client goes away is dropped.

    A run that has started is waited for even then, so that a rerun is still recorded.
    """
    gone: asyncio.Future[None] = asyncio.ensure_future(_client_gone(request))
    result: asyncio.Future[T] = asyncio.wrap_future(run)
    try:
        either: list[asyncio.Future[Any]] = [gone, result]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if gone.done() and run.cancel():
            raise BadRequest("the client went away before the run started; it was dropped")
        return await result
    finally:
        gone.cancel()


async def _client_gone(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass  # the (already read) body; then nothing until the client leaves


def _plan_rerun(engine: Engine, key: str) -> service.CheckJob:
    with unit_of_work(engine, write=False) as session:
        key = resolve_key(session, key)
        kind = parse_key(key).kind
        if kind != "witness":
            raise NotFound(f"'{key}' is a {kind}, not a witness: rerun a witness by its key")
        witnesses = service.select_witnesses(session, [key])
        if not witnesses:
            raise NotFound(f"no witness has the key '{key}'")
        jobs, _ = service.plan_checks(session, witnesses, force=True)
    return jobs[0]


def _record_rerun(engine: Engine, done: list[tuple[service.CheckJob, RunResult]]) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        service.record_runs(session, done)
    with unit_of_work(engine, write=False) as session:
        return service.witness_detail(session, done[0][0].key)

