"""Checking stored witnesses: cached passes reused, fresh runs recorded (never commits).

``readingroom check`` imports this for a re-check that may find every pass cached: what
only a run, a write or a detail page needs is imported where it is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from server.errors import NotFound
from server.models import Witness, WitnessRun
from server.witnesses.cache import current_cache_key
from server.witnesses.environment import run_environment
from server.witnesses.records import latest_runs, witness_states
from server.witnesses.result import RunResult
from server.witnesses.strength import strength_states

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class CheckJob:
    key: str
    code: str
    checks: list[dict[str, Any]]
    timeout_s: float
    cache_key: str


@dataclass(frozen=True)
class CheckOutcome:
    key: str
    status: str
    cached: bool
    duration_ms: float
    message: str | None = None


def select_witnesses(session: Session, keys: Sequence[str]) -> list[Witness]:
    """Every witness, or the named ones (a concept key names all of its witnesses)."""
    from server.keys import parse_key
    from server.objects.resolve import resolve_key

    query = select(Witness).order_by(col(Witness.concept_key), col(Witness.position))
    if not keys:
        return list(session.exec(query))
    chosen: list[Witness] = []
    for key in keys:
        key = resolve_key(session, key)
        kind = parse_key(key).kind
        if kind == "concept":
            chosen += session.exec(query.where(Witness.concept_key == key)).all()
        elif kind == "witness":
            chosen += session.exec(query.where(Witness.key == key)).all()
        else:
            raise NotFound(f"'{key}' is a {kind}, not a witness or a concept")
    unique = {w.key: w for w in chosen}
    return list(unique.values())


def plan_checks(
    session: Session, witnesses: list[Witness], force: bool = False
) -> tuple[list[CheckJob], list[CheckOutcome]]:
    """Split into jobs to run and passes whose cache key still matches."""
    latest = latest_runs(session, [w.key for w in witnesses])
    jobs, cached = [], []
    for witness in witnesses:
        key = current_cache_key(witness)
        run = latest.get(witness.key)
        if not force and run is not None and run.cache_key == key and run.status == "passed":
            cached.append(CheckOutcome(witness.key, "passed", True, run.duration_ms))
            continue
        jobs.append(CheckJob(witness.key, witness.code, witness.checks, witness.timeout_s, key))
    return jobs, cached


def run_jobs(
    jobs: list[CheckJob],
    workers: int | None = None,
    on_done: Callable[[CheckJob, RunResult], None] | None = None,
    *,
    background: bool = False,
) -> list[tuple[CheckJob, RunResult]]:
    """Run jobs in the sandbox in parallel (no database work here: it may take a while).

    ``background`` runs them at the lowest CPU priority (the start-up check's runs)."""
    from server.witnesses.sandbox import BACKGROUND_LIMITS, run_many  # only a run needs these

    limits = BACKGROUND_LIMITS if background else None
    done: list[tuple[CheckJob, RunResult]] = []
    for job, result in zip(
        jobs,
        run_many([(j.code, j.checks, j.timeout_s) for j in jobs], workers=workers, limits=limits),
        strict=True,
    ):
        done.append((job, result))
        if on_done is not None:
            on_done(job, result)
    return done


def record_run(session: Session, key: str, cache_key: str, result: RunResult) -> WitnessRun:
    digest = hashlib.sha256((result.stdout + "\0" + result.stderr).encode("utf-8")).hexdigest()
    run = WitnessRun(
        witness_key=key,
        cache_key=cache_key,
        status=result.status,
        exit_code=result.exit_code,
        signal=result.signal,
        duration_ms=result.duration_ms,
        stdout=result.stdout,
        stderr=result.stderr,
        outputs_digest=digest,
        checks=[c.model_dump(mode="json") for c in result.checks],
        environment={**run_environment(), "confined": result.confined},
    )
    session.add(run)
    return run


def record_runs(
    session: Session, done: list[tuple[CheckJob, RunResult]], *, bump: bool = True
) -> list[CheckOutcome]:
    """Record the runs; ``bump=False`` leaves the store revision to the caller (the start-up
    check bumps it once for many runs, so cached pages are not rebuilt after every run)."""
    if not done:
        return []  # a re-check with every pass cached writes nothing
    from server.store import bump_revision  # (and its dialects) only when there is a write

    outcomes = []
    for job, result in done:
        record_run(session, job.key, job.cache_key, result)
        message = result.message
        if message is None and result.status != "passed":  # say why: its last words
            message = result.stderr.rstrip("\n").rpartition("\n")[2] or None
        outcomes.append(CheckOutcome(job.key, result.status, False, result.duration_ms, message))
    if bump:
        bump_revision(session)
    return outcomes


def witness_detail(session: Session, key: str) -> dict[str, Any]:
    from server.objects.resolve import resolve_key
    from server.objects.serialize import run_json, witness_json

    key = resolve_key(session, key)
    witness = session.exec(select(Witness).where(Witness.key == key)).first()
    if witness is None:
        raise NotFound(f"'{key}' is not a witness")
    run, stale = witness_states(session, [witness])[key]
    current = current_cache_key(witness)
    history = session.exec(
        select(WitnessRun)
        .where(WitnessRun.witness_key == key)
        .order_by(col(WitnessRun.created_at).desc(), col(WitnessRun.id).desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return {
        **witness_json(witness, run, stale, strength_states(session, [witness])[key]),
        "runs": [run_json(r, r.cache_key != current) for r in history],
    }
