"""Ingest proportional to the change: deep chains, cycles, one file changed or removed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

from server.db import unit_of_work
from server.errors import ContentError
from server.ingest.problems import Problems
from server.ingest.service import ingest
from server.ingest.tree import read_tree
from server.ingest.validate import FileManifest, validate_tree
from server.models import Claim, Concept, ConceptLink, Equation, IngestedFile, ObjectKey
from server.store import current_revision

PAGE = """---
title: Chain page {index}
summary: Page {index} of a prerequisite chain.
bridge: Each page builds on the one before.
{links}storyboard:
  prompt: Pick one.
  choices:
    - {{label: This, feedback: Yes., correct: true}}
    - {{label: That, feedback: No.}}
visual_inquiry:
  question: Which?
  prompt: Look.
  choices:
    - {{label: Here, feedback: Good.}}
    - {{label: There, feedback: Fine.}}
practice:
  prediction_prompt: Predict.
  hints: [One]
  rubric: [Concrete.]
research:
  open_question: What is page {index}?
  evidence: [the page before]
  resolves: [The learner can say it]
equations:
  - id: step
    label: Step {index}
    latex: 'x_{{{index}}} = x_{{{before}}} + 1'
    statement: One more than the page before.
claims:
  - id: claim
    text: Page {index} holds{extra}.
    support:
      - source: chain-source
        stance: supports
        locator: {{section: "Step {index}"}}
---

## Intuition

Step {index}.

## Math

{{{{ equation step }}}}

## Code

No code on this page.

## Interactive Demo

No demo on this page.
"""

SOURCES = """- id: chain-source
  title: A Source
  authors: [A. Author]
  year: 2020
"""

LINK = """links:
  - to: concept:chain/{target}
    type: prerequisite
    reason: It comes first.
"""


def slug(index: int) -> str:
    return f"c-{index:05d}"


def write_page(root: Path, index: int, *, needs: int | None = None, extra: str = "") -> Path:
    links = LINK.format(target=slug(needs)) if needs is not None else ""
    text = PAGE.format(index=index, before=max(index - 1, 0), links=links, extra=extra)
    path = root / "chain" / f"{slug(index)}.md"
    path.write_text(text)
    return path


def chain(root: Path, length: int) -> Path:
    """A content tree of ``length`` pages; page i has page i+1 as its prerequisite.

    Checking from the first page in key order walks the whole chain: a check that recursed
    would need a frame per page.
    """
    (root / "chain").mkdir(parents=True)
    (root / "contexts.yaml").write_text("chain: A Chain\n")
    (root / "sources.yaml").write_text(SOURCES)
    for index in range(length):
        write_page(root, index, needs=index + 1 if index + 1 < length else None)
    return root


def run_ingest(engine: Engine, root: Path) -> None:
    with unit_of_work(engine) as session:
        ingest(session, root)


@contextmanager
def writes_recorded(engine: Engine) -> Iterator[list[str]]:
    """Every INSERT, UPDATE or DELETE the engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def concept_rows(engine: Engine) -> dict[str, tuple[int | None, str]]:
    with unit_of_work(engine, write=False) as session:
        rows = session.exec(select(Concept.key, Concept.id, Concept.title))
        return {key: (row_id, title) for key, row_id, title in rows}


def revision(engine: Engine) -> int:
    with unit_of_work(engine, write=False) as session:
        return current_revision(session)


@contextmanager
def recursion_headroom(frames: int) -> Iterator[None]:
    """Allow only ``frames`` more Python frames than the caller already uses."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back  # type: ignore[assignment]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def chain_manifests(length: int, *, closing: bool) -> list[FileManifest]:
    manifests = []
    for index in range(length):
        key = f"concept:chain/{slug(index)}"
        target = (index + 1) % length
        links = [{"to": f"concept:chain/{slug(target)}", "type": "prerequisite", "line": 6}]
        manifest = {
            "key": key,
            "defines": {key: 2},
            "duplicates": [],
            "aliases": [],
            "links": links if target or closing else [],
            "sources": [],
            "exposed_by": [],
        }
        manifests.append(FileManifest(f"content/chain/{slug(index)}.md", manifest))
    return manifests


@pytest.mark.parametrize("closing", [False, True])
def test_a_ten_thousand_deep_chain_is_checked_without_recursion(
    tmp_path: Path, closing: bool
) -> None:
    root = chain(tmp_path / "content", 1)
    tree = read_tree(root, Problems())
    problems = Problems()
    with recursion_headroom(60):
        validate_tree(tree, chain_manifests(10_000, closing=closing), {}, problems)
    messages = [str(problem) for problem in problems.items]
    if not closing:
        assert messages == []
    else:  # one cycle through all 10,000 pages, reported once, at the edge closing it
        assert len(messages) == 1
        assert messages[0].startswith("content/chain/c-09999.md:6: prerequisite cycle: ")
        assert messages[0].count(" -> ") == 10_000


def test_a_chain_deeper_than_the_stack_allows_ingests(engine: Engine, tmp_path: Path) -> None:
    root = chain(tmp_path / "content", 300)
    with recursion_headroom(150):  # far fewer frames than the chain is deep
        run_ingest(engine, root)
    with unit_of_work(engine, write=False) as session:
        links = session.exec(select(ConceptLink.from_key, ConceptLink.to_key)).all()
    assert len(links) == 299
    assert ("concept:chain/c-00000", "concept:chain/c-00001") in links


def test_a_prerequisite_cycle_is_refused_at_the_closing_line(
    engine: Engine, tmp_path: Path
) -> None:
    root = chain(tmp_path / "content", 3)
    write_page(root, 2, needs=0)  # 0 needs 1 needs 2 needs 0
    with pytest.raises(ContentError) as caught:
        run_ingest(engine, root)
    details = [str(d).replace(str(root), "content") for d in caught.value.details]
    assert details == [
        "content/chain/c-00002.md:6: prerequisite cycle: concept:chain/c-00000 -> "
        "concept:chain/c-00001 -> concept:chain/c-00002 -> concept:chain/c-00000"
    ]
    assert concept_rows(engine) == {}  # nothing was written


def test_a_cycle_made_by_one_changed_file_is_found_against_the_stored_graph(
    engine: Engine, tmp_path: Path
) -> None:
    root = chain(tmp_path / "content", 50)
    run_ingest(engine, root)
    before, rev = concept_rows(engine), revision(engine)
    write_page(root, 49, needs=0)  # only this file changes; the rest of the cycle is stored
    with pytest.raises(ContentError) as caught:
        run_ingest(engine, root)
    (detail,) = [str(d).replace(str(root), "content") for d in caught.value.details]
    assert detail.startswith(
        "content/chain/c-00049.md:6: prerequisite cycle: concept:chain/c-00000"
    )
    assert detail.count(" -> ") == 50
    assert concept_rows(engine) == before  # rolled back: the old page stays
    assert revision(engine) == rev


def test_an_unchanged_reingest_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    root = chain(tmp_path / "content", 20)
    run_ingest(engine, root)
    before, rev = concept_rows(engine), revision(engine)
    with writes_recorded(engine) as statements:
        run_ingest(engine, root)
    assert statements == []
    assert revision(engine) == rev
    assert concept_rows(engine) == before


def test_a_one_file_change_rewrites_exactly_that_concept(engine: Engine, tmp_path: Path) -> None:
    root = chain(tmp_path / "content", 20)
    run_ingest(engine, root)
    before, rev = concept_rows(engine), revision(engine)
    write_page(root, 7, needs=8, extra=" and was edited")
    with writes_recorded(engine) as statements:
        run_ingest(engine, root)
    after = concept_rows(engine)
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {"concept:chain/c-00007"}
    assert after.keys() == before.keys()
    assert revision(engine) == rev + 1
    with unit_of_work(engine, write=False) as session:
        claim = session.exec(select(Claim).where(Claim.concept_key == "concept:chain/c-00007"))
        assert claim.one().text == "Page 7 holds and was edited."
        registry = session.exec(select(ObjectKey.status).where(ObjectKey.kind == "concept"))
        assert set(registry) == {"active"}
    # bulk writes: a handful of statements, not one per row of the store
    assert 0 < len(statements) < 40


def test_deleting_a_file_removes_its_rows(engine: Engine, tmp_path: Path) -> None:
    root = chain(tmp_path / "content", 5)
    run_ingest(engine, root)
    rev = revision(engine)
    (root / "chain" / f"{slug(0)}.md").unlink()  # the start of the chain: nothing needs it
    run_ingest(engine, root)
    gone = "concept:chain/c-00000"
    assert gone not in concept_rows(engine)
    assert len(concept_rows(engine)) == 4
    with unit_of_work(engine, write=False) as session:
        assert session.exec(select(Equation).where(Equation.concept_key == gone)).all() == []
        assert session.exec(select(Claim).where(Claim.concept_key == gone)).all() == []
        assert session.exec(select(ConceptLink).where(ConceptLink.from_key == gone)).all() == []
        assert session.get(IngestedFile, "chain/c-00000.md") is None
        row = session.get(ObjectKey, gone)
        assert row is not None
        assert (row.status, row.reason) == ("tombstone", "removed from content")
        assert session.get(ObjectKey, "concept:chain/c-00001").status == "active"  # type: ignore[union-attr]
    assert revision(engine) == rev + 1


def test_removing_a_page_others_need_is_refused(engine: Engine, tmp_path: Path) -> None:
    root = chain(tmp_path / "content", 5)
    run_ingest(engine, root)
    (root / "chain" / f"{slug(2)}.md").unlink()
    with pytest.raises(ContentError) as caught:
        run_ingest(engine, root)
    details = [str(d).replace(str(root), "content") for d in caught.value.details]
    assert details == [
        "content/chain/c-00001.md:6: prerequisite link to unknown concept 'concept:chain/c-00002'"
    ]
    assert "concept:chain/c-00002" in concept_rows(engine)
