"""Assemble a whole concept page (as JSON-able data) and the concept list and graph."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from server.errors import NotFound
from server.keys import anchor_for, concept_key
from server.learning.service import concept_status
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
    Source,
    Witness,
)
from server.objects.resolve import resolve_key
from server.objects.serialize import (
    claim_json,
    demo_json,
    equation_json,
    misconception_json,
    source_json,
    witness_json,
)
from server.paging import Keyset, keyset_page
from server.witnesses.records import witness_states
from server.witnesses.strength import strength_states

CLAIM_REVIEW_NOTICE = (
    "Claims without a substantive review badge still need exact source-support review."
)


def concept_summary(row: Any, context_title: str) -> dict[str, Any]:
    """A concept in lists: ``row`` is a Concept or a row of ``SUMMARY_COLUMNS``."""
    return {
        "kind": "concept",
        "key": row.key,
        "anchor": anchor_for(row.key),
        "title": row.title,
        "context": {"slug": row.context, "title": context_title},
        "slug": row.slug,
        "summary": row.summary,
        "url": f"/concepts/{row.context}/{row.slug}",
        "api_url": f"/api/concepts/{row.context}/{row.slug}",
    }


# What a list shows of a concept: never its body or page data.
SUMMARY_COLUMNS = (
    col(Concept.key),
    col(Concept.context),
    col(Concept.slug),
    col(Concept.title),
    col(Concept.summary),
    col(Concept.position),
)
CONCEPT_ORDER = (col(Concept.context), col(Concept.position), col(Concept.key))
CONCEPT_PAGES = Keyset("concepts", CONCEPT_ORDER, (str, int, str))


def context_titles(session: Session) -> dict[str, str]:
    return {slug: title for slug, title in session.exec(select(Context.slug, Context.title))}


def list_concepts(
    session: Session,
    context: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page of concepts by context and place, the count of all, and the next page's cursor."""
    contexts = context_titles(session)
    where = []
    if context is not None:
        if context not in contexts:
            raise NotFound(f"no context '{context}'", [{"contexts": sorted(contexts)}])
        where.append(col(Concept.context) == context)
    query = select_columns(*SUMMARY_COLUMNS).where(*where)
    rows, count, following = keyset_page(session, query, CONCEPT_PAGES, limit, cursor)
    data = [concept_summary(row, contexts.get(row.context, row.context)) for row in rows]
    return data, count, following


def get_concept_row(session: Session, context: str, slug: str) -> Concept:
    key = resolve_key(session, concept_key(context, slug))
    row = session.exec(select(Concept).where(Concept.key == key)).first()
    if row is None:  # pragma: no cover - the registry and the tables agree
        raise NotFound(f"no concept '{key}'")
    return row


def claims_for(session: Session, claims: list[Claim]) -> list[dict[str, Any]]:
    keys = [c.key for c in claims]
    support: dict[str, list[ClaimSupport]] = defaultdict(list)
    reviews: dict[str, list[ClaimReview]] = defaultdict(list)
    if keys:
        for s in session.exec(
            select(ClaimSupport)
            .where(col(ClaimSupport.claim_key).in_(keys))
            .order_by(col(ClaimSupport.position))
        ):
            support[s.claim_key].append(s)
        for r in session.exec(
            select(ClaimReview)
            .where(col(ClaimReview.claim_key).in_(keys))
            .order_by(col(ClaimReview.reviewed_on), col(ClaimReview.id))
        ):
            reviews[r.claim_key].append(r)
    return [claim_json(c, support[c.key], reviews[c.key]) for c in claims]


def concept_links(session: Session, key: str) -> dict[str, list[dict[str, Any]]]:
    outgoing = session.exec(
        select(ConceptLink).where(ConceptLink.from_key == key).order_by(col(ConceptLink.position))
    ).all()
    incoming = session.exec(
        select(ConceptLink).where(ConceptLink.to_key == key).order_by(col(ConceptLink.from_key))
    ).all()
    # Only the titles this page shows: a page costs the same however large the store is.
    linked = {link.to_key for link in outgoing} | {link.from_key for link in incoming}
    titles: dict[str, str] = {}
    if linked:
        titles = dict(
            session.exec(
                select(Concept.key, Concept.title).where(col(Concept.key).in_(sorted(linked)))
            ).all()
        )
    return {
        "outgoing": [
            {
                "type": link.type,
                "to": link.to_key,
                "title": titles.get(link.to_key),
                "reason": link.reason,
                "gate": link.gate,
                "url": _page_url(link.to_key),
            }
            for link in outgoing
        ],
        "incoming": [
            {
                "type": link.type,
                "from": link.from_key,
                "title": titles.get(link.from_key),
                "reason": link.reason,
                "gate": link.gate,
                "url": _page_url(link.from_key),
            }
            for link in incoming
        ],
    }


def _page_url(key: str) -> str:
    return "/concepts/" + key.partition(":")[2]


def concept_page(session: Session, context: str, slug: str) -> dict[str, Any]:
    """The whole page: sections, equations, witnesses, sources, claims, demos, links..."""
    row = get_concept_row(session, context, slug)
    key = row.key
    context_row = session.get(Context, row.context)

    def children(table: Any) -> list[Any]:
        return list(
            session.exec(
                select(table).where(table.concept_key == key).order_by(col(table.position))
            )
        )

    witnesses: list[Witness] = children(Witness)
    states = witness_states(session, witnesses)
    strength = strength_states(session, witnesses)
    grounding = children(ConceptSource)
    sources = {
        s.key: s
        for s in session.exec(
            select(Source).where(col(Source.key).in_([g.source_key for g in grounding]))
        )
    }
    data = row.data
    return {
        **concept_summary(row, context_row.title if context_row else row.context),
        "bridge": data["bridge"],
        "sections": [
            {k: s[k] for k in ("id", "number", "title", "tagline", "markdown")}
            for s in data["sections"]
        ],
        "equations": [equation_json(e) for e in children(Equation)],
        "witnesses": [witness_json(w, *states[w.key], strength[w.key]) for w in witnesses],
        "sources": [source_json(sources[g.source_key], g.grounds) for g in grounding],
        "claims": claims_for(session, children(Claim)),
        "claim_review_notice": CLAIM_REVIEW_NOTICE,
        "misconceptions": [misconception_json(m) for m in children(Misconception)],
        "demos": [demo_json(d) for d in children(DemoState)],
        "links": concept_links(session, key),
        "grounding": concept_status(session, key),
        "storyboard": data["storyboard"],
        "visual_inquiry": data["visual_inquiry"],
        "practice": data["practice"],
        "research": data["research"],
        # where the page lives in the content tree; never the server's own disk layout
        "source_file": f"{row.context}/{row.slug}.md",
    }


def concept_graph(session: Session) -> dict[str, Any]:
    contexts = context_titles(session)
    nodes = [
        concept_summary(row, contexts.get(row.context, row.context))
        for row in session.execute(select_columns(*SUMMARY_COLUMNS).order_by(col(Concept.key)))
    ]
    link_columns = (
        col(ConceptLink.from_key),
        col(ConceptLink.to_key),
        col(ConceptLink.type),
        col(ConceptLink.reason),
        col(ConceptLink.gate),
    )
    edges = [
        {"from": from_key, "to": to_key, "type": kind, "reason": reason, "gate": gate}
        for from_key, to_key, kind, reason, gate in session.execute(
            select_columns(*link_columns).order_by(
                col(ConceptLink.from_key), col(ConceptLink.position)
            )
        )
    ]
    return {"nodes": nodes, "edges": edges}
