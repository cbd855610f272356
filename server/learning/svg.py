"""The graph page's drawing: a layered layout by Graphviz ``dot``, as inline SVG.

``dot`` runs without a shell, with the graph on its standard input, under a time limit; every
label and address is written as a quoted DOT string with its quotes and backslashes escaped,
and the graph is refused above ``graph_max_nodes`` concepts. Drawings are cached by what they
show (the store revision, the focus, and the learner's marks on the concepts drawn).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidInput, ReadingRoomError

STATUS_FILL = {"fully-grounded": "#c9ecd0", "grounded": "#fff1c2", "ungrounded": "#f6d2d2"}
EDGE_STYLE = {
    "prerequisite": 'color="#333333" penwidth=1.6',
    "next": 'color="#3869b8" style=dashed',
    "contrast": 'color="#b8386a" style=dotted',
    "definition": 'color="#6a6a6a" style=dashed',
    "related": 'color="#9a9a9a" style=dotted arrowhead=none',
}
MAX_LABEL = 60
CACHE_ENTRIES = 64


class GraphvizFailed(ReadingRoomError):
    status_code = 503
    code = "graphviz_failed"


def quoted(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, no line breaks."""
    flat = " ".join(text.split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(title: str) -> str:
    short = title.split(":")[0].strip() or title
    return short if len(short) <= MAX_LABEL else short[: MAX_LABEL - 1] + "…"


def to_dot(graph: dict[str, Any], focus: str | None = None) -> str:
    """The DOT text of a graph answer (nodes with status and marks, typed edges)."""
    lines = [
        "digraph learning {",
        '  graph [rankdir=BT ranksep=0.45 nodesep=0.25 bgcolor="transparent"];',
        '  node [shape=box style="rounded,filled" fontname="sans-serif" fontsize=11 '
        'margin="0.12,0.06"];',
        '  edge [fontname="sans-serif" fontsize=9 arrowsize=0.7];',
    ]
    ids = {node["key"]: f"n{i}" for i, node in enumerate(graph["nodes"])}
    for node in graph["nodes"]:
        status = node.get("status", "ungrounded")
        mark = " ✓" if node.get("learned") else ""
        star = " ★" if node.get("starred") else ""
        classes = status + (" learned" if node.get("learned") else "")  # dot adds "node"
        extra = " penwidth=3" if node["key"] == focus else ""
        peripheries = " peripheries=2" if node.get("learned") else ""
        lines.append(
            f"  {ids[node['key']]} [label={quoted(_label(node['title']) + mark + star)} "
            f"tooltip={quoted(node['key'] + ' · ' + status)} URL={quoted(node['url'])} "
            f'fillcolor="{STATUS_FILL.get(status, "#eeeeee")}" class={quoted(classes)}'
            f"{extra}{peripheries}];"
        )
    for edge in graph["edges"]:
        a, b = ids.get(edge["from"]), ids.get(edge["to"])
        if a is None or b is None:
            continue
        style = EDGE_STYLE.get(edge["type"], "")
        # Drawn from prerequisite up to what needs it, so the layers read bottom-up.
        source, target = (b, a) if edge["type"] == "prerequisite" else (a, b)
        tip = quoted(edge["type"] + ": " + edge["reason"])
        kind = quoted(edge["type"])  # dot adds "edge"
        lines.append(f"  {source} -> {target} [{style} tooltip={tip} class={kind}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)


@dataclass
class Drawer:
    dot: str
    timeout_s: float
    max_nodes: int

    def __post_init__(self) -> None:
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def svg(self, graph: dict[str, Any], focus: str | None, revision: int) -> str:
        if len(graph["nodes"]) > self.max_nodes:
            raise InvalidInput(
                f"the graph has {len(graph['nodes'])} concepts, more than the {self.max_nodes} "
                "one drawing holds: draw a focused view (?focus=KEY&depth=N)"
            )
        source = to_dot(graph, focus)
        digest = hashlib.sha256(f"{revision}\0{source}".encode()).hexdigest()
        with self._lock:
            cached = self._cache.get(digest)
            if cached is not None:
                self._cache.move_to_end(digest)
                return cached
        drawing = self._run(source)
        with self._lock:
            self._cache[digest] = drawing
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return drawing

    def _run(self, source: str) -> str:
        try:
            done = subprocess.run(  # no shell: the program and one fixed argument
                [self.dot, "-Tsvg"], input=source.encode("utf-8"), capture_output=True,
                timeout=self.timeout_s, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            raise GraphvizFailed(
                f"Graphviz '{self.dot}' is not installed (the Debian package graphviz)"
            ) from None
        except subprocess.TimeoutExpired:
            raise GraphvizFailed(f"Graphviz took longer than {self.timeout_s:g} s") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()[:300]
            raise GraphvizFailed(f"Graphviz failed: {message or done.returncode}")
        svg = PROLOGUE.sub("", done.stdout.decode("utf-8"), count=1)
        # Scripts and event handlers never come out of dot, but the page's drawing is checked.
        if re.search(r"<script|\son\w+\s*=", svg, re.IGNORECASE):
            raise GraphvizFailed("the drawing holds script; refused")
        return svg
