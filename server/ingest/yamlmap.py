"""YAML loading that remembers where each value came from (for ``file:line`` messages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

try:  # the C loader is several times faster where libyaml is available
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]


class YamlDocument:
    """A parsed YAML document and a way to find the line of any path within it."""

    def __init__(self, text: str, first_line: int = 1) -> None:
        self.first_line = first_line
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
    """The line and a one-line message of a YAML syntax error."""
    mark = getattr(error, "problem_mark", None)
    line = first_line + (mark.line if mark is not None else 0)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"malformed YAML: {problem}" + (f" ({context})" if context else "")
    return line, message
