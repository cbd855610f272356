"""YAML loading that remembers where each value came from (for ``file:line`` messages).

Before a document is composed, one pass over its parse events bounds what it may expand to:
alias references (a 33 KB "billion laughs" file of nested aliases expands to millions of
nodes once validated and stored), the nodes counted with every alias expanded, and nesting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

try:  # the C loader is several times faster where libyaml is available
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]


MAX_ALIASES = 200
"""Alias references (``*name``) in one document."""
MAX_EXPANDED_NODES = 100_000
"""Nodes of one document with every alias expanded (the bundled content has ~2,000 per file)."""
MAX_DEPTH = 32
"""Nesting of mappings and sequences (the bundled content nests at most 11 deep)."""


class YamlLimitError(yaml.YAMLError):
    """A document over one of the limits above, at the (0-based) line where it went over."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def check_expansion(text: str) -> None:
    """Raise YamlLimitError if ``text`` has too many aliases, expands to too many nodes,
    nests too deep or refers to an anchor from inside itself; only the parse events are read,
    so nothing is expanded to find out."""
    sizes: dict[str, int] = {}  # expanded node count of each finished anchor
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, expanded count before it)
    expanded = aliases = 0
    for event in yaml.parse(text, Loader=SafeLoader):
        line = event.start_mark.line if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlLimitError(line, f"YAML has more aliases than the limit of {MAX_ALIASES}")
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                raise YamlLimitError(line, f"YAML alias *{event.anchor} is inside its own anchor")
            expanded += sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append((event.anchor, expanded))
            expanded += 1
            if len(open_nodes) > MAX_DEPTH:
                raise YamlLimitError(
                    line, f"YAML nests deeper than the limit of {MAX_DEPTH} levels"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, before = open_nodes.pop()
            if anchor:
                sizes[anchor] = expanded - before
        if expanded > MAX_EXPANDED_NODES:
            raise YamlLimitError(
                line,
                f"YAML alias expansion is over the limit of {MAX_EXPANDED_NODES} nodes "
                f"(after {aliases} aliases)",
            )


class YamlDocument:
    """A parsed YAML document and a way to find the line of any path within it."""

    def __init__(self, text: str, first_line: int = 1) -> None:
        self.first_line = first_line
        check_expansion(text)
        loader = SafeLoader(text)
        try:  # one parse: keep the node tree (for lines) and build the data from it
            self.node = loader.get_single_node()
            self.data: Any = loader.construct_document(self.node) if self.node else None
        finally:
            loader.dispose()

    def line_of(self, path: Sequence[str | int]) -> int:
        """1-based file line of the deepest node along ``path`` that exists."""
        node = self.node
        if node is None:
            return self.first_line
        line = node.start_mark.line
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        child = value_node
                        line = key_node.start_mark.line
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line
            if child is None:
                break
            node = child
        return self.first_line + line


def yaml_error_line(error: yaml.YAMLError, first_line: int) -> tuple[int, str]:
    """The line and a one-line message of a YAML syntax error or of a limit."""
    if isinstance(error, YamlLimitError):
        return first_line + error.line, error.message
    mark = getattr(error, "problem_mark", None)
    line = first_line + (mark.line if mark is not None else 0)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"malformed YAML: {problem}" + (f" ({context})" if context else "")
    return line, message
