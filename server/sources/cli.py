"""``readingroom sources export --bibtex``: every source as a BibTeX bibliography."""

from __future__ import annotations

import click

from server.cli import database_option, settings_for
from server.db import make_engine, unit_of_work
from server.objects.service import list_sources
from server.sources.bibtex import bibliography
from server.sources.importer import import_command


@click.group("sources")
def sources_group() -> None:
    """Sources as citations: export as BibTeX, import BibTeX into sources.yaml."""


sources_group.add_command(import_command)


@sources_group.command("export")
@click.option("--bibtex", "as_bibtex", is_flag=True, required=True,
              help="Print every source as a BibTeX entry (the only format).")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")  # fmt: skip
@database_option
def export(as_bibtex: bool, output: str | None, database: str | None) -> None:
    """Print (or write) every source, in the order of the sources file."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine, write=False) as session:
            text = bibliography(list_sources(session)[0])
    finally:
        engine.dispose()
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
