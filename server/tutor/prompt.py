"""The shapes a prompt is made of: gathered evidence in, a structured ``Prompt`` out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["compact", "grounded"]
Format = Literal["text", "markdown", "json"]
QuestionSource = Literal["content", "default", "request"]
MODES: tuple[Mode, ...] = ("compact", "grounded")
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")


@dataclass(frozen=True)
class Research:
    """The research question of an object: open question, evidence lines, resolution."""

    open_question: str
    evidence: tuple[str, ...]
    resolves: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Related:
    """One object related to the prompt's object, with why it is related.

    ``record`` is the object's JSON shape (``server.objects.serialize``); ``rank`` orders
    centrality (lower is more central) and decides what a size budget drops first.
    Compared by identity, so that how it is shown can be remembered per object.
    """

    key: str
    kind: str
    relation: str
    record: Mapping[str, Any]
    rank: int
    # What ties it to the prompt's object: a link's type, reason and gate; what a source
    # grounds on a page; the support entries a claim cites a source with.
    about: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectEvidence:
    """Everything the store knows about one object that a prompt may cite."""

    key: str
    kind: str
    title: str
    context_title: str
    record: Mapping[str, Any]
    concept: Mapping[str, Any] | None
    research: Research | None
    source_ids: tuple[str, ...]
    related: tuple[Related, ...]


@dataclass(frozen=True)
class LearnerNote:
    key: str
    text: str
    next_action: str
    version: int


@dataclass(frozen=True)
class Code:
    language: str
    text: str


@dataclass(frozen=True)
class Finding:
    """One line of the verified / unverified split: what, and why it is (not) verified."""

    key: str
    label: str
    why: str


@dataclass(frozen=True, eq=False)
class Entry:
    """One piece of evidence as the prompt shows it (compared by identity, like Related)."""

    key: str
    kind: str
    relation: str
    heading: str
    details: tuple[str, ...]
    code: Code | None
    verified: bool
    why: str
    rank: int
    record: Mapping[str, Any]
    # Its own verified / unverified line first, then one per locator nobody has checked.
    findings: tuple[Finding, ...] = ()
    about: Mapping[str, Any] = field(default_factory=dict)


def dropped_label(entry: Entry) -> str:
    """How a dropped entry is named: its key, and for a concept link which link it was."""
    if entry.kind == "concept" and "link" in entry.relation:
        return f"{entry.key} ({entry.relation})"
    return entry.key


@dataclass(frozen=True)
class EvidenceLine:
    """One "Evidence to inspect" line and the entries shown under it."""

    text: str
    entries: tuple[Entry, ...]
    authored: bool = True
    dropped: int = 0  # entries left out to fit the size budget


@dataclass(frozen=True)
class Prompt:
    mode: Mode
    site_name: str
    key: str
    kind: str
    title: str
    context_title: str
    anchor: str
    question: str
    question_source: QuestionSource
    object_details: tuple[str, ...]
    object_code: Code | None
    object_record: Mapping[str, Any]
    evidence: tuple[EvidenceLine, ...]
    resolves: tuple[str, ...]
    verified: tuple[Finding, ...] = ()
    unverified: tuple[Finding, ...] = ()
    note: LearnerNote | None = None
    dropped: tuple[Entry, ...] = ()
    dropped_in_full: bool = True  # False: the dropped entries are only counted by kind
    truncated: tuple[str, ...] = ()
    budget_chars: int = 0
