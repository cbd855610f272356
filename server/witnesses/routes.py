"""Witness routes: history, rerun, and ad-hoc runs (loopback only in local mode)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from server.db import unit_of_work
from server.deps import SessionDep
from server.people.deps import CodeRunner
from server.witnesses import service
from server.witnesses.result import RunResult
from server.witnesses.sandbox import run_in_sandbox

router = APIRouter(prefix="/api/witnesses", tags=["witnesses"])

MAX_CODE_CHARS = 100_000


class AdHocRun(BaseModel):
    code: str = Field(min_length=1, max_length=MAX_CODE_CHARS)
    checks: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    timeout_s: float = Field(default=10.0, gt=0, le=60)


@router.get("/{key:path}", summary="A witness with its run history (newest first)")
def get_witness(key: str, session: SessionDep) -> dict[str, Any]:
    return service.witness_detail(session, key)


@router.post("/run", summary="Run ad-hoc code in the sandbox (editors; loopback in local mode)")
def run_adhoc(body: AdHocRun, _runner: CodeRunner) -> RunResult:
    return run_in_sandbox(body.code, checks=body.checks, timeout_s=body.timeout_s)


@router.post(
    "/{key:path}/runs", summary="Run a stored witness again and record the run (as for /run)"
)
def rerun(key: str, request: Request, _runner: CodeRunner) -> dict[str, Any]:
    engine = request.app.state.engine
    with unit_of_work(engine, write=False) as session:
        witnesses = service.select_witnesses(session, [key])
        jobs, _ = service.plan_checks(session, witnesses, force=True)
    done = service.run_jobs(jobs, workers=1)  # no transaction is held while the code runs
    with unit_of_work(engine) as session:
        service.record_runs(session, done)
    with unit_of_work(engine, write=False) as session:
        return service.witness_detail(session, jobs[0].key)
