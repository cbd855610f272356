"""Witness strength: the share of a witness's mutants its checks catch (never commits).

A mutant (``server.witnesses.mutants``) is run in the sandbox under the witness's own checks
and judged by the same judge; it *is caught* when the verdict is anything but ``passed``
(failed, error, timeout, killed, output-limit). Each mutant's verdict is cached in
``mutant_run`` by the mutant's run cache key (its source, the checks and the environment), so
a second measurement runs nothing that ran before. The strength of a witness is stored in
``witness_strength`` under a hash of its code and checks: when either changes, the record is
stale and says nothing about the new code.

A witness is **weak** when it has mutants and its checks catch none of them: such a witness
never counts as verified evidence. It **meets the target** when its checks catch at least
``TARGET`` of the mutants that the content does not declare equivalent (``equivalent_mutants``
in the witness entry), and it is not weak.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from server.models import MutantRun, Witness, WitnessStrength, utcnow
from server.store import bump_revision
from server.witnesses.environment import cache_key
from server.witnesses.mutants import DEFAULT_CAP, Mutant, generate
from server.witnesses.result import RunResult

if TYPE_CHECKING:
    from server.witnesses.service import CheckJob

TARGET = 0.8
# Verdicts worth remembering: the sandbox itself being unavailable says nothing of the mutant.
CACHEABLE = frozenset({"passed", "failed", "error", "timeout", "killed", "output-limit"})


def code_hash(code: str, checks: Sequence[dict[str, Any]]) -> str:
    """What a strength record is keyed by: the witness's code and its checks."""
    payload = json.dumps({"code": code, "checks": list(checks)}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def caught(status: str) -> bool:
    return status != "passed"


@dataclass(frozen=True)
class Measure:
    """The strength of one witness from its mutants' verdicts."""

    key: str
    mutants: int
    caught: int
    total: int
    survivors: tuple[dict[str, str], ...]  # {id, description}
    equivalent: dict[str, str] = field(default_factory=dict)  # id -> why, as declared

    @property
    def share(self) -> float | None:
        return self.caught / self.mutants if self.mutants else None

    @property
    def weak(self) -> bool:
        return self.mutants > 0 and self.caught == 0

    @property
    def unexplained(self) -> list[dict[str, str]]:
        """Survivors the content does not declare equivalent."""
        return [s for s in self.survivors if s["id"] not in self.equivalent]

    @property
    def counted(self) -> int:
        """Mutants that count for the target: all but the survivors declared equivalent."""
        return self.mutants - (len(self.survivors) - len(self.unexplained))

    @property
    def meets_target(self) -> bool:
        if self.weak:
            return False
        return self.counted == 0 or self.caught / self.counted >= TARGET


def measure(
    key: str, mutants: Sequence[Mutant], statuses: dict[str, str], total: int,
    equivalent: Iterable[dict[str, str]] = (),
) -> Measure:  # fmt: skip
    survivors = tuple(
        {"id": m.id, "description": m.description} for m in mutants if not caught(statuses[m.id])
    )
    return Measure(
        key, len(mutants), len(mutants) - len(survivors), total, survivors,
        {e["id"]: e["why"] for e in equivalent},
    )  # fmt: skip


@dataclass
class WitnessMutants:
    witness: Witness
    mutants: tuple[Mutant, ...]
    total: int
    keys: dict[str, str]  # mutant id -> run cache key
    statuses: dict[str, str]  # mutant id -> verdict (cached or fresh)
    cached: int = 0


def plan_mutants(
    session: Session, witnesses: Sequence[Witness], cap: int = DEFAULT_CAP, force: bool = False
) -> tuple[list[WitnessMutants], list[CheckJob]]:
    """Every witness's mutants, their cached verdicts, and the jobs still to run."""
    from server.witnesses.service import CheckJob

    plans: list[WitnessMutants] = []
    for witness in witnesses:
        found = generate(witness.code, cap)
        keys = {m.id: cache_key(m.code, witness.checks) for m in found.mutants}
        plans.append(WitnessMutants(witness, found.mutants, found.total, keys, {}))
    known: dict[str, str] = {}
    if not force:
        wanted = [k for plan in plans for k in plan.keys.values()]
        for start in range(0, len(wanted), 500):
            rows = session.exec(
                select(MutantRun.cache_key, MutantRun.status).where(
                    col(MutantRun.cache_key).in_(wanted[start : start + 500])
                )
            )
            known.update(dict(rows.all()))
    jobs: list[CheckJob] = []
    for plan in plans:
        w = plan.witness
        for mutant in plan.mutants:
            status = known.get(plan.keys[mutant.id])
            if status is not None:
                plan.statuses[mutant.id] = status
                plan.cached += 1
                continue
            jobs.append(
                CheckJob(f"{w.key}#{mutant.id}", mutant.code, w.checks, w.timeout_s,
                         plan.keys[mutant.id])
            )  # fmt: skip
    return plans, jobs


def run_mutants(
    jobs: list[CheckJob],
    workers: int | None = None,
    on_done: Callable[[CheckJob, RunResult], None] | None = None,
) -> list[tuple[CheckJob, RunResult]]:
    """Run mutant jobs in the sandbox, in parallel, as ``readingroom check`` runs witnesses."""
    from server.witnesses import service

    return service.run_jobs(jobs, workers=workers, on_done=on_done)


def record_mutant_runs(
    session: Session, plans: list[WitnessMutants], done: list[tuple[CheckJob, RunResult]]
) -> list[Measure]:
    """Store the fresh verdicts and every planned witness's strength; returns the measures.

    A witness with a mutant that could not be judged (the sandbox unavailable) gets no
    measure and no record.
    """
    by_key = {plan.witness.key: plan for plan in plans}
    existing = {
        row.cache_key: row
        for row in session.exec(
            select(MutantRun).where(col(MutantRun.cache_key).in_([j.cache_key for j, _ in done]))
        )
    } if done else {}  # fmt: skip
    for job, result in done:
        witness_key, _, mutant_id = job.key.partition("#")
        by_key[witness_key].statuses[mutant_id] = result.status
        if result.status not in CACHEABLE:
            continue
        row = existing.get(job.cache_key)
        if row is None:
            row = MutantRun(witness_key=witness_key, mutant_id=mutant_id, cache_key=job.cache_key,
                            status=result.status)  # fmt: skip
            existing[job.cache_key] = row
        row.status, row.duration_ms, row.created_at = result.status, result.duration_ms, utcnow()
        session.add(row)
    measures = []
    for plan in plans:
        if any(plan.statuses.get(m.id) not in CACHEABLE for m in plan.mutants):
            continue
        w = plan.witness
        found = measure(w.key, plan.mutants, plan.statuses, plan.total, w.equivalent_mutants)
        store_strength(session, w, found)
        measures.append(found)
    if measures:
        bump_revision(session)  # pages and prompts show the strength
    return measures


def store_strength(session: Session, witness: Witness, result: Measure) -> WitnessStrength:
    row = session.exec(
        select(WitnessStrength).where(WitnessStrength.witness_key == witness.key)
    ).first()
    if row is None:
        row = WitnessStrength(witness_key=witness.key, code_hash="")
    row.code_hash, row.origin = code_hash(witness.code, witness.checks), "run"
    row.mutants, row.caught, row.total = result.mutants, result.caught, result.total
    row.survivors = list(result.survivors)
    row.computed_at = utcnow()
    session.add(row)
    return row


def strengths(session: Session, witnesses: Sequence[Witness]) -> dict[str, WitnessStrength]:
    keys = [w.key for w in witnesses]
    if not keys:
        return {}
    rows = session.exec(select(WitnessStrength).where(col(WitnessStrength.witness_key).in_(keys)))
    return {row.witness_key: row for row in rows}


def strength_states(
    session: Session, witnesses: Sequence[Witness]
) -> dict[str, dict[str, Any] | None]:
    """key -> the witness JSON's ``strength`` for each witness."""
    rows = strengths(session, witnesses)
    return {w.key: strength_json(w, rows.get(w.key)) for w in witnesses}


def strength_json(witness: Witness, row: WitnessStrength | None) -> dict[str, Any] | None:
    """The witness JSON's ``strength``: None when never measured.

    A stale record (the code or checks changed since) is shown as stale and is never weak:
    it says nothing about the current code.
    """
    if row is None:
        return None
    stale = row.code_hash != code_hash(witness.code, witness.checks)
    declared = {e["id"]: e["why"] for e in witness.equivalent_mutants}
    result = Measure(witness.key, row.mutants, row.caught, row.total,
                     tuple(row.survivors), declared)  # fmt: skip
    return {
        "mutants": row.mutants,
        "caught": row.caught,
        "share": result.share,
        "survivors": [
            {**s, **({"equivalent": declared[s["id"]]} if s["id"] in declared else {})}
            for s in row.survivors
        ],
        "weak": result.weak and not stale,
        "meets_target": result.meets_target and not stale,
        "target": TARGET,
        "total": row.total,
        "stale": stale,
        "computed_at": row.computed_at.isoformat(),
        # "run": measured in this store; "record": from the committed strength record
        "origin": row.origin,
    }
