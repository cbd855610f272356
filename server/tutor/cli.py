"""``readingroom prompt KEY``: print the tutor-handoff prompt for one object."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn, get_args

import click
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlmodel import Session

from server.config import Settings
from server.db import is_sqlite, make_engine, normalise_url, unit_of_work
from server.errors import Moved, ReadingRoomError
from server.tutor.prompt import Format, Mode
from server.tutor.service import learner_for, prompt_for_key


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.command("prompt")
@click.argument("key")
@click.option(
    "--mode",
    type=click.Choice(get_args(Mode)),
    default="grounded",
    show_default=True,
    help="compact: the seed's format; grounded: with the store's evidence under each line.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(get_args(Format)),
    default="text",
    show_default=True,
    help="Plain text, Markdown, or JSON with a chat-ready messages array.",
)
@click.option("--question", default=None, help="Ask this instead of the default open question.")
@click.option(
    "--learner",
    default=None,
    help="Whose note to show (default: the local learner in local mode, nobody in team mode).",
)
@click.option(
    "--database",
    "database",
    envvar="READINGROOM_DATABASE_URL",
    default=None,
    help="Database URL (default: READINGROOM_DATABASE_URL, then sqlite:///readingroom.db).",
)
def prompt_command(
    key: str,
    mode: Mode,
    fmt: Format,
    question: str | None,
    learner: str | None,
    database: str | None,
) -> None:
    """Print the grounded tutor-handoff prompt for the object KEY (kind:path).

    A renamed object's old key is followed to its new key, with a note on stderr.
    """
    settings = Settings(database_url=database) if database else Settings()
    _require_database_file(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        if not inspect(engine).has_table("object_key"):
            _fail(
                f"the database {engine.url.render_as_string()} has no reading-room store yet: "
                "run `readingroom ingest` (or `readingroom serve`) first"
            )
        with unit_of_work(engine, write=False) as session:
            try:
                body = _build(session, settings, key, mode, fmt, question, learner)
            except Moved as moved:
                click.echo(f"note: '{moved.old_key}' is now '{moved.new_key}'", err=True)
                body = _build(session, settings, moved.new_key, mode, fmt, question, learner)
    except ReadingRoomError as error:
        _fail(error.message)
    finally:
        engine.dispose()
    click.echo(body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False))


def _require_database_file(url: str) -> None:
    """Refuse a missing SQLite file instead of creating an empty one."""
    if not is_sqlite(url):
        return
    name = make_url(normalise_url(url)).database
    if name and name != ":memory:" and not Path(name).exists():
        _fail(f"no database at {name}: run `readingroom ingest` (or `readingroom serve`) first")


def _build(
    session: Session,
    settings: Settings,
    key: str,
    mode: Mode,
    fmt: Format,
    question: str | None,
    learner: str | None,
) -> str | dict[str, Any]:
    return prompt_for_key(
        session, settings, key, mode=mode, fmt=fmt, question=question,
        learner=learner or learner_for(settings),
    )  # fmt: skip
