"""The pure builder, without a store: placement under lines, budget, defaults, formats."""

from __future__ import annotations

from typing import Any

import pytest

from server.models import OBJECT_KINDS
from server.tutor.builder import build_prompt
from server.tutor.defaults import default_research, first_sentence, line_asks_for
from server.tutor.formats import render_markdown, render_text
from server.tutor.prompt import LearnerNote, ObjectEvidence, Related, Research

CONCEPT = "concept:ctx/page"


def equation(i: int) -> dict[str, Any]:
    return {
        "kind": "equation", "key": f"equation:ctx/page/eq-{i}", "label": f"Eq {i}",
        "latex": "a_`b` = c", "statement": "A statement. " * 20, "symbols": [],
    }  # fmt: skip


def witness(code: str) -> dict[str, Any]:
    return {
        "kind": "witness", "key": "witness:ctx/page/w", "language": "python", "code": code,
        "demonstrates": "Shows it.", "checks": [], "latest_run": None, "status": "unchecked",
    }  # fmt: skip


def evidence(related: list[Related], research: Research | None = None) -> ObjectEvidence:
    record = {"kind": "concept", "key": CONCEPT, "title": "Page", "summary": "S.", "bridge": "B."}
    return ObjectEvidence(
        key=CONCEPT, kind="concept", title="Page", context_title="Ctx", record=record,
        concept=None, research=research, source_ids=("src",), related=tuple(related),
    )  # fmt: skip


def test_entries_sit_under_the_first_line_that_asks_for_them() -> None:
    research = Research("Q?", ("The code that runs it", "Equations and code"), ("R",))
    related = [
        Related("equation:ctx/page/eq-0", "equation", "equation", equation(0), 1),
        Related("witness:ctx/page/w", "witness", "witness", witness("print(1)"), 2),
        Related(
            "misconception:ctx/page/m", "misconception", "misconception",
            {"kind": "misconception", "key": "misconception:ctx/page/m", "belief": "B.",
             "why_wrong": "W.", "exposed_by": []}, 3,
        ),
    ]  # fmt: skip
    prompt = build_prompt(evidence(related, research), site_name="S")
    placed = {line.text: [e.key for e in line.entries] for line in prompt.evidence}
    assert placed == {
        "The code that runs it": ["witness:ctx/page/w"],
        "Equations and code": ["equation:ctx/page/eq-0"],
        "Known misconceptions": ["misconception:ctx/page/m"],
    }
    assert [line.authored for line in prompt.evidence] == [True, True, False]


def test_line_keywords_match_words_not_fragments() -> None:
    assert line_asks_for("One demo state that shows the invariant", "demo")
    assert not line_asks_for("What it demonstrates", "demo")
    assert line_asks_for("Definition, prerequisite, and contrast concept links", "concept")
    assert not line_asks_for("The equation that makes the concept operational", "concept")


def test_the_budget_drops_the_highest_rank_first() -> None:
    related = [
        Related(f"equation:ctx/page/eq-{i}", "equation", "equation", equation(i), i)
        for i in range(6)
    ]
    full = render_text(build_prompt(evidence(related), site_name="S", budget_chars=10**6))
    budget = len(full) - 300
    prompt = build_prompt(evidence(related), site_name="S", budget_chars=budget)
    assert len(render_text(prompt)) <= budget
    assert [e.key for e in prompt.dropped] == ["equation:ctx/page/eq-5"]
    kept = [e.key for line in prompt.evidence for e in line.entries]
    assert kept == [f"equation:ctx/page/eq-{i}" for i in range(5)]


def test_the_budget_cuts_the_objects_code_and_my_note_last() -> None:
    record = witness("x = 1\n" * 2000)
    ev = ObjectEvidence(
        key="witness:ctx/page/w", kind="witness", title="Shows it.", context_title="Ctx",
        record=record, concept={"key": CONCEPT, "title": "Page"}, research=None,
        source_ids=(), related=(),
    )  # fmt: skip
    note = LearnerNote("witness:ctx/page/w", "n" * 5000, "Do it.", 1)
    prompt = build_prompt(ev, site_name="S", note=note, budget_chars=4000)
    text = render_text(prompt)
    assert len(text) <= 4000
    assert "characters cut]" in text
    assert "Cut to fit the size budget: the code of witness:ctx/page/w; my note" in text
    assert "My next action: Do it." in text


def test_every_kind_has_defaults() -> None:
    for kind in OBJECT_KINDS:
        research = default_research(kind, "Title.", ("src-a", "src-b"))
        assert research.open_question.endswith("?")
        assert research.evidence and research.resolves
    assert (
        default_research("concept", "T", ()).evidence[0] == "Source ids to inspect: none listed yet"
    )
    with pytest.raises(ValueError, match="no prompt defaults for kind 'note'"):
        default_research("note", "T", ())


def test_first_sentence() -> None:
    assert first_sentence("One. Two.") == "One."
    assert first_sentence("  spaced\n  out  ") == "spaced out"
    long = first_sentence("word " * 100, limit=20)
    assert long == "word word word word…"


def test_markdown_keeps_code_and_latex_intact() -> None:
    code = "print('```')\n\nx = 1\n"
    related = [
        Related("witness:ctx/page/w", "witness", "witness", witness(code), 1),
        Related("equation:ctx/page/eq-0", "equation", "equation", equation(0), 2),
    ]
    markdown = render_markdown(build_prompt(evidence(related), site_name="S"))
    assert "    ````python\n    print('```')\n\n    x = 1\n    ````" in markdown
    assert "- **LaTeX:** ``a_`b` = c``" in markdown
    assert "  - **[unverified]** `witness:ctx/page/w`: Shows it." in markdown


def link(key: str, link_type: str, rank: int, direction: str = "outgoing") -> Related:
    record = {"kind": "concept", "key": key, "title": key, "summary": "S." * 100}
    about = {"type": link_type, "direction": direction, "reason": "R." * 100, "gate": None}
    return Related(key, "concept", f"{link_type} link", record, rank, about)


def test_what_the_lines_ask_for_outlasts_what_they_do_not() -> None:
    research = Research("Q?", ("Prerequisite concept links",), ("R",))
    claim = {
        "kind": "claim", "key": "claim:ctx/page/c", "text": "C." * 100, "support": [],
        "reviews": [], "verdict": "unreviewed", "latest_review": None,
    }  # fmt: skip
    related = [
        link("concept:ctx/pre", "prerequisite", 6),
        Related("claim:ctx/page/c", "claim", "claim", claim, 5),
        link("concept:ctx/next", "next", 9),
        link("concept:ctx/back", "prerequisite", 10, direction="incoming"),
    ]
    full = render_text(build_prompt(evidence(related, research), site_name="S", budget_chars=10**6))
    prompt = build_prompt(evidence(related, research), site_name="S", budget_chars=len(full) - 600)
    # The named type survives; the next link and the incoming link go before the claim does.
    assert [e.key for e in prompt.dropped] == ["concept:ctx/back", "concept:ctx/next"]
    everything = build_prompt(evidence(related, research), site_name="S", budget_chars=1)
    assert [e.key for e in everything.dropped] == [
        "concept:ctx/back", "concept:ctx/next", "claim:ctx/page/c", "concept:ctx/pre",
    ]  # fmt: skip
