"""``readingroom plan`` and learned marks travelling with ``readingroom notes export|import``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine
from sqlmodel import col, delete, select

from server.cli import main
from server.db import unit_of_work
from server.ingest.service import ingest
from server.models import LearnerProgress
from tests.learning.conftest import key, make_tree


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def seeded(engine: Engine, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "content")
    with unit_of_work(engine) as session:
        ingest(session, root)
        session.add(LearnerProgress(learner="local", concept_key=key("top"), learned=True,
                                    updated_at=datetime(2026, 3, 1, tzinfo=UTC)))  # fmt: skip
        session.add(LearnerProgress(learner="local", concept_key=key("lone"), starred=True,
                                    updated_at=datetime(2026, 3, 1, tzinfo=UTC)))  # fmt: skip


def test_plan_prints_the_steps_with_reasons(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    seeded(engine, tmp_path)
    result = run("plan", key("peak"), "--database", database_url)
    assert result.exit_code == 0, result.output
    assert "1. concept:demo-context/peak" in result.output
    assert "1 step(s), about 30 min; 1 prerequisite(s) already learned" in result.output
    other = run("plan", key("peak"), "--learner", "bob", "--database", database_url, "--json")
    steps = [s["key"] for s in json.loads(other.output)["steps"]]
    assert steps[0] == key("base") and len(steps) == 5
    missing = run("plan", key("nowhere"), "--database", database_url)
    assert missing.exit_code == 1 and "no concept has the key" in missing.output


def test_marks_round_trip_through_the_notes_export(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    seeded(engine, tmp_path)
    for fmt in ("json", "md"):
        exported = tmp_path / f"notes.{fmt}"
        result = run("notes", "export", "--format", fmt, "-o", str(exported), "--database",
                     database_url)  # fmt: skip
        assert result.exit_code == 0, result.output
        with unit_of_work(engine) as session:
            session.execute(delete(LearnerProgress))
        result = run("notes", "import", str(exported), "--database", database_url)
        assert result.exit_code == 0, result.output
        assert f"created    marks on {key('top')}" in result.output
        with unit_of_work(engine, write=False) as session:
            rows = session.exec(select(LearnerProgress).order_by(col(LearnerProgress.concept_key)))
            marks = [(r.concept_key, r.learned, r.starred, r.updated_at) for r in rows]
        moment = datetime(2026, 3, 1, tzinfo=UTC)
        assert marks == [(key("lone"), False, True, moment), (key("top"), True, False, moment)]


def test_an_import_keeps_marks_the_store_changed_later(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    seeded(engine, tmp_path)
    exported = tmp_path / "notes.json"
    run("notes", "export", "-o", str(exported), "--database", database_url)
    with unit_of_work(engine) as session:
        row = session.exec(
            select(LearnerProgress).where(col(LearnerProgress.concept_key) == key("top"))
        ).one()
        row.learned, row.updated_at = False, datetime(2026, 4, 1, tzinfo=UTC)
        session.add(row)
    result = run("notes", "import", str(exported), "--database", database_url)
    assert f"kept       marks on {key('top')}" in result.output
    with unit_of_work(engine, write=False) as session:
        row = session.exec(
            select(LearnerProgress).where(col(LearnerProgress.concept_key) == key("top"))
        ).one()
        assert row.learned is False


def test_a_mark_on_something_not_a_concept_is_refused(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "format": "readingroom-notes", "format_version": 1, "learner": "local",
        "exported_at": "2026-01-01T00:00:00Z", "notes": [],
        "progress": [{"key": "claim:a/b/c", "learned": True, "starred": False,
                      "updated_at": "2026-01-01T00:00:00Z"}],
    }))  # fmt: skip
    result = run("notes", "import", str(bad), "--database", database_url)
    assert result.exit_code == 1 and "marks are kept on concepts" in result.output
