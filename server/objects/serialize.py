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


def witness_json(
    row: Witness,
    latest: WitnessRun | None,
    stale: bool,
    strength: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``strength`` is ``server.witnesses.strength.strength_json`` (None: never measured)."""
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
        "equivalent_mutants": row.equivalent_mutants,
        "strength": strength,
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


NO_SUBSTANTIVE_REVIEW = (
    "Claims without a substantive review badge still need exact source-support review"
)
BOUNDED_REVIEW = "A bounded review summary is present; still check caveats and exact source scope"


def review_json(row: ClaimReview, superseded_by: int | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "claim": row.claim_key,
        "verdict": row.verdict,
        "substantive": row.verdict in SUBSTANTIVE_VERDICTS,
        "reviewer": row.reviewer,
        "date": row.reviewed_on.isoformat(),
        "reviewed_at": row.created_at.isoformat() if row.origin != "content" else None,
        "summary": row.summary,
        "caveats": row.caveats,
        "support": row.support,
        "supersedes": row.supersedes,
        "superseded_by": superseded_by,
        "origin": row.origin,
        "signed": review_signature(row.reviewer, row.origin),  # as pages and prompts show it
    }


BUNDLED = "bundled with the content"


def review_signature(reviewer: str, origin: str) -> str:
    """Who a review is by, as pages and prompts say it. A review written into the content
    files (``origin`` ``content``) is signed there, not made by an account of this store: it is
    shown as bundled, with its signature, never passed off as a reviewer's own."""
    return f"{BUNDLED}, signed {reviewer}" if origin == "content" else reviewer


def review_badge(latest: ClaimReview | None) -> dict[str, Any]:
    """The claim's badge: its latest verdict, and the seed's wording when it is not substantive."""
    verdict = latest.verdict if latest else "unreviewed"
    substantive = verdict in SUBSTANTIVE_VERDICTS
    if substantive:
        assert latest is not None
        notice = None
        by = f"({review_signature(latest.reviewer, latest.origin)})"
        by = f"by {latest.reviewer}" if latest.origin != "content" else by
        label = f"{verdict}: substantive review {by}, {latest.reviewed_on}"
    elif verdict == "bounded":
        notice, label = BOUNDED_REVIEW, "bounded review"
    else:
        notice, label = NO_SUBSTANTIVE_REVIEW, "no substantive review"
    return {"verdict": verdict, "substantive": substantive, "label": label, "notice": notice}


def link_checks(
    support: list[ClaimSupport], checks: list[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """Per support link, the review's check of it: named by its index, or by its source."""
    found: list[dict[str, Any] | None] = []
    for i, link in enumerate(support):
        exact = [c for c in checks if c.get("link") == i and c.get("source") == link.source_key]
        whole = [c for c in checks if c.get("link") is None and c.get("source") == link.source_key]
        found.append(exact[0] if exact else whole[0] if whole else None)
    return found


def claim_json(
    row: Claim, support: list[ClaimSupport], reviews: list[ClaimReview]
) -> dict[str, Any]:
    """``reviews`` in history order (date, then id): the last one is the latest."""
    latest = reviews[-1] if reviews else None
    superseded: dict[int | None, int | None] = {
        r.supersedes: r.id for r in reviews if r.supersedes is not None
    }
    checks = latest.support if latest else []
    badge = review_badge(latest)
    return {
        **base("claim", row.key),
        "concept": row.concept_key,
        "text": row.text,
        "support": [
            {
                "source": s.source_key,
                "stance": s.stance,
                "locator": s.locator,
                # read at its locator: as authored, or by the latest review
                "checked": s.checked or bool(check and check["checked"]),
                "latest_review_check": check,
            }
            for s, check in zip(support, link_checks(support, checks), strict=True)
        ],
        "verdict": badge["verdict"],
        "substantive": badge["substantive"],
        "badge": badge,
        "latest_review": review_json(latest, superseded.get(latest.id)) if latest else None,
        "reviews": [review_json(r, superseded.get(r.id)) for r in reviews],
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
