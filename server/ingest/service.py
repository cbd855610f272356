"""``ingest``: validate the whole tree, then write it in the caller's single transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from server.ingest.parse import ParsedConcept, parse_concept_file
from server.ingest.problems import Problems
from server.ingest.tree import SLUG, read_tree
from server.ingest.validate import FileManifest, Registered, validate_tree
from server.ingest.write import (
    delete_concepts,
    known_review_fingerprints,
    update_registry,
    write_concept,
    write_contexts,
    write_sources,
)
from server.keys import concept_key, source_key
from server.models import IngestedFile, ObjectKey, utcnow
from server.search.index import ensure_built
from server.search.index import refresh as refresh_search_index
from server.store import bump_revision

META_RECORD = "<meta>"
INGEST_LOCK = 0x5245_4144  # "READ": the advisory lock key that serialises ingests


@dataclass
class IngestReport:
    files: int = 0
    parsed: int = 0
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    tombstoned: list[str] = field(default_factory=list)
    changed: bool = False

    def summary(self) -> str:
        if not self.changed:
            return f"{self.files} concept file(s), nothing changed"
        return (
            f"{self.files} concept file(s): {self.parsed} written, {self.unchanged} unchanged, "
            f"{len(self.removed)} removed, {len(self.tombstoned)} key(s) tombstoned"
        )


def ingest(session: Session, root: Path, *, force: bool = False) -> IngestReport:
    """Validate ``root`` and write it; raises ContentError listing every problem found.

    Unchanged files (same content hash as last time) are not parsed again: their recorded
    manifests take part in the cross-file checks. Nothing is committed here.
    """
    serialise_writers(session)
    problems = Problems()
    if not root.is_dir():
        problems.add(str(root), 1, "content directory does not exist")
        problems.raise_if_any()
    tree = read_tree(root, problems)
    records = {row.path: row for row in session.exec(select(IngestedFile))}
    meta = records.get(META_RECORD)
    meta_changed = force or meta is None or meta.content_hash != tree.meta_digest

    report = IngestReport(files=len(tree.concept_files))
    parsed: list[ParsedConcept] = []
    manifests: list[FileManifest] = []
    for file in tree.concept_files:
        if file.context not in tree.contexts:
            problems.add(file.display, 1, f"unknown context '{file.context}' (see contexts.yaml)")
            continue
        if not re.match(SLUG, file.slug):
            problems.add(file.display, 1, f"file name '{file.slug}' is not a valid slug")
            continue
        if not file.readable:  # its problem is recorded; links to it are not dangling
            key = concept_key(file.context, file.slug)
            manifests.append(FileManifest(file.display, placeholder_manifest(key)))
            continue
        record = records.get(file.relative)
        if not force and record is not None and record.content_hash == file.digest:
            manifests.append(FileManifest(file.display, record.manifest))
            report.unchanged += 1
            continue
        result = parse_concept_file(file.display, file.context, file.slug, file.text, problems)
        if result is not None:
            parsed.append(result)
            manifests.append(FileManifest(file.display, result.manifest))
        else:  # still known to exist, so links to it do not cascade into more problems
            key = concept_key(file.context, file.slug)
            manifests.append(FileManifest(file.display, placeholder_manifest(key)))

    columns = select(ObjectKey.key, ObjectKey.status, ObjectKey.target, ObjectKey.reason)
    registry = {key: Registered(*rest) for key, *rest in session.exec(columns)}
    aliases = validate_tree(tree, manifests, registry, problems)
    problems.raise_if_any()

    present = {file.relative for file in tree.concept_files}
    removed = [path for path in records if path != META_RECORD and path not in present]
    if not parsed and not removed and not meta_changed:
        ensure_built(session)
        return report

    if meta_changed:
        write_contexts(session, {slug: title for slug, (title, _) in tree.contexts.items()})
        write_sources(session, [spec for spec, _ in tree.sources])
    stale = [concept_key(*path.removesuffix(".md").split("/", 1)) for path in removed]
    stale += [item.key for item in parsed if f"{item.context}/{item.slug}.md" in records]
    delete_concepts(session, stale)
    for path in removed:
        session.delete(records[path])
    files = {file.relative: (index, file.digest) for index, file in enumerate(tree.concept_files)}
    reviews_seen = known_review_fingerprints(session)
    written = [concept_key(item.context, item.slug) for item in parsed]
    for item in parsed:
        relative = f"{item.context}/{item.slug}.md"
        position, content_hash = files[relative]
        write_concept(session, item, position, reviews_seen)
        _record(session, records, relative, content_hash).manifest = item.manifest
    if meta_changed:
        _record(session, records, META_RECORD, tree.meta_digest)

    active = [key for item in manifests for key in item.manifest["defines"]]
    active += [source_key(spec.id) for spec, _ in tree.sources]
    tombstones = {spec.key: spec.reason for spec, _ in tree.tombstones}
    report.tombstoned = update_registry(session, active, aliases, tombstones)
    report.parsed, report.removed, report.changed = len(parsed), removed, True
    refresh_search_index(session, sorted({*stale, *written}))
    bump_revision(session)
    session.flush()
    return report


def serialise_writers(session: Session) -> None:
    """One ingest at a time: concurrent ingests queue instead of colliding on keys.

    SQLite write transactions already begin IMMEDIATE (one writer); PostgreSQL takes a
    transaction-scoped advisory lock before anything is read.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INGEST_LOCK})


def placeholder_manifest(key: str) -> dict[str, object]:
    empty: list[object] = []
    return {
        "key": key,
        "defines": {key: 1},
        "duplicates": empty,
        "aliases": empty,
        "links": empty,
        "sources": empty,
        "exposed_by": empty,
    }


def _record(
    session: Session, records: dict[str, IngestedFile], path: str, content_hash: str
) -> IngestedFile:
    row = records.get(path) or IngestedFile(path=path, content_hash=content_hash)
    row.content_hash, row.ingested_at = content_hash, utcnow()
    records[path] = row
    session.add(row)
    return row
