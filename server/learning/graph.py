"""The prerequisite graph in memory: plans, the fringe, downstream, focused subgraphs, and
status derived across the graph.

Pure functions over plain data (no database): the index (``server.learning.index``) builds a
``PrereqGraph`` once per store revision and every request walks only the part it needs.
An edge ``A -> B`` of type ``prerequisite`` means "B is a prerequisite of A".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

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


class PrereqGraph:
    """Concepts (key -> title, learn time) and their typed links; prerequisites stay acyclic.

    Walks run over integer ids (``_pre``/``_dep`` adjacency lists); the public methods speak
    in keys."""

    def __init__(
        self,
        concepts: Iterable[tuple[str, str, int | None]],
        links: Iterable[tuple[str, str, str, str]],
    ) -> None:
        self.titles: dict[str, str] = {}
        self.learn_time: dict[str, int] = {}
        for key, title, minutes in concepts:
            self.titles[key] = title
            self.learn_time[key] = minutes if minutes is not None else DEFAULT_LEARN_TIME_MIN
        self._names = list(self.titles)
        self._id = {key: i for i, key in enumerate(self._names)}
        n = len(self._names)
        self.prereqs: dict[str, list[Edge]] = {k: [] for k in self._names}
        self.dependents: dict[str, list[Edge]] = {k: [] for k in self._names}
        self._pre: list[list[int]] = [[] for _ in range(n)]
        self._dep: list[list[int]] = [[] for _ in range(n)]
        self._touching: list[list[Edge]] = [[] for _ in range(n)]  # every link, either end
        self.links: list[Edge] = []
        sources: list[int] = []
        targets: list[int] = []
        for source, target, kind, reason in links:
            a, b = self._id.get(source), self._id.get(target)
            if a is None or b is None:
                continue
            edge = Edge(source, target, kind, reason)
            self.links.append(edge)
            self._touching[a].append(edge)
            if b != a:
                self._touching[b].append(edge)
            if kind == "prerequisite":
                self.prereqs[source].append(edge)
                self.dependents[target].append(edge)
                self._pre[a].append(b)
                self._dep[b].append(a)
                sources.append(a)
                targets.append(b)
        self._sources = np.array(sources, dtype=np.int64)
        self._targets = np.array(targets, dtype=np.int64)
        self._order = self._topological_order()
        self._rank = [0] * n
        for position, i in enumerate(self._order):
            self._rank[i] = position
        self.order = [self._names[i] for i in self._order]

    @classmethod
    def build(
        cls,
        concepts: Iterable[tuple[str, str, int | None]],
        links: Iterable[tuple[str, str, str, str]],
    ) -> PrereqGraph:
        """``concepts``: (key, title, learn_time or None); ``links``: (from, to, type, reason).

        Links to unknown concepts are dropped; a prerequisite cycle is refused."""
        return cls(concepts, links)

    def _topological_order(self) -> list[int]:
        """Kahn's algorithm: prerequisites first; a cycle is a content error."""
        waiting = [len(p) for p in self._pre]
        ready = deque(sorted((i for i, w in enumerate(waiting) if w == 0),
                             key=self._names.__getitem__))  # fmt: skip
        order: list[int] = []
        dep = self._dep
        while ready:
            i = ready.popleft()
            order.append(i)
            for j in dep[i]:
                waiting[j] -= 1
                if waiting[j] == 0:
                    ready.append(j)
        if len(order) != len(self._names):
            stuck = sorted(self._names[i] for i, w in enumerate(waiting) if w > 0)
            raise ContentError(
                "prerequisite links form a cycle: no learning order exists", stuck[:20]
            )
        return order

    def require(self, key: str) -> int:
        i = self._id.get(key)
        if i is None:
            raise InvalidInput(f"no concept has the key '{key}'")
        return i

    def _mask(self, keys: Iterable[str]) -> bytearray:
        mask = bytearray(len(self._names))
        ids = self._id
        for key in keys:
            i = ids.get(key)
            if i is not None:
                mask[i] = 1
        return mask

    # -- learning ---------------------------------------------------------------------------

    def plan(self, target: str, learned: set[str]) -> list[str]:
        """The unlearned prerequisites of ``target`` (and ``target`` itself if unlearned), each
        after its own prerequisites. A learned concept is not entered: whatever is reachable
        only through learned concepts is skipped."""
        start = self.require(target)
        if target in learned:
            return []
        blocked = self._mask(learned)  # learned, or already found
        blocked[start] = 1
        pre = self._pre
        # Breadth-first through unlearned prerequisites, then in the learning order (a valid
        # order: every prerequisite comes before what needs it).
        found, frontier = [start], [start]
        while frontier:
            nxt: list[int] = []
            for i in frontier:
                for j in pre[i]:
                    if not blocked[j]:
                        blocked[j] = 1
                        nxt.append(j)
            found.extend(nxt)
            frontier = nxt
        found.sort(key=self._rank.__getitem__)
        names = self._names
        return [names[i] for i in found]

    def fringe(self, learned: set[str]) -> list[str]:
        """Concepts not learned whose prerequisites are all learned, in key order."""
        mask = np.frombuffer(bytes(self._mask(learned)), dtype=np.uint8)
        unlearned = (1 - mask).astype(np.int64)
        waiting = np.bincount(
            self._sources, weights=unlearned[self._targets], minlength=len(self._names)
        ) if len(self._sources) else np.zeros(len(self._names))  # fmt: skip
        ready = np.flatnonzero((waiting == 0) & (mask == 0))
        names = self._names
        return sorted(names[i] for i in ready.tolist())

    def downstream(self, key: str, max_depth: int = MAX_DEPTH) -> dict[str, int]:
        """Every concept that needs ``key``, transitively: key -> shortest depth (1 = direct)."""
        return self._walk(self.require(key), max_depth, self._dep)

    def upstream(self, key: str, max_depth: int = MAX_DEPTH) -> dict[str, int]:
        """Every prerequisite of ``key``, transitively, with its shortest depth."""
        return self._walk(self.require(key), max_depth, self._pre)

    def _walk_ids(
        self, start: int, max_depth: int, adjacency: list[list[int]]
    ) -> tuple[list[int], list[int]]:
        """Breadth-first from ``start``: the ids reached (each level after the one before) and
        a list giving the level of each of them."""
        depth = [0] * len(self._names)
        depth[start] = -1
        found: list[int] = []
        frontier = [start]
        level = 0
        while frontier and level < max_depth:
            level += 1
            nxt: list[int] = []
            for i in frontier:
                for j in adjacency[i]:
                    if depth[j] == 0:
                        depth[j] = level
                        nxt.append(j)
            found.extend(nxt)
            frontier = nxt
        return found, depth

    def _walk(self, start: int, max_depth: int, adjacency: list[list[int]]) -> dict[str, int]:
        found, depth = self._walk_ids(start, max_depth, adjacency)
        names = self._names
        return {names[i]: depth[i] for i in found}

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
        seen: set[int] = set()
        edges: list[Edge] = []
        for node in nodes:
            for edge in self._touching[self._id[node]]:
                if edge.source in nodes and edge.target in nodes and id(edge) not in seen:
                    seen.add(id(edge))
                    edges.append(edge)
        return nodes, edges

    # -- derived status ---------------------------------------------------------------------

    def _grounded_ids(self, local: Mapping[str, bool]) -> list[bool]:
        return [bool(local.get(k, False)) for k in self._names]

    def fully_grounded(self, local: Mapping[str, bool]) -> dict[str, bool]:
        """A concept is fully grounded when it and every prerequisite, transitively, is locally
        grounded: one pass in topological order."""
        full = self._grounded_ids(local)
        pre = self._pre
        for i in self._order:
            if full[i]:
                for p in pre[i]:
                    if not full[p]:
                        full[i] = False
                        break
        return dict(zip(self._names, full, strict=True))

    def regrounded(
        self, previous: Mapping[str, bool], local: Mapping[str, bool], changed: Iterable[str]
    ) -> dict[str, bool]:
        """``fully_grounded`` after the local status of ``changed`` concepts moved: only those
        and what depends on them are recomputed, in topological order."""
        affected: set[int] = set()
        for key in changed:
            i = self._id.get(key)
            if i is not None and i not in affected:
                affected.add(i)
                affected.update(self._walk_ids(i, len(self._names), self._dep)[0])
        result = dict(previous)
        names, pre = self._names, self._pre
        for i in sorted(affected, key=self._rank.__getitem__):
            ok = bool(local.get(names[i], False))
            if ok:
                ok = all(result[names[p]] for p in pre[i])
            result[names[i]] = ok
        return result

    def blocking(self, key: str, local: Mapping[str, bool]) -> list[str]:
        """The prerequisites (transitively) that are not locally grounded, in learning order."""
        found, _ = self._walk_ids(self.require(key), len(self._names), self._pre)
        names = self._names
        return [names[i] for i in sorted(found, key=self._rank.__getitem__)
                if not local.get(names[i], False)]  # fmt: skip
