"""Write validated content into the store (inside the caller's transaction; never commits)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, update
from sqlmodel import Session, SQLModel, col, select

from schemas.content import ReviewSpec, SourceSpec
from server.demos.controls import page_controls
from server.ingest.parse import ParsedConcept
from server.ingest.validate import Registered
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
        claims = select(Claim.key).where(col(Claim.concept_key).in_(batch))
        session.execute(delete(ClaimSupport).where(col(ClaimSupport.claim_key).in_(claims)))
        for table in CONCEPT_TABLES:
            column = col(table.concept_key)  # type: ignore[attr-defined]
            session.execute(delete(table).where(column.in_(batch)))
        session.execute(delete(ConceptLink).where(col(ConceptLink.from_key).in_(batch)))
        session.execute(delete(Concept).where(col(Concept.key).in_(batch)))


def child_prefix(kind: str, concept: str) -> str:
    return f"{kind}:{concept.partition(':')[2]}/"


def known_review_fingerprints(session: Session, concepts: list[str] | None = None) -> set[str]:
    """Fingerprints of the content reviews recorded, all or those on ``concepts``' claims."""
    table = ClaimReview.__table__  # type: ignore[attr-defined]
    query = select(table.c.fingerprint).where(table.c.origin == "content")
    if concepts is None:
        return set(session.execute(query).scalars())
    seen: set[str] = set()
    prefixes = [child_prefix("claim", key) for key in concepts]
    for start in range(0, len(prefixes), 100):
        batch = prefixes[start : start + 100]
        claims = or_(*(table.c.claim_key.startswith(prefix, autoescape=True) for prefix in batch))
        seen.update(session.execute(query.where(claims)).scalars())
    return seen


# Tables in the order their rows are inserted (a concept before what it owns).
INSERT_ORDER: tuple[type[SQLModel], ...] = (
    Concept,
    ConceptLink,
    Equation,
    Witness,
    ConceptSource,
    Claim,
    ClaimSupport,
    ClaimReview,
    Misconception,
    DemoState,
)


class RowWriter:
    """Bulk writes through SQLAlchemy Core: rows are plain dicts, inserted a batch at a time.

    Holding ORM objects for every row of a large store costs hundreds of MiB; a batch of
    dicts costs a few. ``stale`` concepts are deleted just before the batch that rewrites them.
    """

    def __init__(self, session: Session, batch_rows: int = 5000) -> None:
        self.session = session
        self.batch_rows = batch_rows
        self.rows: dict[type[SQLModel], list[dict[str, Any]]] = {}
        self.stale: list[str] = []
        self.pending = 0

    def add(self, table: type[SQLModel], row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)
        self.pending += 1

    def replace(self, concept: str) -> None:
        """The concept ``concept`` is rewritten: its old rows go before the new ones land."""
        self.stale.append(concept)

    def maybe_flush(self) -> None:
        if self.pending >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self.stale:
            delete_concepts(self.session, self.stale)
            self.stale = []
        for table in INSERT_ORDER:
            rows = self.rows.pop(table, None)
            if rows:
                self.session.execute(insert(table.__table__), rows)  # type: ignore[attr-defined]
        self.pending = 0


def write_concept(
    writer: RowWriter, parsed: ParsedConcept, position: int, reviews_seen: set[str]
) -> None:
    """Queue everything ``parsed`` defines; reviews are only ever added, never rewritten."""
    front, ctx, slug, key = parsed.front, parsed.context, parsed.slug, parsed.key
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
    add = writer.add
    add(
        Concept,
        {
            "key": key,
            "context": ctx,
            "slug": slug,
            "title": front.title,
            "summary": front.summary,
            "body": body,
            "data": data,
            "source_file": f"{parsed.context}/{parsed.slug}.md",  # in the tree, not on disk
            "position": position,
        },
    )
    for i, link in enumerate(front.links):
        row = {"from_key": key, "to_key": link.to, "type": link.type, "reason": link.reason}
        add(ConceptLink, {**row, "gate": link.gate, "position": i})
    for i, eq in enumerate(front.equations):
        add(
            Equation,
            {
                "key": child_key("equation", ctx, slug, eq.id),
                "concept_key": key,
                "label": eq.label,
                "latex": eq.latex,
                "statement": eq.statement,
                "symbols": [s.model_dump() for s in eq.symbols],
                "position": i,
            },
        )
    for i, w in enumerate(front.witnesses):
        block = parsed.witness_blocks[w.id]
        add(
            Witness,
            {
                "key": child_key("witness", ctx, slug, w.id),
                "concept_key": key,
                "language": w.language,
                "code": block.code,
                "demonstrates": w.demonstrates,
                "checks": [c.model_dump(exclude_none=True) for c in w.checks],
                "timeout_s": w.timeout_s,
                "equivalent_mutants": [e.model_dump() for e in w.equivalent_mutants],
                "line": block.line,
                "position": i,
            },
        )
    for i, cs in enumerate(front.sources):
        source = source_key(cs.source)
        add(
            ConceptSource,
            {"concept_key": key, "source_key": source, "grounds": cs.grounds, "position": i},
        )
    for i, claim in enumerate(front.claims):
        claim_key = child_key("claim", ctx, slug, claim.id)
        add(Claim, {"key": claim_key, "concept_key": key, "text": claim.text, "position": i})
        for j, support in enumerate(claim.support):
            add(
                ClaimSupport,
                {
                    "claim_key": claim_key,
                    "source_key": source_key(support.source),
                    "stance": support.stance,
                    "locator": support.locator.model_dump(exclude_none=True),
                    "checked": support.checked,
                    "position": j,
                },
            )
        _add_content_reviews(writer, claim_key, claim.reviews, reviews_seen)
    for i, m in enumerate(front.misconceptions):
        add(
            Misconception,
            {
                "key": child_key("misconception", ctx, slug, m.id),
                "concept_key": key,
                "belief": m.belief,
                "why_wrong": m.why_wrong,
                "exposed_by": list(m.exposed_by),
                "position": i,
            },
        )
    for i, demo in enumerate(front.demos):
        add(
            DemoState,
            {
                "key": child_key("demo", ctx, slug, demo.id),
                "concept_key": key,
                "title": demo.title,
                "spec": demo.spec,
                "controls": page_controls(demo.spec, demo.controls),
                "caption": demo.caption,
                "position": i,
            },
        )
    writer.maybe_flush()


def review_fingerprint(claim_key: str, review: ReviewSpec) -> str:
    payload = json.dumps([claim_key, review.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _add_content_reviews(
    writer: RowWriter, claim_key: str, reviews: list[ReviewSpec], seen: set[str]
) -> None:
    """Append content reviews not recorded yet; history is never rewritten."""
    for review in reviews:
        fingerprint = review_fingerprint(claim_key, review)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        writer.add(
            ClaimReview,
            {
                "claim_key": claim_key,
                "verdict": review.verdict,
                "reviewer": review.reviewer,
                "reviewed_on": review.date,
                "summary": review.summary,
                "caveats": review.caveats,
                "origin": "content",
                "fingerprint": fingerprint,
                "created_at": utcnow(),
                "support": [],
                "supersedes": None,
            },
        )


def update_registry(
    session: Session,
    registry: dict[str, Registered],
    active: Iterable[str],
    aliases: dict[str, str],
    tombstones: dict[str, str],
    *,
    scope: set[str] | None = None,
) -> list[str]:
    """Record every key's status; keys that vanished become tombstones. Returns those keys.

    ``registry`` holds the store's entries as read before this ingest: all of them when
    ``scope`` is None, else those of the keys in ``scope`` and any others it read (keys
    outside both are known to be active already). Only entries that change are written.
    """
    defined = set(active)
    # keys outside the scope and the registry read are active already: they are left alone
    keys = defined if scope is None else (scope | registry.keys()) & defined
    wanted: dict[str, Registered] = {key: Registered("active", None, None) for key in keys}
    for old, new in aliases.items():
        wanted[old] = Registered("alias", new, None)
    for key, reason in tombstones.items():
        wanted[key] = Registered("tombstone", None, reason)
    vanished = [
        key
        for key, row in registry.items()
        if row.status == "active" and key not in wanted and key not in defined
    ]
    for key in vanished:
        wanted[key] = Registered("tombstone", None, "removed from content")
    now = utcnow()
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, entry in wanted.items():
        known = registry.get(key)
        if known == entry:
            continue
        values = {"status": entry.status, "target": entry.target, "reason": entry.reason}
        if known is None:
            kind = key.partition(":")[0]
            added.append({"key": key, "kind": kind, "owner": key, "updated_at": now, **values})
        else:
            changed.append({"b_key": key, "updated_at": now, **values})
    table = ObjectKey.__table__  # type: ignore[attr-defined]
    for start in range(0, len(added), 5000):
        session.execute(insert(table), added[start : start + 5000])
    if changed:
        session.execute(update(table).where(table.c.key == bindparam("b_key")), changed)
    return vanished
