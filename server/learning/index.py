"""The learning index: the prerequisite graph and the derived status, kept per store revision.

Built from the store when first asked for and reused until the store revision changes (a
witness run, a review or an ingest bumps it). On a new revision the graph is rebuilt only when
the concepts or links changed; the derived status is then updated incrementally: only the
concepts whose own evidence moved, and what depends on them, are recomputed.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from sqlmodel import Session, col, select

from server.learning.graph import PrereqGraph
from server.learning.status import Evidence, evidence_by_concept
from server.models import Concept, ConceptLink, ObjectKey
from server.store import current_revision

NO_EVIDENCE = Evidence()
MAX_ALIAS_HOPS = 16


@dataclass
class LearningIndex:
    revision: int
    shape: str  # a digest of the concepts and links the graph was built from
    graph: PrereqGraph
    aliases: dict[str, str]  # an old concept key -> the concept key that answers for it now
    evidence: dict[str, Evidence]
    local: dict[str, bool]
    grounded: dict[str, bool]

    def current_key(self, key: str) -> str | None:
        """The concept key that answers for ``key`` now (following renames), or None."""
        seen: set[str] = set()
        while key not in self.graph.titles:
            if key in seen or len(seen) >= MAX_ALIAS_HOPS or key not in self.aliases:
                return None
            seen.add(key)
            key = self.aliases[key]
        return key

    def status(self, key: str) -> dict[str, Any]:
        """The derived status of one concept, for JSON."""
        evidence = self.evidence.get(key, NO_EVIDENCE)
        fully = self.grounded.get(key, False)
        local = self.local.get(key, False)
        label = "fully-grounded" if fully else ("grounded" if local else "ungrounded")
        return {
            "status": label,
            "grounded": local,
            "fully_grounded": fully,
            "evidence": evidence.as_json(),
            "revision": self.revision,
        }


_lock = threading.Lock()
# Keyed by the engine's pool: a write session's engine is a view sharing the same pool.
_indexes: weakref.WeakKeyDictionary[Pool, LearningIndex] = weakref.WeakKeyDictionary()


def _read_shape(session: Session) -> tuple[str, list[Any], list[Any]]:
    concepts = session.exec(
        select(Concept.key, Concept.title, Concept.data).order_by(col(Concept.key))
    ).all()
    links = session.exec(
        select(
            ConceptLink.from_key, ConceptLink.to_key, ConceptLink.type, ConceptLink.reason
        ).order_by(col(ConceptLink.from_key), col(ConceptLink.position), col(ConceptLink.id))
    ).all()
    digest = hashlib.sha256()
    for key, title, data in concepts:
        digest.update(f"{key}\0{title}\0{data.get('learn_time')}\n".encode())
    for row in links:
        digest.update(("\0".join(row) + "\n").encode())
    return digest.hexdigest(), list(concepts), list(links)


def _aliases(session: Session) -> dict[str, str]:
    rows = session.exec(
        select(ObjectKey.key, ObjectKey.target).where(
            col(ObjectKey.status) == "alias", col(ObjectKey.kind) == "concept"
        )
    )
    return {key: target for key, target in rows if target}


def build_index(session: Session, previous: LearningIndex | None = None) -> LearningIndex:
    revision = current_revision(session)
    shape, concepts, links = _read_shape(session)
    same_shape = previous is not None and previous.shape == shape
    if same_shape:
        assert previous is not None
        graph = previous.graph
    else:
        graph = PrereqGraph.build(
            ((key, title, (data or {}).get("learn_time")) for key, title, data in concepts),
            links,
        )
    evidence = evidence_by_concept(session)
    local = {key: evidence.get(key, NO_EVIDENCE).grounded for key in graph.titles}
    if same_shape:
        assert previous is not None
        changed = [key for key in graph.titles if local[key] != previous.local.get(key)]
        grounded = graph.regrounded(previous.grounded, local, changed)
    else:
        grounded = graph.fully_grounded(local)
    return LearningIndex(revision, shape, graph, _aliases(session), evidence, local, grounded)


def index_for(session: Session) -> LearningIndex:
    """The index of the store this session reads, at its current revision."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    pool = engine.pool
    revision = current_revision(session)
    cached = _indexes.get(pool)
    if cached is not None and cached.revision == revision:
        return cached
    with _lock:
        cached = _indexes.get(pool)
        if cached is not None and cached.revision == revision:
            return cached
        index = build_index(session, cached)
        _indexes[pool] = index
        return index
