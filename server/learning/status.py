"""Each concept's own evidence, read from the store: never authored.

A concept is *locally grounded* when every witness has a current passing run (its latest run
passed and was made for the witness's current code and checks) and is not weak, and every
claim's latest review is substantive. *Fully grounded* (``PrereqGraph.fully_grounded``) adds
the same for every prerequisite, transitively.

Witness strength: ``weak_witnesses`` is the one place that asks whether a witness falls short
of its strength target (``server.witnesses.strength``): a witness whose current strength
record misses the target does not count, however its run went.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from server.models import SUBSTANTIVE_VERDICTS, Claim, ClaimReview, Witness, WitnessRun
from server.witnesses.environment import cache_key
from server.witnesses.strength import strength_states


@dataclass(frozen=True, slots=True)
class Evidence:
    """One concept's own evidence."""

    witnesses: int = 0
    witnesses_passing: int = 0
    claims: int = 0
    claims_reviewed: int = 0

    @property
    def grounded(self) -> bool:
        return self.witnesses_passing == self.witnesses and self.claims_reviewed == self.claims

    def as_json(self) -> dict[str, Any]:
        return {
            "witnesses": self.witnesses,
            "witnesses_passing": self.witnesses_passing,
            "claims": self.claims,
            "claims_reviewed": self.claims_reviewed,
        }


def weak_witnesses(session: Session, keys: list[str]) -> set[str]:
    """The witnesses (of ``keys``) whose current strength record misses the target (weak, or
    catching too few of their mutants). A witness never measured, or measured for other code
    or checks (a stale record), is judged by its run alone."""
    if not keys:
        return set()
    witnesses = session.exec(select(Witness).where(col(Witness.key).in_(keys))).all()
    states = strength_states(session, witnesses)
    return {
        key for key, state in states.items()
        if state is not None and not state["stale"] and not state["meets_target"]
    }  # fmt: skip


def latest_run_cache_keys(session: Session) -> dict[str, tuple[str, str]]:
    """witness key -> (status, cache key) of its newest run: the highest id, since runs are
    recorded as they end (one row per witness is read, however long the history)."""
    newest = (
        select(func.max(WitnessRun.id).label("id")).group_by(col(WitnessRun.witness_key)).subquery()
    )
    rows = session.exec(
        select(WitnessRun.witness_key, WitnessRun.status, WitnessRun.cache_key).where(
            col(WitnessRun.id).in_(select(newest.c.id))
        )
    )
    return {key: (status, run_cache_key) for key, status, run_cache_key in rows}


def evidence_by_concept(session: Session) -> dict[str, Evidence]:
    """concept key -> its own evidence, for every concept that has a witness or a claim."""
    runs = latest_run_cache_keys(session)
    witnesses = session.exec(
        select(Witness.key, Witness.concept_key, Witness.code, Witness.checks)
    ).all()
    weak = weak_witnesses(session, [w[0] for w in witnesses])
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for key, concept, code, checks in witnesses:
        counts[concept][0] += 1
        run = runs.get(key)
        if (
            run
            and run[0] == "passed"
            and run[1] == cache_key(code, list(checks))
            and key not in weak
        ):
            counts[concept][1] += 1
    latest_verdict: dict[str, str] = {}
    for claim_key, verdict in session.exec(
        select(ClaimReview.claim_key, ClaimReview.verdict).order_by(
            col(ClaimReview.reviewed_on), col(ClaimReview.id)
        )
    ):
        latest_verdict[claim_key] = verdict
    for claim_key, concept in session.exec(select(Claim.key, Claim.concept_key)):
        counts[concept][2] += 1
        if latest_verdict.get(claim_key) in SUBSTANTIVE_VERDICTS:
            counts[concept][3] += 1
    return {key: Evidence(*values) for key, values in counts.items()}
