"""Fetch any object by key, in the JSON shape of its kind."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from server.concepts.service import claims_for, concept_page
from server.errors import NotFound
from server.keys import parse_key
from server.models import (
    Claim,
    ConceptSource,
    DemoState,
    Equation,
    Misconception,
    Source,
    Witness,
)
from server.objects.resolve import resolve_key
from server.objects.serialize import (
    demo_json,
    equation_json,
    misconception_json,
    source_json,
    witness_json,
)
from server.paging import Keyset, keyset_page
from server.witnesses.records import witness_states
from server.witnesses.strength import strength_states

TABLES: dict[str, Any] = {
    "equation": Equation,
    "witness": Witness,
    "claim": Claim,
    "misconception": Misconception,
    "demo": DemoState,
    "source": Source,
}


def get_object(session: Session, key: str) -> dict[str, Any]:
    """The object behind ``key``; aliases raise Moved, tombstones Gone, unknown keys NotFound."""
    key = resolve_key(session, key)
    kind = parse_key(key).kind
    if kind == "concept":
        context, _, slug = key.partition(":")[2].partition("/")
        return concept_page(session, context, slug)
    table = TABLES[kind]
    row = session.exec(select(table).where(table.key == key)).first()
    if row is None:  # pragma: no cover - the registry and the tables agree
        raise NotFound(f"no object has the key '{key}'")
    if isinstance(row, Equation):
        return equation_json(row)
    if isinstance(row, Witness):
        run, stale = witness_states(session, [row])[row.key]
        return witness_json(row, run, stale, strength_states(session, [row])[row.key])
    if isinstance(row, Claim):
        return claims_for(session, [row])[0]
    if isinstance(row, Misconception):
        return misconception_json(row)
    if isinstance(row, DemoState):
        return demo_json(row)
    assert isinstance(row, Source)
    return source_json(row)


SOURCE_PAGES = Keyset("sources", (col(Source.position), col(Source.key)), (int, str))


def list_sources(
    session: Session, limit: int | None = None, cursor: str | None = None
) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page of sources, each with what it grounds on each concept that cites it; the count
    of all; and the next page's cursor."""
    rows, count, following = keyset_page(session, select(Source), SOURCE_PAGES, limit, cursor)
    grounding: dict[str, list[dict[str, str]]] = {}
    if rows:
        grounded = select(
            ConceptSource.source_key, ConceptSource.concept_key, ConceptSource.grounds
        )
        for source_key, concept_key, grounds in session.execute(
            grounded.where(col(ConceptSource.source_key).in_([s.key for s in rows])).order_by(
                col(ConceptSource.concept_key), col(ConceptSource.id)
            )
        ):
            grounding.setdefault(source_key, []).append(
                {"concept": concept_key, "grounds": grounds}
            )
    data = [{**source_json(s), "grounds": grounding.get(s.key, [])} for s in rows]
    return data, count, following
