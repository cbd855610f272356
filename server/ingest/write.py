"""Write validated content into the store (inside the caller's transaction; never commits)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import Session, SQLModel, col, select

from schemas.content import ReviewSpec, SourceSpec
from server.demos.controls import page_controls
from server.ingest.parse import ParsedConcept
from server.keys import child_key, source_key
from server.models import (
    Claim,
    ClaimReview,
    ClaimSupport,
    Concept,
    ConceptLink,
    ConceptSource,
    Context,
    DemoState,
    Equation,
    Misconception,
    ObjectKey,
    Source,
    Witness,
    utcnow,
)

CONCEPT_TABLES: tuple[type[SQLModel], ...] = (
    Equation,
    Witness,
    Claim,
    Misconception,
    DemoState,
    ConceptSource,
)


def write_contexts(session: Session, contexts: dict[str, str]) -> None:
    existing = {row.slug: row for row in session.exec(select(Context))}
    for slug, title in contexts.items():
        row = existing.get(slug) or Context(slug=slug, title=title)
        row.title = title
        session.add(row)


def write_sources(session: Session, sources: list[SourceSpec]) -> None:
    existing = {row.slug: row for row in session.exec(select(Source))}
    for position, spec in enumerate(sources):
        row = existing.pop(spec.id, None) or Source(
            key=source_key(spec.id), slug=spec.id, title=spec.title, year=spec.year
        )
        row.title, row.authors, row.year = spec.title, list(spec.authors), spec.year
        row.venue, row.doi, row.arxiv, row.url = spec.venue, spec.doi, spec.arxiv, spec.url
        row.position = position
        session.add(row)
    for row in existing.values():
        session.delete(row)


def delete_concepts(session: Session, keys: list[str]) -> None:
    """Delete what the concepts ``keys`` define (not reviews, runs or notes: those stay by key)."""
    for start in range(0, len(keys), 500):
        batch = keys[start : start + 500]
        for table in CONCEPT_TABLES:
            column = col(table.concept_key)  # type: ignore[attr-defined]
            session.execute(delete(table).where(column.in_(batch)))
        claims = [child_prefix("claim", key) for key in batch]
        session.execute(
            delete(ClaimSupport).where(
                or_(*(col(ClaimSupport.claim_key).startswith(p) for p in claims))
            )
        )
        session.execute(delete(ConceptLink).where(col(ConceptLink.from_key).in_(batch)))
        session.execute(delete(Concept).where(col(Concept.key).in_(batch)))


def child_prefix(kind: str, concept: str) -> str:
    return f"{kind}:{concept.partition(':')[2]}/"


def known_review_fingerprints(session: Session) -> set[str]:
    query = select(ClaimReview.fingerprint).where(ClaimReview.origin == "content")
    return set(session.exec(query))


def write_concept(
    session: Session, parsed: ParsedConcept, position: int, reviews_seen: set[str]
) -> None:
    """Add everything ``parsed`` defines (after delete_concepts); reviews are only ever added."""
    front, ctx, slug = parsed.front, parsed.context, parsed.slug
    data: dict[str, Any] = {
        "bridge": front.bridge,
        "sections": parsed.sections,
        "storyboard": front.storyboard.model_dump(),
        "visual_inquiry": front.visual_inquiry.model_dump(),
        "practice": front.practice.model_dump(),
        "research": front.research.model_dump(),
        "learn_time": front.learn_time,
    }
    body = "\n\n".join(f"## {s['title']}\n\n{s['markdown']}" for s in parsed.sections)
    rows: list[SQLModel] = [
        Concept(
            key=parsed.key,
            context=ctx,
            slug=slug,
            title=front.title,
            summary=front.summary,
            body=body,
            data=data,
            source_file=parsed.file,
            position=position,
        )
    ]
    for i, link in enumerate(front.links):
        rows.append(
            ConceptLink(
                from_key=parsed.key,
                to_key=link.to,
                type=link.type,
                reason=link.reason,
                gate=link.gate,
                position=i,
            )
        )
    for i, eq in enumerate(front.equations):
        rows.append(
            Equation(
                key=child_key("equation", ctx, slug, eq.id),
                concept_key=parsed.key,
                label=eq.label,
                latex=eq.latex,
                statement=eq.statement,
                symbols=[s.model_dump() for s in eq.symbols],
                position=i,
            )
        )
    for i, w in enumerate(front.witnesses):
        block = parsed.witness_blocks[w.id]
        rows.append(
            Witness(
                key=child_key("witness", ctx, slug, w.id),
                concept_key=parsed.key,
                language=w.language,
                code=block.code,
                demonstrates=w.demonstrates,
                checks=[c.model_dump(exclude_none=True) for c in w.checks],
                timeout_s=w.timeout_s,
                equivalent_mutants=[e.model_dump() for e in w.equivalent_mutants],
                line=block.line,
                position=i,
            )
        )
    for i, cs in enumerate(front.sources):
        rows.append(
            ConceptSource(
                concept_key=parsed.key,
                source_key=source_key(cs.source),
                grounds=cs.grounds,
                position=i,
            )
        )
    for i, claim in enumerate(front.claims):
        claim_key = child_key("claim", ctx, slug, claim.id)
        rows.append(Claim(key=claim_key, concept_key=parsed.key, text=claim.text, position=i))
        for j, support in enumerate(claim.support):
            rows.append(
                ClaimSupport(
                    claim_key=claim_key,
                    source_key=source_key(support.source),
                    stance=support.stance,
                    locator=support.locator.model_dump(exclude_none=True),
                    checked=support.checked,
                    position=j,
                )
            )
        _add_content_reviews(session, claim_key, claim.reviews, reviews_seen)
    for i, m in enumerate(front.misconceptions):
        rows.append(
            Misconception(
                key=child_key("misconception", ctx, slug, m.id),
                concept_key=parsed.key,
                belief=m.belief,
                why_wrong=m.why_wrong,
                exposed_by=list(m.exposed_by),
                position=i,
            )
        )
    for i, demo in enumerate(front.demos):
        rows.append(
            DemoState(
                key=child_key("demo", ctx, slug, demo.id),
                concept_key=parsed.key,
                title=demo.title,
                spec=demo.spec,
                controls=page_controls(demo.spec, demo.controls),
                caption=demo.caption,
                position=i,
            )
        )
    session.add_all(rows)


def review_fingerprint(claim_key: str, review: ReviewSpec) -> str:
    payload = json.dumps([claim_key, review.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _add_content_reviews(
    session: Session, claim_key: str, reviews: list[ReviewSpec], seen: set[str]
) -> None:
    """Append content reviews not recorded yet; history is never rewritten."""
    for review in reviews:
        fingerprint = review_fingerprint(claim_key, review)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        session.add(
            ClaimReview(
                claim_key=claim_key,
                verdict=review.verdict,
                reviewer=review.reviewer,
                reviewed_on=review.date,
                summary=review.summary,
                caveats=review.caveats,
                origin="content",
                fingerprint=fingerprint,
            )
        )


def update_registry(
    session: Session,
    active: Iterable[str],
    aliases: dict[str, str],
    tombstones: dict[str, str],
) -> list[str]:
    """Record every key's status; keys that vanished become tombstones. Returns those keys."""
    registry = {row.key: row for row in session.exec(select(ObjectKey))}
    now = utcnow()
    active_set = set(active)

    def put(key: str, status: str, target: str | None, reason: str | None) -> None:
        row = registry.get(key)
        if row is None:
            row = ObjectKey(key=key, kind=key.partition(":")[0], status=status, owner=key)
            registry[key] = row
        elif (row.status, row.target, row.reason) == (status, target, reason):
            return
        row.status, row.target, row.reason, row.updated_at = status, target, reason, now
        session.add(row)

    for key in active_set:
        put(key, "active", None, None)
    for old, new in aliases.items():
        put(old, "alias", new, None)
    for key, reason in tombstones.items():
        put(key, "tombstone", None, reason)
    vanished = [
        key
        for key, row in registry.items()
        if row.status == "active" and key not in active_set and key not in aliases
    ]
    for key in vanished:
        put(key, "tombstone", None, "removed from content")
    return vanished
