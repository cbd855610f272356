"""Gather what the store knows about an object, as plain data a prompt can be built from.

Records are the objects API's JSON shapes (``server.objects.serialize``, ``concept_page``),
so a prompt shows exactly what the API serves. Every key kept here is active in the
registry: aliases are followed to the key that now answers, anything else is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from server.concepts.service import claims_for, concept_page, concept_summary
from server.errors import InvalidInput, ReadingRoomError
from server.keys import parse_key
from server.models import Claim, ClaimSupport, Concept, ConceptSource, Context, ObjectKey, Source
from server.objects.serialize import source_json
from server.objects.service import get_object
from server.tutor.defaults import first_sentence
from server.tutor.prompt import ObjectEvidence, Related, Research

Record = Mapping[str, Any]

# Centrality of related objects per prompt kind: lower is more central, and a size budget
# drops the highest first. The first object of every kind outranks the second of any, so a
# tight budget keeps breadth (one equation, one witness, one source...) over depth.
# Concept links rank by their type.
RANKS: dict[str, dict[str, int]] = {
    "concept": {
        "equation": 1, "witness": 2, "source": 3, "demo": 4, "claim": 5,
        "prerequisite": 6, "misconception": 7, "definition": 8, "contrast": 8,
        "next": 9, "related": 9, "incoming": 10,
    },
    "equation": {
        "witness": 1, "demo": 2, "source": 3, "claim": 4, "misconception": 5, "equation": 6,
    },
    "witness": {
        "equation": 1, "demo": 2, "source": 3, "claim": 4, "misconception": 5, "witness": 6,
    },
    "claim": {"source": 1, "misconception": 2, "equation": 3, "witness": 4, "demo": 5},
    "misconception": {"exposer": 1, "equation": 2, "witness": 3, "source": 4},
    "demo": {
        "misconception": 1, "equation": 2, "witness": 3, "claim": 4, "source": 5, "demo": 6,
    },
    "source": {"concept": 1, "claim": 2},
}  # fmt: skip
PAGE_LISTS = {
    "equation": "equations",
    "witness": "witnesses",
    "demo": "demos",
    "claim": "claims",
    "misconception": "misconceptions",
    "source": "sources",
}


@dataclass(frozen=True)
class Registry:
    """Every key the store has used: ``key -> (status, target)``."""

    entries: Mapping[str, tuple[str, str | None]]

    @classmethod
    def load(cls, session: Session) -> Registry:
        rows = session.exec(select(ObjectKey.key, ObjectKey.status, ObjectKey.target))
        return cls({key: (status, target) for key, status, target in rows})

    def active(self, key: str) -> str | None:
        """``key`` when active, the key an alias now names, or None (unknown, removed)."""
        for _ in range(16):
            entry = self.entries.get(key)
            if entry is None:
                return None
            status, target = entry
            if status == "active":
                return key
            if status != "alias" or not target:
                return None
            key = target
        return None


def _rank(kind: str, relation: str, position: int) -> int:
    return position * 100 + RANKS[kind][relation]


def _concept_records(session: Session, keys: Iterable[str]) -> dict[str, Record]:
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    contexts = {c.slug: c.title for c in session.exec(select(Context))}
    rows = session.exec(select(Concept).where(col(Concept.key).in_(wanted)))
    return {row.key: concept_summary(row, contexts.get(row.context, row.context)) for row in rows}


def _research(data: Mapping[str, Any]) -> Research | None:
    research = data.get("research")
    if not research:
        return None
    return Research(
        str(research["open_question"]),
        tuple(str(line) for line in research["evidence"]),
        tuple(str(line) for line in research["resolves"]),
    )


def _page(session: Session, concept_key: str) -> dict[str, Any]:
    context, _, slug = concept_key.partition(":")[2].partition("/")
    return concept_page(session, context, slug)


def _clean(record: Record, registry: Registry) -> Record:
    """The record with every key it cites mapped to an active key (or left out)."""
    if record.get("kind") == "misconception":
        exposed = [registry.active(k) for k in record.get("exposed_by", [])]
        return {**record, "exposed_by": [k for k in dict.fromkeys(exposed) if k]}
    if record.get("kind") == "claim":
        support = []
        for entry in record.get("support", []):
            source = registry.active(entry["source"])
            if source:
                support.append({**entry, "source": source})
        return {**record, "support": support}
    return record


def gather(session: Session, registry: Registry, key: str) -> ObjectEvidence:
    """The evidence of the active object ``key``."""
    kind = parse_key(key).kind
    if kind == "concept":
        return _concept_evidence(session, registry, key)
    if kind == "source":
        return _source_evidence(session, registry, key)
    return _child_evidence(session, registry, key, kind)


def _concept_evidence(session: Session, registry: Registry, key: str) -> ObjectEvidence:
    page = _page(session, key)
    ranks = "concept"
    related: list[Related] = []
    for kind in ("equation", "witness", "demo", "claim", "misconception"):
        for i, record in enumerate(page[PAGE_LISTS[kind]]):
            related.append(
                Related(record["key"], kind, kind, _clean(record, registry), _rank(ranks, kind, i))
            )
    for i, record in enumerate(page["sources"]):
        about = {"grounds": record.get("grounds")}
        related.append(
            Related(record["key"], "source", "grounds this concept", record,
                    _rank(ranks, "source", i), about)
        )  # fmt: skip
    related.extend(_links(session, registry, page))
    record = _concept_record(page)
    return ObjectEvidence(
        key=key,
        kind="concept",
        title=page["title"],
        context_title=page["context"]["title"],
        record=record,
        concept=None,
        research=_research(page),
        source_ids=tuple(s["id"] for s in page["sources"]),
        related=tuple(sorted(related, key=lambda r: r.rank)),
    )


def _concept_record(page: Mapping[str, Any]) -> Record:
    keep = ("kind", "key", "anchor", "title", "context", "slug", "summary", "url", "api_url")
    record = {**{k: page[k] for k in keep}, "bridge": page["bridge"]}
    if "grounding" in page:  # derived by server.learning, never authored
        record["grounding"] = page["grounding"]
    return record


def _links(session: Session, registry: Registry, page: Mapping[str, Any]) -> list[Related]:
    links: list[tuple[str, str, Mapping[str, Any]]] = []
    for link in page["links"]["outgoing"]:
        links.append((link["to"], link["type"], link))
    for link in page["links"]["incoming"]:
        links.append((link["from"], "incoming", link))
    targets = {key: registry.active(key) for key, _, _ in links}
    records = _concept_records(session, [k for k in targets.values() if k])
    related: list[Related] = []
    seen: dict[str, int] = {}
    for key, rank_type, link in links:
        position = seen[rank_type] = seen.get(rank_type, -1) + 1
        target = targets[key]
        if target is None or target not in records or target == page["key"]:
            continue
        direction = "incoming" if rank_type == "incoming" else "outgoing"
        about = {"type": link["type"], "direction": direction, "reason": link["reason"],
                 "gate": link.get("gate")}  # fmt: skip
        relation = f"{link['type']} link" + (" to this concept" if direction == "incoming" else "")
        related.append(
            Related(target, "concept", relation, records[target],
                    _rank("concept", rank_type, position), about)
        )  # fmt: skip
    return related


def _child_evidence(session: Session, registry: Registry, key: str, kind: str) -> ObjectEvidence:
    concept_key = "concept:" + parse_key(key).concept_path
    page = _page(session, concept_key)
    own = next(r for r in page[PAGE_LISTS[kind]] if r["key"] == key)
    own = _clean(own, registry)
    related: list[Related] = []
    ranks = RANKS[kind]

    def add(records: Iterable[Record], relation: str, rank_name: str) -> None:
        for i, record in enumerate(records):
            if record["key"] == key or any(r.key == record["key"] for r in related):
                continue
            about = {"grounds": record["grounds"]} if record["kind"] == "source" else {}
            related.append(
                Related(record["key"], record["kind"], relation, _clean(record, registry),
                        _rank(kind, rank_name, i), about)
            )  # fmt: skip

    if kind == "claim":
        related.extend(_claim_sources(session, own))
    if kind == "misconception":
        exposers = [_exposer(page, k) for k in own["exposed_by"]]
        add([r for r in exposers if r], "exposes this misconception", "exposer")
    for other in ("equation", "witness", "demo", "claim", "misconception", "source"):
        if other not in ranks or (kind == "claim" and other == "source"):
            continue
        records = page[PAGE_LISTS[other]]
        relation = "on the same concept page"
        if other == "misconception" and kind in ("claim", "demo"):
            records = [m for m in records if key in _clean(m, registry)["exposed_by"]]
            relation = "exposed by this object"
        add(records, relation, other)
    concept = _concept_record(page)
    source_ids = tuple(s["id"] for s in page["sources"])
    if kind == "claim":
        source_ids = tuple(dict.fromkeys(r.key.partition(":")[2] for r in related
                                         if r.kind == "source"))  # fmt: skip
    return ObjectEvidence(
        key=key,
        kind=kind,
        title=title_of(kind, own),
        context_title=page["context"]["title"],
        record=own,
        concept=concept,
        research=None,
        source_ids=source_ids,
        related=tuple(sorted(related, key=lambda r: r.rank)),
    )


def _exposer(page: Mapping[str, Any], key: str) -> Record | None:
    for name in ("claims", "demos"):
        for record in page[name]:
            if record["key"] == key:
                found: Record = record
                return found
    return None


def _claim_sources(session: Session, claim: Record) -> list[Related]:
    by_source: dict[str, list[Mapping[str, Any]]] = {}
    for entry in claim["support"]:
        by_source.setdefault(entry["source"], []).append(entry)
    rows = {s.key: s for s in session.exec(select(Source).where(col(Source.key).in_(by_source)))}
    return [
        Related(key, "source", "cited by this claim", source_json(rows[key]),
                _rank("claim", "source", i), {"support": entries})
        for i, (key, entries) in enumerate(by_source.items())
        if key in rows
    ]  # fmt: skip


def _source_evidence(session: Session, registry: Registry, key: str) -> ObjectEvidence:
    row = session.exec(select(Source).where(Source.key == key)).one()
    grounding = list(
        session.exec(
            select(ConceptSource)
            .where(ConceptSource.source_key == key)
            .order_by(col(ConceptSource.concept_key))
        )
    )
    concepts = _concept_records(session, [g.concept_key for g in grounding])
    related = [
        Related(g.concept_key, "concept", "grounded by this source", concepts[g.concept_key],
                _rank("source", "concept", i), {"grounds": g.grounds})
        for i, g in enumerate(grounding)
        if g.concept_key in concepts
    ]  # fmt: skip
    related.extend(_citing_claims(session, registry, key))
    contexts = dict.fromkeys(c["context"]["title"] for c in concepts.values())
    return ObjectEvidence(
        key=key,
        kind="source",
        title=row.title,
        context_title=", ".join(contexts) or "no concept page cites this source yet",
        record=source_json(row),
        concept=None,
        research=None,
        source_ids=(row.slug,),
        related=tuple(related),
    )


def _citing_claims(session: Session, registry: Registry, key: str) -> list[Related]:
    support = list(
        session.exec(
            select(ClaimSupport)
            .where(ClaimSupport.source_key == key)
            .order_by(col(ClaimSupport.claim_key), col(ClaimSupport.position))
        )
    )
    claim_keys = list(dict.fromkeys(s.claim_key for s in support))
    claims = list(session.exec(select(Claim).where(col(Claim.key).in_(claim_keys))))
    claims.sort(key=lambda c: claim_keys.index(c.key))
    related = []
    for i, record in enumerate(claims_for(session, claims)):
        cleaned = _clean(record, registry)
        entries = [e for e in cleaned["support"] if e["source"] == key]
        related.append(
            Related(record["key"], "claim", "cites this source", cleaned,
                    _rank("source", "claim", i), {"support": entries})
        )  # fmt: skip
    return related


def selected(session: Session, registry: Registry, keys: list[str]) -> tuple[Related, ...]:
    """The evidence a person chose by key; raises InvalidInput naming every unusable key."""
    problems: list[dict[str, str]] = []
    chosen: list[str] = []
    for key in keys:
        try:
            parse_key(key)
        except ReadingRoomError:
            problems.append({"key": key, "reason": "not an object key"})
            continue
        target = registry.active(key)
        if target is None:
            status = registry.entries.get(key, ("unknown", None))[0]
            reason = "removed" if status == "tombstone" else "no object has this key"
            problems.append({"key": key, "reason": reason})
        elif target not in chosen:
            chosen.append(target)
    if problems:
        names = ", ".join(f"'{p['key']}'" for p in problems)
        raise InvalidInput(f"unknown evidence key(s): {names}", problems)
    concepts = _concept_records(session, [k for k in chosen if k.startswith("concept:")])
    related = []
    for i, key in enumerate(chosen):
        kind = parse_key(key).kind
        record = concepts[key] if kind == "concept" else _clean(get_object(session, key), registry)
        related.append(Related(key, kind, "chosen as evidence", record, i))
    return tuple(related)


def title_of(kind: str, record: Record) -> str:
    """The one-line title an object is shown by."""
    if kind in ("concept", "source", "demo"):
        return str(record["title"])
    if kind == "equation":
        return str(record["label"])
    if kind == "witness":
        return first_sentence(str(record["demonstrates"]))
    if kind == "claim":
        return first_sentence(str(record["text"]))
    return first_sentence(str(record["belief"]))
