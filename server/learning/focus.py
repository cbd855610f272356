"""``GET /api/graph``: the focused subgraph, and the derived status and learned marks that
annotate the whole graph (the route in ``server.concepts.routes`` calls these)."""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session

from server.learning import service
from server.learning.index import index_for

MAX_FOCUS_DEPTH = 10
Direction = Literal["up", "down", "both"]


def focused_graph(
    session: Session, learner: str | None, focus: str, direction: Direction, depth: int
) -> dict[str, Any]:
    return service.focus_graph(session, learner, focus, direction, depth)


def with_status(session: Session, learner: str | None, graph: dict[str, Any]) -> dict[str, Any]:
    """Add each node's derived status and the learner's marks to a whole-graph answer."""
    index = index_for(session)
    learned, starred = service.learner_state(session, learner, index)
    for node in graph.get("nodes", []):
        key = node.get("key")
        if key in index.graph.titles:
            node.update(index.status(key))
            node["learned"] = key in learned
            node["starred"] = key in starred
            node["learn_time_min"] = index.graph.learn_time[key]
    return graph
