"""Stable keys (``kind:path``) and anchor ids of every object kind."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.errors import InvalidInput
from server.models import OBJECT_KINDS

KEY_PATTERN = re.compile(r"^(?P<kind>[a-z]+):(?P<path>[a-z0-9]+(?:[-/][a-z0-9]+)*)$")
NOTEBOOK = "concept-notebook"


@dataclass(frozen=True)
class ParsedKey:
    kind: str
    path: str

    @property
    def concept_path(self) -> str:
        """``context/slug`` of the concept this object lives in (not for sources)."""
        parts = self.path.split("/")
        return "/".join(parts[:2])


def parse_key(key: str) -> ParsedKey:
    match = KEY_PATTERN.match(key)
    if not match or match.group("kind") not in OBJECT_KINDS:
        kinds = ", ".join(OBJECT_KINDS)
        raise InvalidInput(f"'{key}' is not an object key: expected kind:path with kind in {kinds}")
    kind, path = match.group("kind"), match.group("path")
    depth = path.count("/")
    expected = {"concept": 1, "source": 0}.get(kind, 2)
    if depth != expected:
        raise InvalidInput(f"'{key}' is not a {kind} key: the path has {expected + 1} part(s)")
    return ParsedKey(kind, path)


def concept_key(context: str, slug: str) -> str:
    return f"concept:{context}/{slug}"


def child_key(kind: str, context: str, slug: str, object_id: str) -> str:
    return f"{kind}:{context}/{slug}/{object_id}"


def source_key(source_id: str) -> str:
    return f"source:{source_id}"


def anchor_for(key: str) -> str:
    """``concept:a/b`` -> ``concept/concept-notebook/a/b``; ``source:x`` -> ``source/x``."""
    kind, _, path = key.partition(":")
    if kind == "source":
        return f"source/{path}"
    return f"{kind}/{NOTEBOOK}/{path}"


def owning_concept_key(key: str) -> str | None:
    parsed = parse_key(key)
    if parsed.kind == "source":
        return None
    return f"concept:{parsed.concept_path}"
