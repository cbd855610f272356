"""``readingroom notes export | import | orphans``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click
from sqlalchemy.engine import Engine

from server.cli import database_option, fail, settings_for
from server.db import make_engine, unit_of_work
from server.learning.transfer import import_progress
from server.models import utcnow
from server.notes import service
from server.notes.transfer import (
    NotesFile,
    import_notes,
    notes_of,
    parse_notes,
    to_json,
    to_markdown,
)
from server.people.identity import LOCAL_NAME

LEARNER_HELP = "Whose notes (default: the local learner"


@click.group("notes")
def notes_group() -> None:
    """Learner notes: export, import, and those whose object was renamed or removed."""


@notes_group.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "json"]), default="json", show_default=True,
    help="json: for import and tools; md: Markdown to read (it imports back as well).",
)  # fmt: skip
@click.option("--learner", default=LOCAL_NAME, help=f"{LEARNER_HELP}).")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Write to this file (default: standard output).",
)  # fmt: skip
@database_option
def export_command(
    fmt: Literal["md", "json"], learner: str, output: Path | None, database: str | None
) -> None:
    """Print (or write) every note of a learner, orphans included, in key order."""
    engine = _engine(database)
    try:
        with unit_of_work(engine, write=False) as session:
            notes = notes_of(session, learner)
    finally:
        engine.dispose()
    text = to_markdown(notes) if fmt == "md" else to_json(notes)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"{len(notes.notes)} note(s) of {learner} written to {output}", err=True)


@notes_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--learner", default=None, help=f"{LEARNER_HELP} named in the file).")
@click.option(
    "--conflicts", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Where the file's side of each conflict is kept (default: FILE.conflicts.json).",
)  # fmt: skip
@database_option
def import_command(
    file: Path, learner: str | None, conflicts: Path | None, database: str | None
) -> None:
    """Import a notes export (JSON or Markdown) in one transaction.

    A newer note in the store is never overwritten: each conflict is reported, the store's
    note stays, and the file's side is written to the conflicts file; exits 1 if any.
    """
    with file.open(encoding="utf-8", newline="") as handle:
        notes = parse_notes(handle.read())
    who = learner or notes.learner
    engine = _engine(database)
    try:
        with unit_of_work(engine) as session:
            report = import_notes(session, who, notes.notes)
            marks = import_progress(session, who, notes.progress)
    finally:
        engine.dispose()
    for key, mark in marks:
        if mark != "unchanged":
            click.echo(f"{mark:<10} marks on {key}")
    for key, outcome, detail in report.outcomes:
        if outcome != "unchanged":
            click.echo(f"{outcome:<10} {key}" + (f": {detail}" if detail else ""))
    click.echo(f"{report.summary()} for {who}")
    if report.conflicts:
        target = conflicts or file.with_name(file.name + ".conflicts.json")
        kept = NotesFile(
            format=notes.format, format_version=notes.format_version, learner=who,
            exported_at=utcnow(), notes=report.conflicts, progress=[],
        )  # fmt: skip
        target.write_text(to_json(kept), encoding="utf-8", newline="")
        fail(
            f"{len(report.conflicts)} conflict(s): the store kept its notes; the file's side "
            f"of each is in {target}"
        )


@notes_group.command("orphans")
@click.option("--learner", default=LOCAL_NAME, help=f"{LEARNER_HELP}).")
@database_option
def orphans_command(learner: str, database: str | None) -> None:
    """Notes whose object was renamed (with the new key) or removed (with the reason)."""
    engine = _engine(database)
    found = 0
    try:
        with unit_of_work(engine, write=False) as session:
            cursor: str | None = None
            while True:
                page = service.list_notes(
                    session, learner, orphaned=True, limit=200, cursor=cursor
                )
                for note in page["data"]:
                    found += 1
                    state = note.object
                    if state.status == "renamed":
                        where = f"now {state.current_key}"
                    elif state.status == "removed":
                        where = f"removed: {state.reason}"
                    else:
                        where = "not in the store"
                    click.echo(f"{state.status:<8} {note.key} (version {note.version}): {where}")
                cursor = page["next"]
                if cursor is None:
                    break
    finally:
        engine.dispose()
    click.echo(f"{found} orphaned note(s) of {learner}", err=True)


def _engine(database: str | None) -> Engine:
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    migrations.ensure_current(engine)
    return engine
