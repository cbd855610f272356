"""The prerequisite graph in memory: plans, the fringe, downstream, focused subgraphs, and
status derived across the graph.

Pure functions over plain data (no database): the index (``server.learning.index``) builds a
``PrereqGraph`` once per store revision and every request walks only the part it needs.
An edge ``A -> B`` of type ``prerequisite`` means "B is a prerequisite of A".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from server.errors import ContentError, InvalidInput

# The estimate used for a concept whose content states no ``learn_time`` (minutes).
DEFAULT_LEARN_TIME_MIN = 30
MAX_DEPTH = 50
Direction = Literal["up", "down", "both"]


@dataclass(frozen=True, slots=True)
class Edge:
    source: str  # the concept that needs ...
    target: str  # ... this prerequisite
    type: str
    reason: str


@dataclass
class PrereqGraph:
    """Concepts (key -> title, learn time) and their typed links; prerequisites stay acyclic."""

    titles: dict[str, str]
    learn_time: dict[str, int]
    prereqs: dict[str, list[Edge]] = field(default_factory=dict)  # key -> edges to its prereqs
    dependents: dict[str, list[Edge]] = field(default_factory=dict)  # key -> edges needing it
    links: list[Edge] = field(default_factory=list)  # every link, of every type
    order: list[str] = field(default_factory=list)  # prerequisites before what needs them

    @classmethod
    def build(
        cls,
        concepts: Iterable[tuple[str, str, int | None]],
        links: Iterable[tuple[str, str, str, str]],
    ) -> PrereqGraph:
        """``concepts``: (key, title, learn_time or None); ``links``: (from, to, type, reason).

        Links to unknown concepts are dropped; a prerequisite cycle is refused."""
        titles: dict[str, str] = {}
        times: dict[str, int] = {}
        for key, title, minutes in concepts:
            titles[key] = title
            times[key] = minutes if minutes is not None else DEFAULT_LEARN_TIME_MIN
        graph = cls(titles, times, {k: [] for k in titles}, {k: [] for k in titles})
        for source, target, kind, reason in links:
            if source not in titles or target not in titles:
                continue
            edge = Edge(source, target, kind, reason)
            graph.links.append(edge)
            if kind == "prerequisite":
                graph.prereqs[source].append(edge)
                graph.dependents[target].append(edge)
        graph.order = graph._topological_order()
        return graph

    def _topological_order(self) -> list[str]:
        """Kahn's algorithm: prerequisites first; a cycle is a content error."""
        waiting = {key: len(edges) for key, edges in self.prereqs.items()}
        ready = deque(sorted(key for key, n in waiting.items() if n == 0))
        order: list[str] = []
        while ready:
            key = ready.popleft()
            order.append(key)
            for edge in self.dependents[key]:
                waiting[edge.source] -= 1
                if waiting[edge.source] == 0:
                    ready.append(edge.source)
        if len(order) != len(self.titles):
            stuck = sorted(key for key, n in waiting.items() if n > 0)
            raise ContentError(
                "prerequisite links form a cycle: no learning order exists", stuck[:20]
            )
        return order

    def require(self, key: str) -> None:
        if key not in self.titles:
            raise InvalidInput(f"no concept has the key '{key}'")

    # -- learning ---------------------------------------------------------------------------

    def plan(self, target: str, learned: set[str]) -> list[str]:
        """The unlearned prerequisites of ``target`` (and ``target`` itself if unlearned), each
        after its own prerequisites. A learned concept is not entered: whatever is reachable
        only through learned concepts is skipped."""
        self.require(target)
        if target in learned:
            return []
        seen = {target}
        result: list[str] = []
        # Iterative post-order DFS: a concept is emitted after all its unlearned prerequisites.
        stack: list[tuple[str, int]] = [(target, 0)]
        while stack:
            key, index = stack[-1]
            edges = self.prereqs[key]
            if index < len(edges):
                stack[-1] = (key, index + 1)
                nxt = edges[index].target
                if nxt not in seen and nxt not in learned:
                    seen.add(nxt)
                    stack.append((nxt, 0))
            else:
                stack.pop()
                result.append(key)
        return result

    def fringe(self, learned: set[str]) -> list[str]:
        """Concepts not learned whose prerequisites are all learned, in key order."""
        candidates = {k for k, edges in self.prereqs.items() if not edges}
        for key in learned:
            candidates.update(edge.source for edge in self.dependents.get(key, ()))
        return sorted(
            key
            for key in candidates
            if key not in learned and all(e.target in learned for e in self.prereqs[key])
        )

    def downstream(self, key: str, max_depth: int = MAX_DEPTH) -> dict[str, int]:
        """Every concept that needs ``key``, transitively: key -> shortest depth (1 = direct)."""
        return self._walk(key, max_depth, self.dependents, lambda e: e.source)

    def upstream(self, key: str, max_depth: int = MAX_DEPTH) -> dict[str, int]:
        """Every prerequisite of ``key``, transitively, with its shortest depth."""
        return self._walk(key, max_depth, self.prereqs, lambda e: e.target)

    def _walk(
        self,
        key: str,
        max_depth: int,
        adjacency: Mapping[str, list[Edge]],
        step: Callable[[Edge], str],
    ) -> dict[str, int]:
        self.require(key)
        depth: dict[str, int] = {}
        frontier = [key]
        for level in range(1, max_depth + 1):
            nxt: list[str] = []
            for node in frontier:
                for edge in adjacency[node]:
                    far = step(edge)
                    if far != key and far not in depth:
                        depth[far] = level
                        nxt.append(far)
            if not nxt:
                break
            frontier = nxt
        return depth

    def focus(
        self, key: str, direction: Direction, depth: int
    ) -> tuple[dict[str, int], list[Edge]]:
        """The concepts within ``depth`` prerequisite steps of ``key`` (up: its prerequisites,
        down: what needs it), with their distance, and every link among them."""
        nodes = {key: 0}
        if direction in ("up", "both"):
            nodes.update(self.upstream(key, depth))
        if direction in ("down", "both"):
            for far, level in self.downstream(key, depth).items():
                nodes.setdefault(far, level)
        edges = [e for e in self.links if e.source in nodes and e.target in nodes]
        return nodes, edges

    # -- derived status ---------------------------------------------------------------------

    def fully_grounded(self, local: Mapping[str, bool]) -> dict[str, bool]:
        """A concept is fully grounded when it and every prerequisite, transitively, is locally
        grounded: one pass in topological order."""
        result: dict[str, bool] = {}
        for key in self.order:
            result[key] = bool(local.get(key, False)) and all(
                result[e.target] for e in self.prereqs[key]
            )
        return result

    def regrounded(
        self, previous: Mapping[str, bool], local: Mapping[str, bool], changed: Iterable[str]
    ) -> dict[str, bool]:
        """``fully_grounded`` after the local status of ``changed`` concepts moved: only those
        and what depends on them are recomputed, in topological order."""
        affected: set[str] = set()
        for key in changed:
            if key in self.titles and key not in affected:
                affected.add(key)
                affected.update(self.downstream(key, len(self.titles)))
        result = dict(previous)
        if not affected:
            return result
        for key in self.order:
            if key in affected:
                result[key] = bool(local.get(key, False)) and all(
                    result[e.target] for e in self.prereqs[key]
                )
        return result

    def blocking(self, key: str, local: Mapping[str, bool]) -> list[str]:
        """The prerequisites (transitively) that are not locally grounded, in learning order."""
        ancestors = self.upstream(key, len(self.titles))
        return [k for k in self.order if k in ancestors and not local.get(k, False)]
