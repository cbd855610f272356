"""One JSON shape per object kind, shared by concept pages, the objects API and prompts."""

from __future__ import annotations

from typing import Any

from server.keys import anchor_for
from server.models import (
    SUBSTANTIVE_VERDICTS,
    Claim,
    ClaimReview,
    ClaimSupport,
    DemoState,
    Equation,
    Misconception,
    Source,
    Witness,
    WitnessRun,
)


def base(kind: str, key: str) -> dict[str, Any]:
    return {"kind": kind, "key": key, "anchor": anchor_for(key)}


def equation_json(row: Equation) -> dict[str, Any]:
    return {
        **base("equation", row.key),
        "concept": row.concept_key,
        "label": row.label,
        "latex": row.latex,
        "statement": row.statement,
        "symbols": row.symbols,
    }


def run_json(run: WitnessRun | None, stale: bool = False) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "status": run.status,
        "stale": stale,
        "exit_code": run.exit_code,
        "signal": run.signal,
        "duration_ms": run.duration_ms,
        "checks": run.checks,
        "environment": run.environment,
        "outputs_digest": run.outputs_digest,
        "cached": run.cached,
        "created_at": run.created_at.isoformat(),
    }


def witness_json(row: Witness, latest: WitnessRun | None, stale: bool) -> dict[str, Any]:
    status = "unchecked" if latest is None else ("stale" if stale else latest.status)
    return {
        **base("witness", row.key),
        "concept": row.concept_key,
        "language": row.language,
        "code": row.code,
        "demonstrates": row.demonstrates,
        "checks": row.checks,
        "timeout_s": row.timeout_s,
        "status": status,
        "latest_run": run_json(latest, stale),
    }


def source_json(row: Source, grounds: str | None = None) -> dict[str, Any]:
    data = {
        **base("source", row.key),
        "id": row.slug,
        "title": row.title,
        "authors": row.authors,
        "year": row.year,
        "venue": row.venue,
        "doi": row.doi,
        "arxiv": row.arxiv,
        "url": row.url,
    }
    if grounds is not None:
        data["grounds"] = grounds
    return data


def review_json(row: ClaimReview) -> dict[str, Any]:
    return {
        "id": row.id,
        "verdict": row.verdict,
        "substantive": row.verdict in SUBSTANTIVE_VERDICTS,
        "reviewer": row.reviewer,
        "date": row.reviewed_on.isoformat(),
        "summary": row.summary,
        "caveats": row.caveats,
        "origin": row.origin,
    }


def claim_json(
    row: Claim, support: list[ClaimSupport], reviews: list[ClaimReview]
) -> dict[str, Any]:
    latest = reviews[-1] if reviews else None
    verdict = latest.verdict if latest else "unreviewed"
    return {
        **base("claim", row.key),
        "concept": row.concept_key,
        "text": row.text,
        "support": [
            {
                "source": s.source_key,
                "stance": s.stance,
                "locator": s.locator,
                "checked": s.checked,
            }
            for s in support
        ],
        "verdict": verdict,
        "substantive": verdict in SUBSTANTIVE_VERDICTS,
        "latest_review": review_json(latest) if latest else None,
        "reviews": [review_json(r) for r in reviews],
    }


def misconception_json(row: Misconception) -> dict[str, Any]:
    return {
        **base("misconception", row.key),
        "concept": row.concept_key,
        "belief": row.belief,
        "why_wrong": row.why_wrong,
        "exposed_by": row.exposed_by,
    }


def demo_json(row: DemoState) -> dict[str, Any]:
    return {
        **base("demo", row.key),
        "concept": row.concept_key,
        "title": row.title,
        "spec": row.spec,
        "controls": row.controls,
        "caption": row.caption,
    }
