"""The concept page's learning map: its links in both directions, grouped by what they mean
for the reader, each concept once per group."""

from __future__ import annotations

from typing import Any

# (group title, direction, link types): where a link lands decides its group.
GROUPS = (
    ("Prerequisites", "outgoing", ("prerequisite", "definition")),
    ("Next", "outgoing", ("next",)),
    ("Contrast", "outgoing", ("contrast",)),
    ("Contrast", "incoming", ("contrast",)),
    ("Used by", "incoming", ("prerequisite", "definition")),
    ("Related", "outgoing", ("related",)),
    ("Related", "incoming", ("related", "next")),
)
ORDER = ("Prerequisites", "Next", "Contrast", "Used by", "Related")


def learning_map(links: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``[{"title", "concepts": [{"key", "title", "url", "reasons", "gates"}]}]``, groups in
    reading order, empty groups left out; a concept linked twice in a group is listed once
    with every reason."""
    grouped: dict[str, dict[str, dict[str, Any]]] = {title: {} for title in ORDER}
    for title, direction, types in GROUPS:
        other = "to" if direction == "outgoing" else "from"
        for link in links.get(direction, []):
            if link["type"] not in types:
                continue
            key = link[other]
            entry = grouped[title].setdefault(
                key,
                {"key": key, "title": link.get("title") or key, "url": link["url"],
                 "reasons": [], "gates": []},
            )  # fmt: skip
            reason = link.get("reason")
            if reason and reason not in entry["reasons"]:
                entry["reasons"].append(reason)
            gate = link.get("gate")
            if gate and gate not in entry["gates"]:
                entry["gates"].append(gate)
    return [
        {"title": title, "concepts": list(grouped[title].values())}
        for title in ORDER
        if grouped[title]
    ]
