"""``readingroom sources import FILE.bib``: BibTeX entries into ``content/sources.yaml``.

The BibTeX is read by bibtexparser (LaTeX accents decoded, co-authors separated); each entry
becomes a ``SourceSpec`` and is checked by it (id, authors, year, DOI, arXiv id, web address),
so an entry that would not ingest is not written. Entries are appended to the file as YAML in
its own style; the file's existing text is never rewritten, and an id it already has is
skipped. Nothing is written when any entry has a problem, unless ``--skip-invalid``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml
from bibtexparser import middlewares
from bibtexparser.entrypoint import parse_string
from pydantic import ValidationError

from schemas.content import SourceSpec
from server.errors import InvalidInput

MAX_BIB_BYTES = 2_000_000
VENUE_FIELDS = ("journal", "booktitle", "publisher", "school", "institution", "howpublished")
ARXIV = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}(?:v\d+)?)$", re.IGNORECASE)
DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", re.IGNORECASE)


@dataclass
class ImportResult:
    added: list[SourceSpec] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    problems: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:120].strip("-")


def plain(value: str) -> str:
    """A decoded field as plain text: protective braces gone, whitespace folded."""
    return " ".join(value.replace("{", "").replace("}", "").split())


def person(name: str) -> str:
    """``Last, First`` (or ``von Last, Jr, First``) -> ``First Last``."""
    parts = [plain(p) for p in name.split(",")]
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}".strip()
    if len(parts) == 3:
        return f"{parts[2]} {parts[0]} {parts[1]}".strip()
    return plain(name)


def spec_of(entry: Any) -> SourceSpec:
    """One parsed entry as a source; raises ValueError naming what is wrong."""
    fields = {k.lower(): v for k, v in entry.fields_dict.items()}
    value = {k: (f.value if isinstance(f.value, list) else plain(str(f.value)))
             for k, f in fields.items()}  # fmt: skip
    authors = value.get("author") or value.get("editor") or []
    if isinstance(authors, str):
        authors = [authors]
    data: dict[str, Any] = {
        "id": slug(entry.key),
        "authors": [person(a) for a in authors],
        "title": value.get("title"),
    }
    year = str(value.get("year", "")).strip()
    if not year.isdigit():
        raise ValueError(f"year '{year}' is not a number" if year else "no year")
    data["year"] = int(year)
    venue = next((value[f] for f in VENUE_FIELDS if value.get(f)), None)
    if venue:
        data["venue"] = venue
    if value.get("doi"):
        data["doi"] = DOI_PREFIX.sub("", str(value["doi"]))
    eprint = str(value.get("eprint", ""))
    if eprint and str(value.get("archiveprefix", "arxiv")).lower() == "arxiv":
        match = ARXIV.match(eprint)
        if match:
            data["arxiv"] = match.group(1)
    if value.get("url"):
        data["url"] = value["url"]
    try:
        return SourceSpec.model_validate(data)
    except ValidationError as error:
        raise ValueError("; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )) from None  # fmt: skip


def parse_bibtex(text: str) -> tuple[list[Any], list[str]]:
    """(entries, problems) of a BibTeX text."""
    library = parse_string(
        text,
        append_middleware=[
            middlewares.LatexDecodingMiddleware(),
            middlewares.SeparateCoAuthors(),
        ],
    )
    problems = [
        f"line {(block.start_line or 0) + 1}: the entry could not be parsed: "
        + (getattr(block.error, "abort_reason", None) or type(block.error).__name__)
        + f" ({' '.join((block.raw or '').split())[:60]})"
        for block in library.failed_blocks
    ]
    return list(library.entries), problems


def existing_ids(sources_file: Path) -> set[str]:
    if not sources_file.exists():
        return set()
    loaded = yaml.safe_load(sources_file.read_text(encoding="utf-8")) or []
    if not isinstance(loaded, list):
        raise InvalidInput(f"{sources_file} is not a list of sources")
    return {str(item.get("id")) for item in loaded if isinstance(item, dict)}


def plan_import(text: str, sources_file: Path) -> ImportResult:
    entries, problems = parse_bibtex(text)
    result = ImportResult(problems=problems)
    have = existing_ids(sources_file)
    for entry in entries:
        try:
            spec = spec_of(entry)
        except ValueError as error:
            result.problems.append(f"{entry.key} (line {entry.start_line + 1}): {error}")
            continue
        if spec.id in have:
            result.skipped.append((spec.id, "already in sources.yaml"))
            continue
        have.add(spec.id)
        result.added.append(spec)
    return result


def to_yaml(specs: list[SourceSpec]) -> str:
    """The entries in the file's style: one block each, fields in the schema's order."""
    blocks = []
    for spec in specs:
        data = spec.model_dump(exclude_none=True)
        blocks.append(yaml.safe_dump([data], sort_keys=False, allow_unicode=True, width=96))
    return "\n".join(blocks)


def append_sources(sources_file: Path, specs: list[SourceSpec]) -> None:
    current = sources_file.read_text(encoding="utf-8") if sources_file.exists() else ""
    if current and not current.endswith("\n"):
        current += "\n"
    separator = "\n" if current.strip() else ""
    sources_file.write_text(current + separator + to_yaml(specs), encoding="utf-8")


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--content", "content", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="The content tree whose sources.yaml gets the entries (default: the bundled one).",
)  # fmt: skip
@click.option("--skip-invalid", is_flag=True, help="Add the valid entries, report the others.")
@click.option("--dry-run", is_flag=True, help="Print the YAML that would be added; write nothing.")
def import_command(file: Path, content: Path | None, skip_invalid: bool, dry_run: bool) -> None:
    """Add the entries of a BibTeX FILE to sources.yaml, each checked like authored content."""
    from server.cli import fail, settings_for

    if file.stat().st_size > MAX_BIB_BYTES:
        fail(f"{file} is larger than {MAX_BIB_BYTES} bytes")
    target = (content or settings_for(None).content_dir) / "sources.yaml"
    result = plan_import(file.read_text(encoding="utf-8", errors="replace"), target)
    for source_id, why in result.skipped:
        click.echo(f"skipped    {source_id}: {why}")
    for problem in result.problems:
        click.echo(f"problem    {problem}", err=True)
    if result.problems and not skip_invalid:
        fail(
            f"{len(result.problems)} problem(s); nothing was written (--skip-invalid adds the rest)"
        )
    if dry_run:
        click.echo(to_yaml(result.added), nl=False)
        return
    if result.added:
        append_sources(target, result.added)
    for spec in result.added:
        click.echo(f"added      {spec.id}")
    click.echo(f"{len(result.added)} source(s) added to {target}; run `readingroom ingest`")
