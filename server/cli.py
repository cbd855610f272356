"""The ``readingroom`` command.

Every subcommand takes ``--database URL`` (falling back to ``READINGROOM_DATABASE_URL``, then
to ``readingroom.db`` in the working directory). Errors print ``error: ...`` to stderr and
exit non-zero.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

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
    """Turns the service's own errors into ``error: ...`` and a non-zero exit.

    Commands that live in their domain (``prompt``, ``witness``) are imported only when used,
    so every command starts quickly.
    """

    lazy_commands: ClassVar[dict[str, str]] = {
        "notes": "server.notes.cli:notes_group",
        "prompt": "server.tutor.cli:prompt_command",
        "witness": "server.witnesses.cli:witness_group",
        "users": "server.people.cli:users_group",
        "reviews": "server.claims.cli:reviews_group",
        "plan": "server.learning.cli:plan_command",
        "sources": "server.sources.cli:sources_group",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

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
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(min=1),
    help="Server processes sharing the port (default 1); the store is prepared once first.",
)
@click.option(
    "--access-log/--no-access-log",
    "access_log",
    default=None,
    help="Log a line per request (default: off, or READINGROOM_ACCESS_LOG).",
)
@database_option
def serve(
    host: str | None,
    port: int | None,
    content: Path | None,
    workers: int,
    access_log: bool | None,
    database: str | None,
) -> None:
    """Migrate the database, ingest the content and serve the API and pages."""
    from server import serving
    from server.app import create_app, prepare_store
    from server.hosts import exposure_warnings, is_loopback_bind

    settings = settings_for(
        database, host=host, port=port, content_dir=content, access_log=access_log
    )
    if settings.mode == "local" and not is_loopback_bind(settings.host):
        fail(
            f"local mode has no login: serving on {settings.host} would let anyone who can reach "
            "this machine read and write as the local learner; bind 127.0.0.1, or set "
            "READINGROOM_MODE=team and add accounts with `readingroom users add`"
        )
    for warning in exposure_warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    # migrate and ingest before serving: broken content prints its problems and exits 1
    prepare_store(settings).dispose()
    if workers > 1:
        from server.workers import run_workers

        run_workers(settings, workers)
        return
    app = create_app(settings.model_copy(update={"ingest_on_start": False}))
    serving.run(app, settings)


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
        migrations.ensure_current(engine)
        with unit_of_work(engine) as session:
            report = run_ingest(session, path or settings.content_dir, force=force)
        click.echo(report.summary())
    finally:
        engine.dispose()


@main.command()
@click.argument("keys", nargs=-1)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel runs (default: one per core).",
)
@click.option("--force", is_flag=True, help="Run even where a cached pass still matches.")
@click.option(
    "--mutants",
    is_flag=True,
    help="Measure witness strength: run small wrong versions of each witness under its checks "
    "and report the share caught (target 80%).",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --mutants: write the strength record (JSON) the content gate reads.",
)
@database_option
def check(
    keys: tuple[str, ...],
    jobs: int | None,
    force: bool,
    mutants: bool,
    record: Path | None,
    database: str | None,
) -> None:
    """Check every witness in the store, or those of KEYS (witness or concept keys).

    Passing runs are cached by code, checks and environment; exits 1 if any witness fails.
    With --mutants, also runs each witness's mutants (cached the same way) and exits 1 if a
    witness's checks catch fewer than 80% of them, survivors declared equivalent aside.
    On PostgreSQL the runs are jobs in the store's queue, taken by `readingroom worker`
    processes on any host; with no worker running, this command takes them itself.
    """
    from server import migrations
    from server.witnesses import service

    if record is not None and not mutants:
        fail("--record needs --mutants")
    if mutants:
        _require_sandbox()
        from server.witnesses.cli import check_mutants

        url = settings_for(database).database_url
        sys.exit(check_mutants(url, list(keys), jobs, force, record))
    url = settings_for(database).database_url
    engine = make_engine(url)
    migrations.ensure_current(engine)
    with unit_of_work(engine, write=False) as session:
        witnesses = service.select_witnesses(session, list(keys))
        todo, outcomes = service.plan_checks(session, witnesses, force=force)
    from server.witnesses.jobs import uses_job_queue

    if todo and uses_job_queue(url):
        from server.witnesses.cli import check_through_queue

        outcomes += check_through_queue(url, engine, todo, jobs, force)
    elif todo:
        _require_sandbox()
        with click.progressbar(
            length=len(todo), label="checking witnesses", file=sys.stderr
        ) as bar:
            done = service.run_jobs(todo, workers=jobs, on_done=lambda _j, _r: bar.update(1))
        with unit_of_work(engine) as session:
            outcomes += service.record_runs(session, done)
    engine.dispose()
    from server.witnesses.cli import printable

    failed = [o for o in outcomes if o.status != "passed"]
    for outcome in sorted(outcomes, key=lambda o: o.key):
        how = "cached" if outcome.cached else f"{outcome.duration_ms:.0f} ms"
        click.echo(printable(f"{outcome.status:<20} {outcome.key} ({how})"))
        if outcome.message and outcome.status != "passed":
            click.echo(printable(f"{'':<20} {outcome.message}"))
    cached = sum(o.cached for o in outcomes)
    click.echo(
        f"{len(outcomes)} witness(es): {len(outcomes) - len(failed)} passed "
        f"({cached} cached), {len(failed)} failed"
    )
    if failed:
        sys.exit(1)


def _sandbox_allowed_unconfined() -> bool:
    from server.witnesses.sandbox import unconfined_allowed

    return unconfined_allowed()


def _require_sandbox() -> None:
    """Exit 1 unless witnesses can run here confined (or unconfined runs are allowed)."""
    if _sandbox_allowed_unconfined():
        return
    from server.witnesses.sandbox import probe_confinement

    status = probe_confinement()
    if not status.available:
        fail(f"sandbox unavailable: {status.message}")


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Witness runs at once (default: one per core).",
)
@click.option(
    "--burst",
    is_flag=True,
    help="Stop once the queue has caught up instead of waiting for more jobs.",
)
@database_option
def worker(concurrency: int | None, burst: bool, database: str | None) -> None:
    """Take witness-check jobs from the PostgreSQL store's queue and run them here.

    Any host that reaches the database can run workers; each runs witnesses in its own
    sandbox and records the runs in the store. Stops on SIGINT or SIGTERM once its runs end.
    """
    import logging
    import os

    from server import migrations
    from server.witnesses import jobs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url = settings_for(database).database_url
    if not jobs.uses_job_queue(url):
        fail(
            "the witness job queue needs PostgreSQL; on SQLite, runs happen in the process "
            "that asks for them (`readingroom check`, `readingroom serve`)"
        )
    _require_sandbox()
    engine = make_engine(url)
    try:
        migrations.ensure_current(engine)
        count = concurrency or max(1, os.cpu_count() or 1)
        click.echo(f"taking witness jobs ({count} at once); stop with Ctrl-C", err=True)
        jobs.run_worker(url, engine, jobs.WorkerOptions(concurrency=count, wait=not burst))
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
    migrations.ensure_current(engine)
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
