"""The ``readingroom`` command.

Every subcommand takes ``--database URL`` (falling back to ``READINGROOM_DATABASE_URL``, then
to ``readingroom.db`` in the working directory). Errors print ``error: ...`` to stderr and
exit non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from server.config import Settings
from server.db import make_engine, unit_of_work
from server.errors import ContentError, ReadingRoomError

F = TypeVar("F", bound=Callable[..., Any])


def database_option(function: F) -> F:
    return click.option(
        "--database",
        "database",
        envvar="READINGROOM_DATABASE_URL",
        default=None,
        help="Database URL (default: READINGROOM_DATABASE_URL, then sqlite:///readingroom.db).",
    )(function)


def settings_for(database: str | None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database:
        values["database_url"] = database
    return Settings(**values)


def fail(message: str, details: list[str] | None = None) -> None:
    click.echo(f"error: {message}", err=True)
    for line in details or []:
        click.echo(line, err=True)
    sys.exit(1)


class ReadingRoomGroup(click.Group):
    """Turns the service's own errors into ``error: ...`` and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ContentError as error:
            fail(error.message, [str(d) for d in error.details])
        except ReadingRoomError as error:
            fail(error.message, [str(d) for d in error.details])
        return None


@click.group(cls=ReadingRoomGroup)
@click.version_option(package_name="readingroom")
def main() -> None:
    """The reading room: concepts, equations, code witnesses, sources and claims."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8000).")
@click.option(
    "--content",
    "content",
    default=None,
    type=click.Path(path_type=Path),
    help="Content tree to ingest on start (default: the bundled content/).",
)
@database_option
def serve(host: str | None, port: int | None, content: Path | None, database: str | None) -> None:
    """Migrate the database, ingest the content and serve the API and pages."""
    import uvicorn

    from server.app import create_app

    settings = settings_for(database, host=host, port=port, content_dir=content)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Parse and rewrite every file, changed or not.")
@database_option
def ingest(path: Path | None, force: bool, database: str | None) -> None:
    """Validate a content tree and write it in one transaction (nothing on any error)."""
    from server import migrations
    from server.ingest.service import ingest as run_ingest

    settings = settings_for(database)
    engine = make_engine(settings.database_url)
    try:
        migrations.upgrade(engine)
        with unit_of_work(engine) as session:
            report = run_ingest(session, path or settings.content_dir, force=force)
        click.echo(report.summary())
    finally:
        engine.dispose()


@main.group()
def db() -> None:
    """Schema migrations (Alembic)."""


@db.command()
@database_option
def upgrade(database: str | None) -> None:
    """Migrate to the newest schema."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    migrations.upgrade(engine)
    click.echo(f"at revision {migrations.current_revision(engine)}")
    engine.dispose()


@db.command()
@click.argument("revision")
@database_option
def downgrade(revision: str, database: str | None) -> None:
    """Migrate down to REVISION (``base`` removes every table)."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    migrations.downgrade(engine, revision)
    click.echo(f"at revision {migrations.current_revision(engine) or 'base'}")
    engine.dispose()


@db.command()
@database_option
def current(database: str | None) -> None:
    """Print the schema revision of the database."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    click.echo(migrations.current_revision(engine) or "base (empty database)")
    engine.dispose()


if __name__ == "__main__":
    main()
