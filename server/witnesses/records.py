"""Witness run records: the latest run of each witness and whether it is stale."""

from __future__ import annotations

from sqlmodel import Session, col, select

from server.models import Witness, WitnessRun
from server.witnesses.cache import current_cache_key


def latest_runs(session: Session, keys: list[str]) -> dict[str, WitnessRun]:
    """The newest recorded run of each witness key that has one."""
    latest: dict[str, WitnessRun] = {}
    if not keys:
        return latest
    runs = session.exec(
        select(WitnessRun)
        .where(col(WitnessRun.witness_key).in_(keys))
        .order_by(col(WitnessRun.created_at), col(WitnessRun.id))
    )
    for run in runs:
        latest[run.witness_key] = run
    return latest


def witness_states(
    session: Session, witnesses: list[Witness]
) -> dict[str, tuple[WitnessRun | None, bool]]:
    """key -> (latest run, stale); a run is stale when its cache key no longer matches."""
    latest = latest_runs(session, [w.key for w in witnesses])
    states: dict[str, tuple[WitnessRun | None, bool]] = {}
    for witness in witnesses:
        run = latest.get(witness.key)
        stale = run is not None and run.cache_key != current_cache_key(witness)
        states[witness.key] = (run, stale)
    return states
