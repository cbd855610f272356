"""Learner progress and the learning views built on it: plan, fringe, downstream, focus.

Progress rows are kept under the key they were written on; the learner's *learned set* maps
each through the concept aliases to the key that answers for it now, so a renamed concept
keeps its state. Services never commit.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server.errors import InvalidInput, NotFound
from server.keys import concept_key, parse_key
from server.learning.graph import MAX_DEPTH, Direction, Edge
from server.learning.index import LearningIndex, index_for
from server.models import LearnerProgress, utcnow
from server.notes.service import write_target
from server.store import bump_revision

MAX_LIST = 500


class ProgressWrite(BaseModel):
    """``PUT /api/progress/{concept_key}``: the fields sent are set, the others kept."""

    model_config = ConfigDict(extra="forbid")

    learned: bool | None = Field(default=None, description="You know this concept.")
    starred: bool | None = Field(default=None, description="You want to come back to it.")


def _concept_key(key: str) -> str:
    if parse_key(key).kind != "concept":
        raise InvalidInput(f"progress is kept on concepts, not on '{key}'")
    return key


def _rows(session: Session, learner: str) -> list[LearnerProgress]:
    query = select(LearnerProgress).where(col(LearnerProgress.learner) == learner)
    return list(session.exec(query.order_by(col(LearnerProgress.concept_key))))


def progress_json(row: LearnerProgress, index: LearningIndex) -> dict[str, Any]:
    current = index.current_key(row.concept_key)
    return {
        "key": row.concept_key,
        "current_key": current,
        "title": index.graph.titles.get(current) if current else None,
        "learned": row.learned,
        "starred": row.starred,
        "updated_at": row.updated_at.isoformat(),
    }


def put_progress(session: Session, learner: str, key: str, body: ProgressWrite) -> dict[str, Any]:
    """Set ``learned``/``starred`` on a concept; an old key lands on the concept's current key."""
    target = write_target(session, _concept_key(key))  # 404 unknown, 410 removed
    row = session.exec(
        select(LearnerProgress).where(
            col(LearnerProgress.learner) == learner, col(LearnerProgress.concept_key) == target.key
        )
    ).first()
    if row is None:
        row = LearnerProgress(learner=learner, concept_key=target.key)
        # The state under a renamed concept's old keys carries over to the new row.
        index = index_for(session)
        for old in _rows(session, learner):
            if index.current_key(old.concept_key) == target.key:
                row.learned, row.starred = old.learned, old.starred
    if body.learned is not None:
        row.learned = body.learned
    if body.starred is not None:
        row.starred = body.starred
    row.updated_at = utcnow()
    try:
        with session.begin_nested():  # a concurrent first write of the same pair: retry as update
            session.add(row)
    except IntegrityError:
        existing = session.exec(
            select(LearnerProgress).where(
                col(LearnerProgress.learner) == learner,
                col(LearnerProgress.concept_key) == target.key,
            )
        ).one()
        existing.learned = row.learned if body.learned is not None else existing.learned
        existing.starred = row.starred if body.starred is not None else existing.starred
        existing.updated_at = utcnow()
        session.add(existing)
        row = existing
    # Marks show on pages (the concept page, the graph): cached pages follow the revision.
    bump_revision(session)
    session.flush()
    result = progress_json(row, index_for(session))
    result["followed_alias"] = target.followed_alias
    return result


def list_progress(session: Session, learner: str) -> dict[str, Any]:
    index = index_for(session)
    data = [progress_json(row, index) for row in _rows(session, learner)]
    return {"data": data, "count": len(data)}


def learner_state(
    session: Session, learner: str | None, index: LearningIndex
) -> tuple[set[str], set[str]]:
    """(learned, starred) concept keys of ``learner`` (none for an anonymous reader), as the
    concepts' current keys. When a concept's old and new keys both hold a row, the newer row
    decides."""
    if learner is None:
        return set(), set()
    decided: dict[str, LearnerProgress] = {}
    for row in _rows(session, learner):
        current = index.current_key(row.concept_key)
        if current is None:
            continue
        seen = decided.get(current)
        if seen is None or (row.updated_at, row.concept_key == current) > (
            seen.updated_at, seen.concept_key == current,
        ):  # fmt: skip
            decided[current] = row
    learned = {key for key, row in decided.items() if row.learned}
    starred = {key for key, row in decided.items() if row.starred}
    return learned, starred


def _resolve(index: LearningIndex, key: str) -> str:
    _concept_key(key)
    current = index.current_key(key)
    if current is None:
        raise NotFound(f"no concept has the key '{key}'")
    return current


def _node(index: LearningIndex, key: str, learned: set[str], starred: set[str]) -> dict[str, Any]:
    return {
        "key": key,
        "title": index.graph.titles[key],
        "url": "/concepts/" + key.partition(":")[2],
        "learn_time_min": index.graph.learn_time[key],
        "learned": key in learned,
        "starred": key in starred,
        **index.status(key),
    }


def _edge(edge: Edge) -> dict[str, Any]:
    return {"from": edge.source, "to": edge.target, "type": edge.type, "reason": edge.reason}


def plan(session: Session, learner: str, target: str) -> dict[str, Any]:
    """The learning plan to ``target``: unlearned prerequisites, each after its own."""
    index = index_for(session)
    key = _resolve(index, target)
    learned, starred = learner_state(session, learner, index)
    steps = index.graph.plan(key, learned)
    in_plan = set(steps)
    out = []
    for position, step in enumerate(steps, start=1):
        # Why it is there: the links from concepts of the plan that need it.
        needed_by = [_edge(e) for e in index.graph.dependents[step] if e.source in in_plan]
        prereqs = [e.target for e in index.graph.prereqs[step]]
        out.append({
            "position": position,
            **_node(index, step, learned, starred),
            "needed_by": needed_by,
            "prerequisites_learned": sorted(p for p in prereqs if p in learned),
        })  # fmt: skip
    skipped = sorted(p for p in index.graph.upstream(key, MAX_DEPTH) if p in learned)
    return {
        "target": _node(index, key, learned, starred),
        "requested": target,
        "steps": out,
        "count": len(out),
        "total_time_min": sum(step["learn_time_min"] for step in out),
        "learned_prerequisites": skipped,
        "revision": index.revision,
    }


def fringe(session: Session, learner: str, limit: int = 50) -> dict[str, Any]:
    """What to learn next: not learned, every prerequisite learned."""
    index = index_for(session)
    learned, starred = learner_state(session, learner, index)
    keys = index.graph.fringe(learned)
    # Starred concepts first, then those that unlock the most.
    keys.sort(key=lambda k: (k not in starred, -len(index.graph.dependents[k]), k))
    data = [
        {**_node(index, k, learned, starred), "unlocks": len(index.graph.dependents[k])}
        for k in keys[:limit]
    ]
    return {"data": data, "count": len(keys), "learned": len(learned)}


def downstream(
    session: Session, learner: str, context: str, slug: str, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """What depends on one concept, transitively, nearest first."""
    index = index_for(session)
    key = _resolve(index, concept_key(context, slug))
    learned, starred = learner_state(session, learner, index)
    depths = index.graph.downstream(key, max_depth)
    ordered = sorted(depths, key=lambda k: (depths[k], k))
    data = [
        {
            **_node(index, k, learned, starred),
            "depth": depths[k],
            "via": [
                _edge(e) for e in index.graph.prereqs[k] if e.target == key or e.target in depths
            ],
        }
        for k in ordered[:MAX_LIST]
    ]
    return {"concept": _node(index, key, learned, starred), "data": data, "count": len(ordered)}


def focus_graph(
    session: Session, learner: str | None, focus: str, direction: Direction, depth: int
) -> dict[str, Any]:
    """The subgraph around one concept: nodes within ``depth`` steps and the links among them."""
    index = index_for(session)
    key = _resolve(index, focus)
    learned, starred = learner_state(session, learner, index)
    nodes, edges = index.graph.focus(key, direction, depth)
    return {
        "focus": key,
        "direction": direction,
        "depth": depth,
        "nodes": [
            {**_node(index, k, learned, starred), "distance": d}
            for k, d in sorted(nodes.items(), key=lambda item: (item[1], item[0]))
        ],
        "edges": [_edge(e) for e in edges],
    }


def concept_status(session: Session, key: str) -> dict[str, Any]:
    """A concept's derived status and the ungrounded prerequisites that keep it from full."""
    index = index_for(session)
    current = index.current_key(key)
    if current is None:
        raise NotFound(f"no concept has the key '{key}'")
    return {**index.status(current), "blocked_by": index.graph.blocking(current, index.local)}


def status_map(session: Session) -> dict[str, dict[str, Any]]:
    index = index_for(session)
    return {key: index.status(key) for key in index.graph.titles}
