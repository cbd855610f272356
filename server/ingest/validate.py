"""Checks across files, over manifests: keys, sources, links, cycles, aliases, tombstones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.ingest.problems import Problems
from server.ingest.tree import ContentTree
from server.keys import source_key


@dataclass(frozen=True)
class Registered:
    """What the store remembers of a key from earlier ingests."""

    status: str
    target: str | None
    reason: str | None


@dataclass
class FileManifest:
    display: str
    manifest: dict[str, Any]


def validate_tree(
    tree: ContentTree,
    manifests: list[FileManifest],
    registry: dict[str, Registered],
    problems: Problems,
) -> dict[str, str]:
    """Report cross-file problems; return the alias map (old key -> new key)."""
    defined: dict[str, str] = {}  # key -> display of the file that defines it
    for spec, line in tree.sources:
        key = source_key(spec.id)
        if key in defined:
            problems.add(tree.display["sources.yaml"], line, f"duplicate source id '{spec.id}'")
        defined[key] = tree.display["sources.yaml"]
    for item in manifests:
        for duplicate in item.manifest["duplicates"]:
            problems.add(
                item.display,
                duplicate["line"],
                f"duplicate key '{duplicate['key']}' (first defined at line {duplicate['first']})",
            )
        for key, line in item.manifest["defines"].items():
            if key in defined:
                problems.add(item.display, line, f"duplicate key '{key}' (also in {defined[key]})")
            else:
                defined[key] = item.display
    aliases = _check_aliases(manifests, defined, problems)
    _check_reuse(defined, manifests, registry, aliases, problems)
    _check_references(tree, manifests, defined, aliases, problems)
    _check_prerequisite_cycles(manifests, aliases, problems)
    for tombstone, line in tree.tombstones:
        if tombstone.key in defined:
            problems.add(
                tree.display["tombstones.yaml"],
                line,
                f"tombstoned key '{tombstone.key}' is still defined in {defined[tombstone.key]}",
            )
    return aliases


def _line_of(item: FileManifest, key: str) -> int:
    line: int = item.manifest["defines"].get(key, 2)
    return line


def _check_aliases(
    manifests: list[FileManifest], defined: dict[str, str], problems: Problems
) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for item in manifests:
        own = item.manifest["defines"]
        for alias in item.manifest["aliases"]:
            old, new, line = alias["from"], alias["to"], alias["line"]
            if old in defined:
                problems.add(
                    item.display, line, f"alias '{old}' names a key still in use ({defined[old]})"
                )
            elif new not in own:
                problems.add(
                    item.display, line, f"alias '{old}' points to '{new}', not defined in this file"
                )
            elif old.partition(":")[0] != new.partition(":")[0]:
                problems.add(item.display, line, f"alias '{old}' and '{new}' differ in kind")
            elif old in aliases:
                problems.add(item.display, line, f"alias '{old}' is declared twice")
            else:
                aliases[old] = new
    return aliases


def _check_reuse(
    defined: dict[str, str],
    manifests: list[FileManifest],
    registry: dict[str, Registered],
    aliases: dict[str, str],
    problems: Problems,
) -> None:
    by_display = {item.display: item for item in manifests}
    for key, display in defined.items():
        known = registry.get(key)
        if known is None or known.status == "active":
            continue
        item = by_display.get(display)
        line = _line_of(item, key) if item else 1
        if known.status == "tombstone":
            problems.add(
                display,
                line,
                f"key '{key}' was removed ({known.reason}) and cannot be reused for a new object",
            )
        elif known.status == "alias" and aliases.get(key) is None:
            problems.add(
                display,
                line,
                f"key '{key}' is an old name of '{known.target}' and cannot be reused "
                "for a different object",
            )


def _check_references(
    tree: ContentTree,
    manifests: list[FileManifest],
    defined: dict[str, str],
    aliases: dict[str, str],
    problems: Problems,
) -> None:
    source_ids = {spec.id for spec, _ in tree.sources} | tree.named_sources
    for item in manifests:
        for citation in item.manifest["sources"]:
            if citation["source"] in source_ids or not tree.sources_readable:
                continue
            who = f"claim '{citation['claim']}'" if "claim" in citation else "the page"
            problems.add(
                item.display,
                citation["line"],
                f"{who} cites unknown source '{citation['source']}'",
            )
        for link in item.manifest["links"]:
            target = aliases.get(link["to"], link["to"])
            if not target.startswith("concept:") or target not in defined:
                problems.add(
                    item.display,
                    link["line"],
                    f"{link['type']} link to unknown concept '{link['to']}'",
                )
            elif target == item.manifest["key"]:
                problems.add(item.display, link["line"], "a concept cannot link to itself")
        for exposure in item.manifest["exposed_by"]:
            key = aliases.get(exposure["key"], exposure["key"])
            kind = key.partition(":")[0]
            if kind not in ("claim", "demo") or key not in defined:
                problems.add(
                    item.display,
                    exposure["line"],
                    f"misconception '{exposure['misconception']}' is exposed by unknown "
                    f"claim or demo '{exposure['key']}'",
                )


def _check_prerequisite_cycles(
    manifests: list[FileManifest], aliases: dict[str, str], problems: Problems
) -> None:
    """Prerequisite edges must stay acyclic: report each cycle once, at the edge closing it."""
    edges: dict[str, list[tuple[str, FileManifest, int]]] = {}
    for item in manifests:
        for link in item.manifest["links"]:
            if link["type"] == "prerequisite":
                target = aliases.get(link["to"], link["to"])
                edges.setdefault(item.manifest["key"], []).append((target, item, link["line"]))
    # concept A has prerequisite B: edge A -> B. A cycle means no valid learning order.
    # Depth-first with an explicit stack: a chain 10,000 deep must not hit the recursion limit.
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    reported: set[frozenset[str]] = set()
    for root in sorted(edges):
        if root in state:
            continue
        path: list[str] = [root]
        place: dict[str, int] = {root: 0}  # node -> its index in ``path``
        todo = [iter(edges.get(root, []))]
        state[root] = 1
        while todo:
            step = next(todo[-1], None)
            if step is None:
                node = path.pop()
                del place[node]
                state[node] = 2
                todo.pop()
                continue
            target, item, line = step
            if state.get(target) == 1:
                cycle = [*path[place[target] :], target]
                members = frozenset(cycle)
                if members not in reported:
                    reported.add(members)
                    problems.add(item.display, line, "prerequisite cycle: " + " -> ".join(cycle))
            elif target not in state:
                state[target] = 1
                place[target] = len(path)
                path.append(target)
                todo.append(iter(edges.get(target, [])))
