"""``build_prompt``: gathered evidence in, a ``Prompt`` out. Pure: no store, no clock.

``compact`` is the seed's research-room prompt line for line. ``grounded`` keeps those lines
and puts the store's evidence under them, split into verified and unverified, and stays
within a size budget by dropping the least central evidence first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from server.keys import anchor_for
from server.models import LINK_TYPES
from server.tutor.defaults import EXTRA_LINES, default_research, line_asks_for
from server.tutor.entries import assess as assess_object
from server.tutor.entries import entry_for, locator_findings, object_lines
from server.tutor.evidence import title_of
from server.tutor.formats import entry_text, finding_text, render_text
from server.tutor.grounding import rests_on
from server.tutor.prompt import (
    Code,
    Entry,
    EvidenceLine,
    Finding,
    LearnerNote,
    Mode,
    ObjectEvidence,
    Prompt,
    QuestionSource,
    Related,
    dropped_label,
)

Measure = Callable[[Prompt], int]
MIN_CUT = 200  # never cut a text below this many characters
UNASKED = 50  # rank penalty of evidence no authored line asks for (ranks: position * 100 + kind)


def build_prompt(
    evidence: ObjectEvidence,
    *,
    site_name: str,
    mode: Mode = "grounded",
    question: str | None = None,
    chosen: tuple[Related, ...] | None = None,
    note: LearnerNote | None = None,
    budget_chars: int = 12_000,
    measure: Measure | None = None,
) -> Prompt:
    """The prompt for ``evidence``; ``chosen`` replaces the gathered related objects."""
    research = evidence.research or default_research(
        evidence.kind, evidence.title, evidence.source_ids
    )
    source: QuestionSource = "content" if evidence.research else "default"
    if question and question.strip():
        research = replace(research, open_question=" ".join(question.split()))
        source = "request"
    related = evidence.related if chosen is None else chosen
    base = Prompt(
        mode=mode,
        site_name=site_name,
        key=evidence.key,
        kind=evidence.kind,
        title=evidence.title,
        context_title=evidence.context_title,
        anchor=anchor_for(evidence.key),
        question=research.open_question,
        question_source=source,
        object_details=(),
        object_code=None,
        object_record=evidence.record,
        evidence=tuple(EvidenceLine(text, ()) for text in research.evidence),
        resolves=research.resolves,
        budget_chars=budget_chars,
    )
    if mode == "compact":
        if chosen is not None:
            lines = [f"{r.key} ({title_of(r.kind, r.record)})" for r in chosen]
            base = replace(base, evidence=tuple(EvidenceLine(t, ()) for t in lines))
        return base
    grounding = rests_on(evidence.kind, evidence.record, evidence.concept, evidence.related)
    details = object_lines(evidence.kind, evidence.record, evidence.concept, grounding)
    code = None
    if evidence.kind == "witness":
        code = Code(str(evidence.record.get("language", "python")), str(evidence.record["code"]))
    prompt = replace(base, object_details=tuple(details), object_code=code, note=note)
    layout = _layout(evidence, research.evidence, [entry_for(r) for r in related])
    return fit(_assemble(prompt, layout), layout, measure or _text_size)


def _text_size(prompt: Prompt) -> int:
    return len(render_text(prompt))


@dataclass(frozen=True)
class Layout:
    """Where each entry goes: the index of its evidence line, then extra lines by kind."""

    lines: tuple[str, ...]
    entries: tuple[Entry, ...]
    slots: tuple[int, ...]
    own_verified: tuple[Finding, ...]
    own_unverified: tuple[Finding, ...]


@functools.lru_cache(maxsize=1024)
def _slot(lines: tuple[str, ...], kind: str) -> int:
    """The first line asking for ``kind``, else the extra line for it (after the lines)."""
    for index, line in enumerate(lines):
        if line_asks_for(line, kind):
            return index
    return len(lines) + list(EXTRA_LINES).index(kind)


def _layout(evidence: ObjectEvidence, lines: tuple[str, ...], entries: list[Entry]) -> Layout:
    verified: tuple[Finding, ...] = ()
    unverified: tuple[Finding, ...] = ()
    if evidence.kind != "concept":
        ok, why = assess_object(evidence.kind, evidence.record)
        own = (Finding(evidence.key, evidence.key, why),)
        verified, unverified = (own, ()) if ok else ((), own)
        unverified += tuple(locator_findings(evidence.kind, evidence.key, evidence.record))
    slots = tuple(_slot(lines, entry.kind) for entry in entries)
    return Layout(lines, tuple(entries), slots, verified, unverified)


def _assemble(prompt: Prompt, layout: Layout, gone: frozenset[int] = frozenset()) -> Prompt:
    """Entries under their lines and the findings split, leaving out the ``gone`` entries
    (by ``id``: dropped for size, and only counted per line)."""
    extra = list(EXTRA_LINES.values())
    texts = [*layout.lines, *extra]
    kept: list[list[Entry]] = [[] for _ in texts]
    dropped = [0] * len(texts)
    for entry, slot in zip(layout.entries, layout.slots, strict=True):
        if id(entry) in gone:
            dropped[slot] += 1
        else:
            kept[slot].append(entry)
    evidence_lines = [
        EvidenceLine(texts[i], tuple(kept[i]), i < len(layout.lines), dropped[i])
        for i in range(len(texts))
        if i < len(layout.lines) or kept[i]
    ]
    verified = list(layout.own_verified)
    unverified = list(layout.own_unverified)
    for line in evidence_lines:
        for entry in line.entries:
            first, *locators = entry.findings
            (verified if entry.verified else unverified).append(first)
            unverified += locators
    return replace(
        prompt,
        evidence=tuple(evidence_lines),
        verified=tuple(dict.fromkeys(verified)),
        unverified=tuple(dict.fromkeys(unverified)),
    )


def _entry_cost(entry: Entry) -> int:
    """About how many characters leaving ``entry`` out saves in the text format."""
    cost = sum(len(line) + 1 for line in entry_text(entry))
    cost += sum(len(finding_text(f)) + 1 for f in entry.findings)
    # Its name in the "dropped" line costs a little back.
    return cost - len(dropped_label(entry)) - 2


def _asked(layout: Layout, entry: Entry, slot: int) -> bool:
    """Does an authored line ask for ``entry``? A line that names link types (prerequisite,
    contrast...) asks only for outgoing links of those types."""
    if slot >= len(layout.lines):
        return False
    link_type = entry.about.get("type")
    if link_type is None:
        return True
    line = layout.lines[slot]
    named = [t for t in LINK_TYPES if re.search(rf"\b{t}", line, re.IGNORECASE)]
    if not named:
        return entry.about.get("direction") != "incoming"
    return link_type in named and entry.about.get("direction") != "incoming"


def fit(prompt: Prompt, layout: Layout, measure: Measure) -> Prompt:
    """Drop the least central entries until ``measure(prompt)`` fits the budget.

    If the prompt is still too long with every entry dropped, the dropped entries are counted
    by kind instead of named, then the object's own code, the learner's note and the longest
    object details are cut, each saying so. The seed's own lines are never cut.
    """
    budget = prompt.budget_chars
    size = measure(prompt)
    if size <= budget:
        return prompt
    # What an authored evidence line asks for outranks the same position of anything else.
    centrality = {
        id(e): e.rank + (0 if _asked(layout, e, slot) else UNASKED)
        for e, slot in zip(layout.entries, layout.slots, strict=True)
    }
    by_centrality = sorted(layout.entries, key=lambda e: centrality[id(e)], reverse=True)
    gone: set[int] = set()
    dropped: list[Entry] = []
    excess = size - budget
    while by_centrality:
        # Drop by estimate, then measure: a few renders however many entries go.
        while by_centrality and excess > 0:
            entry = by_centrality.pop(0)
            gone.add(id(entry))
            dropped.append(entry)
            excess -= _entry_cost(entry)
        prompt = replace(_assemble(prompt, layout, frozenset(gone)), dropped=tuple(dropped))
        size = measure(prompt)
        if size <= budget:
            return prompt
        excess = size - budget
    if prompt.dropped:
        prompt = replace(prompt, dropped_in_full=False)
        if measure(prompt) <= budget:
            return prompt
    return _cut(prompt, measure)


def _cut_text(text: str, excess: int) -> tuple[str, int]:
    """``text`` shortened by about ``excess`` characters (never below MIN_CUT), and the cut."""
    keep = max(MIN_CUT, len(text) - excess - 60)
    if keep >= len(text):
        return text, 0
    cut = len(text) - keep
    return text[:keep].rstrip() + f"\n… [{cut} characters cut]", cut


def _cut(prompt: Prompt, measure: Measure) -> Prompt:
    """Cut the object's code, the note and the longest details until the prompt fits.

    A cut's marker and a format's own markup cost a little: a few passes from the original
    texts, each asking for more, settle it (or reach the floor of MIN_CUT per text).
    """
    slack = 0
    cut = prompt
    for _ in range(6):
        cut = _cut_once(prompt, measure, slack)
        size = measure(cut)
        if size <= prompt.budget_chars:
            return cut
        slack += size - prompt.budget_chars + 20
    return cut


def _cut_once(prompt: Prompt, measure: Measure, slack: int) -> Prompt:
    budget = prompt.budget_chars - slack
    size = measure(prompt)
    if size > budget and prompt.object_code is not None:
        text, cut = _cut_text(prompt.object_code.text, size - budget)
        if cut:
            prompt = replace(
                prompt,
                object_code=replace(prompt.object_code, text=text),
                truncated=(*prompt.truncated, f"the code of {prompt.key}"),
            )
            size = measure(prompt)
    if size > budget and prompt.note is not None:
        text, cut = _cut_text(prompt.note.text, size - budget)
        if cut:
            prompt = replace(
                prompt,
                note=replace(prompt.note, text=text),
                truncated=(*prompt.truncated, "my note"),
            )
            size = measure(prompt)
    details = list(prompt.object_details)
    for index in sorted(range(len(details)), key=lambda i: -len(details[i])):
        if size <= budget:
            break
        text, cut = _cut_text(details[index], size - budget)
        if cut:
            details[index] = text
            label = details[index].split(":", 1)[0].lower().replace("in full", "full text")
            prompt = replace(
                prompt,
                object_details=tuple(details),
                truncated=(*prompt.truncated, f"the object's {label}"),
            )
            size = measure(prompt)
    return prompt
