"""``readingroom notes export | import | orphans``: round trips lose nothing, conflicts are kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from server.cli import main
from server.db import unit_of_work
from server.ingest.service import ingest
from server.models import Note
from tests.conftest import NEW_CLAIM, OLD_CLAIM, remove_claim, rename_claim
from tests.notes.conftest import ALPHA, EQUATION

TRICKY = (
    "Line one\r\nLine two with <!-- readingroom:end 0123 --> and\n"
    "<!-- readingroom:note {\"key\": \"concept:x/y\"} -->\n## Not a heading of the export\n"
    "Unicode: ∫ p(x) dx = 1 — ünïcödé\n\n  trailing spaces  \n"
)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def seed(engine: Engine, content: Path) -> None:
    with unit_of_work(engine) as session:
        ingest(session, content)
        session.add(Note(learner="local", object_key=ALPHA, text=TRICKY, next_action="Do it.",
                         checklist={"Source ids": True, "A demo state": False}, version=3,
                         created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                         updated_at=datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)))  # fmt: skip
        session.add(Note(learner="local", object_key=EQUATION, text="", next_action="",
                         checklist={}, version=1))  # fmt: skip
        session.add(Note(learner="bob", object_key=ALPHA, text="bob's own"))


def snapshot(engine: Engine, learner: str = "local") -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as session:
        rows = session.exec(
            select(Note).where(col(Note.learner) == learner).order_by(col(Note.object_key))
        ).all()
        return [
            {"key": n.object_key, "text": n.text, "next_action": n.next_action,
             "checklist": n.checklist, "version": n.version, "created_at": n.created_at,
             "updated_at": n.updated_at}
            for n in rows
        ]


def wipe(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        session.execute(delete(Note))


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_export_wipe_import_gives_the_same_notes(
    engine: Engine, database_url: str, content_copy: Path, tmp_path: Path, fmt: str
) -> None:
    seed(engine, content_copy)
    before = snapshot(engine)
    assert len(before) == 2
    target = tmp_path / f"notes.{fmt}"
    exported = run("notes", "export", "--format", fmt, "-o", str(target),
                   "--database", database_url)  # fmt: skip
    assert exported.exit_code == 0, exported.stderr
    assert "2 note(s) of local written to" in exported.stderr
    if fmt == "md":
        text = target.read_text(encoding="utf-8")
        assert text.startswith("# Notes of local\n") and f"\n## {ALPHA}\n" in text
        assert "- [x] Source ids\n- [ ] A demo state\n" in text and "Next action: Do it." in text
    wipe(engine)
    assert snapshot(engine) == []
    imported = run("notes", "import", str(target), "--database", database_url)
    assert imported.exit_code == 0, imported.stderr
    assert imported.stdout.splitlines()[-1] == (
        "2 note(s): 2 created, 0 updated, 0 unchanged, 0 conflict for local"
    )
    assert snapshot(engine) == before
    again = run("notes", "import", str(target), "--database", database_url)
    assert again.exit_code == 0 and "2 unchanged" in again.stdout
    assert snapshot(engine) == before


def test_export_to_stdout_and_for_another_learner(
    engine: Engine, database_url: str, content_copy: Path
) -> None:
    seed(engine, content_copy)
    out = run("notes", "export", "--learner", "bob", "--database", database_url)
    assert out.exit_code == 0
    body = json.loads(out.stdout)
    assert body["learner"] == "bob" and [n["text"] for n in body["notes"]] == ["bob's own"]
    assert body["format"] == "readingroom-notes" and body["format_version"] == 1


def test_import_for_a_named_learner(
    engine: Engine, database_url: str, content_copy: Path, tmp_path: Path
) -> None:
    seed(engine, content_copy)
    target = tmp_path / "notes.json"
    run("notes", "export", "-o", str(target), "--database", database_url)
    result = run("notes", "import", str(target), "--learner", "carol", "--database", database_url)
    assert result.exit_code == 0, result.stderr
    assert [n["text"] for n in snapshot(engine, "carol")] == [n["text"] for n in snapshot(engine)]


def test_import_never_overwrites_a_newer_note(
    engine: Engine, database_url: str, content_copy: Path, tmp_path: Path
) -> None:
    seed(engine, content_copy)
    target = tmp_path / "notes.json"
    run("notes", "export", "-o", str(target), "--database", database_url)
    with unit_of_work(engine) as session:  # the store moves on after the export
        note = session.exec(select(Note).where(col(Note.object_key) == ALPHA,
                                               col(Note.learner) == "local")).one()  # fmt: skip
        note.text, note.version = "newer in the store", 4
        note.updated_at = datetime(2026, 3, 1, tzinfo=UTC)
        session.add(note)
    body = json.loads(target.read_text())
    body["notes"][1]["text"], body["notes"][1]["version"] = "newer in the file", 2
    body["notes"][1]["updated_at"] = "2099-06-01T00:00:00Z"
    target.write_text(json.dumps(body))
    result = run("notes", "import", str(target), "--database", database_url)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(f"conflict   {ALPHA}: the store has version 4")
    assert f"updated    {EQUATION}: version 2" in result.stdout
    conflicts = tmp_path / "notes.json.conflicts.json"
    assert f"error: 1 conflict(s): the store kept its notes; the file's side of each is in " \
           f"{conflicts}" in result.stderr  # fmt: skip
    kept = {n["key"]: n for n in snapshot(engine)}
    assert kept[ALPHA]["text"] == "newer in the store" and kept[ALPHA]["version"] == 4
    assert kept[EQUATION]["text"] == "newer in the file" and kept[EQUATION]["version"] == 2
    side = json.loads(conflicts.read_text())
    assert [(n["key"], n["text"], n["version"]) for n in side["notes"]] == [(ALPHA, TRICKY, 3)]
    # the conflicts file is itself an export: once the store's note is gone it imports back
    wipe(engine)
    assert run("notes", "import", str(conflicts), "--database", database_url).exit_code == 0
    assert [n["text"] for n in snapshot(engine)] == [TRICKY]


def test_a_broken_file_imports_nothing_and_names_every_problem(
    engine: Engine, database_url: str, content_copy: Path, tmp_path: Path
) -> None:
    seed(engine, content_copy)
    wipe(engine)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "format": "readingroom-notes", "format_version": 1, "learner": "local",
        "exported_at": "2026-01-01T00:00:00Z",
        "notes": [
            {"key": ALPHA, "text": "ok", "next_action": "", "checklist": {}, "version": 1,
             "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"},
            {"key": "not a key", "text": "x" * 20_001, "next_action": "", "checklist": {},
             "version": 0, "created_at": "2026-01-01T00:00:00", "updated_at": "yesterday"},
        ],
    }))  # fmt: skip
    result = run("notes", "import", str(bad), "--database", database_url)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: the notes file does not validate"
    for field in ("key", "text", "version", "created_at", "updated_at"):
        assert any(line.startswith(f"notes.1.{field}:") for line in lines), (field, lines)
    assert snapshot(engine) == []
    (tmp_path / "junk.md").write_text("# just some Markdown\n")
    junk = run("notes", "import", str(tmp_path / "junk.md"), "--database", database_url)
    assert junk.exit_code == 1 and junk.stderr.startswith("error: not a notes export")


def test_orphans_are_reported_never_dropped_and_reingest_changes_no_note(
    engine: Engine, database_url: str, content_copy: Path
) -> None:
    seed(engine, content_copy)
    with unit_of_work(engine) as session:
        session.add(Note(learner="local", object_key=OLD_CLAIM, text="on the claim", version=2))
    before = snapshot(engine)
    assert run("notes", "orphans", "--database", database_url).stdout == ""
    for _ in range(2):
        reingest = run("ingest", str(content_copy), "--force", "--database", database_url)
        assert reingest.exit_code == 0
    rename_claim(engine, content_copy)
    assert snapshot(engine) == before
    renamed = run("notes", "orphans", "--database", database_url)
    assert renamed.exit_code == 0
    assert renamed.stdout == f"renamed  {OLD_CLAIM} (version 2): now {NEW_CLAIM}\n"
    remove_claim(engine, content_copy, "folded into the page text")
    assert snapshot(engine) == before
    removed = run("notes", "orphans", "--database", database_url)
    reason = "folded into the page text"
    assert removed.stdout == f"removed  {OLD_CLAIM} (version 2): removed: {reason}\n"
    assert "1 orphaned note(s) of local" in removed.stderr
    with unit_of_work(engine) as session:  # a note on a key the store never knew (an import)
        session.add(Note(learner="local", object_key="concept:elsewhere/page", text="x"))
    assert "unknown  concept:elsewhere/page (version 1): not in the store\n" in run(
        "notes", "orphans", "--database", database_url
    ).stdout
