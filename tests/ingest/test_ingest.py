"""Ingest: every problem reported as file:line, nothing written on error, idempotent."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from server.db import unit_of_work
from server.errors import ContentError
from server.ingest.service import ingest
from server.models import Claim, ClaimReview, Concept, Note, ObjectKey, StoreRevision
from tests.conftest import FIXTURES

CASES = FIXTURES / "content" / "cases"
ALPHA = "content/demo-context/alpha.md"
BETA = "content/demo-context/beta.md"


def run_ingest(engine: Engine, root: Path) -> None:
    with unit_of_work(engine) as session:
        ingest(session, root)


def use_case(content: Path, case: str) -> None:
    shutil.copyfile(CASES / f"{case}.md", content / "demo-context" / "alpha.md")


def problems_of(engine: Engine, root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        run_ingest(engine, root)
    return [str(d).replace(str(root), "content") for d in caught.value.details]


def count(engine: Engine, table: type) -> int:
    with unit_of_work(engine, write=False) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "malformed-yaml",
            [f"{ALPHA}:4: malformed YAML: mapping values are not allowed in this context"],
        ),
        ("missing-field", [f"{ALPHA}:2: missing required field 'summary'"]),
        (
            "unknown-source",
            [f"{ALPHA}:33: claim 'scaling-claim' cites unknown source 'smith-2020-exampel'"],
        ),
        (
            "duplicate-key",
            [
                f"{ALPHA}:42: duplicate key 'claim:demo-context/alpha/scaling-claim' "
                "(first defined at line 30)"
            ],
        ),
        (
            "dangling-link",
            [f"{ALPHA}:6: next link to unknown concept 'concept:demo-context/gamma'"],
        ),
        (
            "prerequisite-cycle",
            [
                f"{BETA}:6: prerequisite cycle: concept:demo-context/alpha -> "
                "concept:demo-context/beta -> concept:demo-context/alpha"
            ],
        ),
        (
            "bad-latex",
            [
                f"{ALPHA}:13: equation 'scale': LaTeX does not parse: "
                "unbalanced braces: 1 '{' not closed"
            ],
        ),
        (
            "witness-without-id",
            [
                f"{ALPHA}:19: witness 'double' has no code block: add ```python witness=double",
                f"{ALPHA}:84: witness block has no id: write ```python witness=<id>",
            ],
        ),
    ],
)
def test_each_problem_is_reported_with_its_line_and_nothing_is_written(
    engine: Engine, content_copy: Path, case: str, expected: list[str]
) -> None:
    use_case(content_copy, case)
    assert problems_of(engine, content_copy) == expected
    assert count(engine, Concept) == 0
    assert count(engine, ObjectKey) == 0


def test_every_problem_in_the_tree_is_listed_not_just_the_first(
    engine: Engine, content_copy: Path
) -> None:
    use_case(content_copy, "unknown-source")
    shutil.copyfile(CASES / "bad-latex.md", content_copy / "demo-context" / "beta.md")
    (content_copy / "demo-context" / "beta.md").write_text(
        (CASES / "bad-latex.md")
        .read_text()
        .replace("title: Alpha", "title: Beta")
        .replace("concept:demo-context/beta", "concept:demo-context/alpha")
        .replace("demo:demo-context/alpha/stretch", "demo:demo-context/beta/stretch")
    )
    problems = problems_of(engine, content_copy)
    assert problems == [
        f"{ALPHA}:33: claim 'scaling-claim' cites unknown source 'smith-2020-exampel'",
        f"{BETA}:13: equation 'scale': LaTeX does not parse: unbalanced braces: 1 '{{' not closed",
    ]


def test_an_error_after_a_good_ingest_leaves_the_store_as_it_was(
    engine: Engine, content_copy: Path
) -> None:
    run_ingest(engine, content_copy)
    before = count(engine, Claim)
    use_case(content_copy, "without-claim")  # a valid change ...
    (content_copy / "sources.yaml").write_text("- id: broken\n")  # ... with an error elsewhere
    with pytest.raises(ContentError):
        run_ingest(engine, content_copy)
    with unit_of_work(engine, write=False) as session:
        keys = set(session.exec(select(Claim.key)))
    assert count(engine, Claim) == before
    assert "claim:demo-context/alpha/scaling-claim" in keys


def test_ingest_is_idempotent_and_skips_unchanged_files(engine: Engine, content_copy: Path) -> None:
    with unit_of_work(engine) as session:
        first = ingest(session, content_copy)
    with unit_of_work(engine) as session:
        second = ingest(session, content_copy)
    assert (first.parsed, first.changed) == (2, True)
    assert (second.parsed, second.unchanged, second.changed) == (0, 2, False)
    with unit_of_work(engine, write=False) as session:
        revision = session.get(StoreRevision, 1)
        assert revision is not None and revision.revision == 1
    assert count(engine, ClaimReview) == 2

    use_case(content_copy, "without-claim")
    with unit_of_work(engine) as session:
        third = ingest(session, content_copy)
    assert (third.parsed, third.unchanged) == (1, 1)
    assert third.tombstoned == ["claim:demo-context/alpha/scaling-claim"]


def test_ingest_never_touches_notes_or_api_reviews(engine: Engine, content_copy: Path) -> None:
    run_ingest(engine, content_copy)
    claim = "claim:demo-context/alpha/scaling-claim"
    with unit_of_work(engine) as session:
        session.add(Note(learner="local", object_key=claim, text="mine", next_action="read §2"))
        session.add(
            ClaimReview(
                claim_key=claim,
                verdict="supported",
                reviewer="ada",
                reviewed_on=date(2026, 3, 1),
                summary="checked p.3",
                origin="api",
            )
        )
    (content_copy / "demo-context" / "alpha.md").write_text(
        (content_copy / "demo-context" / "alpha.md").read_text().replace("Alpha", "Alpha prime")
    )
    with unit_of_work(engine) as session:
        ingest(session, content_copy, force=True)
        note = session.exec(select(Note)).one()
        reviews = session.exec(select(ClaimReview).where(ClaimReview.claim_key == claim)).all()
        title = session.exec(select(Concept.title).where(Concept.slug == "alpha")).one()
    assert (note.text, note.next_action, note.version) == ("mine", "read §2", 1)
    assert sorted(r.origin for r in reviews) == ["api", "content"]
    assert title == "Alpha prime"


def test_a_removed_key_cannot_be_reused(engine: Engine, content_copy: Path) -> None:
    run_ingest(engine, content_copy)
    use_case(content_copy, "without-claim")
    run_ingest(engine, content_copy)
    shutil.copytree(FIXTURES / "content" / "valid", content_copy, dirs_exist_ok=True)
    assert problems_of(engine, content_copy) == [
        f"{ALPHA}:30: key 'claim:demo-context/alpha/scaling-claim' was removed "
        "(removed from content) and cannot be reused for a new object"
    ]


def test_an_old_name_cannot_be_reused_for_a_different_object(
    engine: Engine, content_copy: Path
) -> None:
    run_ingest(engine, content_copy)
    use_case(content_copy, "renamed-claim")
    run_ingest(engine, content_copy)
    with unit_of_work(engine, write=False) as session:
        alias = session.get(ObjectKey, "claim:demo-context/alpha/scaling-claim")
        assert alias is not None
        assert (alias.status, alias.target) == (
            "alias",
            "claim:demo-context/alpha/scaling-claim-v2",
        )
    shutil.copytree(FIXTURES / "content" / "valid", content_copy, dirs_exist_ok=True)
    assert problems_of(engine, content_copy) == [
        f"{ALPHA}:30: key 'claim:demo-context/alpha/scaling-claim' is an old name of "
        "'claim:demo-context/alpha/scaling-claim-v2' and cannot be reused for a different object"
    ]


def test_tombstones_file_gives_the_reason(engine: Engine, content_copy: Path) -> None:
    run_ingest(engine, content_copy)
    use_case(content_copy, "without-claim")
    (content_copy / "tombstones.yaml").write_text(
        "- key: claim:demo-context/alpha/scaling-claim\n  reason: merged into the v2 claim\n"
    )
    run_ingest(engine, content_copy)
    with unit_of_work(engine, write=False) as session:
        row = session.get(ObjectKey, "claim:demo-context/alpha/scaling-claim")
        assert row is not None
        assert (row.status, row.reason) == ("tombstone", "merged into the v2 claim")


def test_a_deleted_file_tombstones_its_keys(engine: Engine, content_copy: Path) -> None:
    run_ingest(engine, content_copy)
    (content_copy / "demo-context" / "beta.md").unlink()
    (content_copy / "demo-context" / "alpha.md").write_text(
        (content_copy / "demo-context" / "alpha.md")
        .read_text()
        .replace(
            "links:\n  - to: concept:demo-context/beta\n    type: next\n"
            "    reason: Beta builds on alpha.\n    gate: Predict first.\n",
            "links: []\n",
        )
    )
    with unit_of_work(engine) as session:
        report = ingest(session, content_copy)
    assert report.removed == ["demo-context/beta.md"]
    assert "concept:demo-context/beta" in report.tombstoned
    assert count(engine, Concept) == 1


def test_concurrent_ingests_queue_and_agree(engine: Engine, content_copy: Path) -> None:
    """Two writers at once: one waits for the other; the store ends whole, written once."""
    from concurrent.futures import ThreadPoolExecutor

    def one() -> bool:
        with unit_of_work(engine) as session:
            return ingest(session, content_copy).changed

    with ThreadPoolExecutor(max_workers=2) as pool:
        changed = sorted(pool.map(lambda _: one(), range(2)))
    assert changed == [False, True]
    assert count(engine, Concept) == 2
    with unit_of_work(engine, write=False) as session:
        revision = session.get(StoreRevision, 1)
        assert revision is not None and revision.revision == 1


def test_a_source_url_must_be_a_web_address(engine: Engine, content_copy: Path) -> None:
    shutil.copyfile(CASES / "sources-javascript-url.yaml", content_copy / "sources.yaml")
    assert problems_of(engine, content_copy) == [
        "content/sources.yaml:6: url: String should match pattern '^https?://\\S+$'"
    ]
