"""``ingest``: validate the whole tree, then write it in the caller's single transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, or_, select, text
from sqlmodel import Session

from server.ingest.parse import parse_concept_file
from server.ingest.problems import Problems
from server.ingest.tree import SLUG, ContentTree, read_tree
from server.ingest.validate import FileManifest, Registered, validate_tree
from server.ingest.write import (
    RowWriter,
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
from server.witnesses.record import load_record

META_RECORD = "<meta>"
VALID_SLUG = re.compile(SLUG)
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
    manifests take part in the cross-file checks. A changed file is written as soon as it is
    parsed, in bulk and inside the caller's transaction, so a large store never sits in memory
    whole; any problem, found then or in the checks across files, raises and the caller rolls
    everything back. Nothing is committed here, and nothing is written when nothing changed.
    """
    serialise_writers(session)
    problems = Problems()
    if not root.is_dir():
        problems.add(str(root), 1, "content directory does not exist")
        problems.raise_if_any()
    tree = read_tree(root, problems)
    if not force and not problems.items and tree_unchanged(session, tree):
        # the stored tree passed every check when it was written and nothing it depends on
        # has changed since (only ingest writes the registry): the same checks would pass
        ensure_built(session)
        return IngestReport(files=len(tree.concept_files), unchanged=len(tree.concept_files))
    records = stored_records(session)
    meta = records.get(META_RECORD)
    meta_changed = force or meta is None or meta[0] != tree.meta_digest
    if meta_changed and not problems.items:
        write_contexts(session, {slug: title for slug, (title, _) in tree.contexts.items()})
        write_sources(session, [spec for spec, _ in tree.sources])
        session.flush()  # the bulk inserts below bypass the ORM and need these rows first

    report = IngestReport(files=len(tree.concept_files))
    writer = RowWriter(session)
    doomed = bool(problems.items)  # once any problem is known, nothing more is written
    reviews_seen: set[str] | None = None
    written: dict[str, tuple[str, dict[str, Any]]] = {}  # path -> (hash, manifest)
    manifests: list[FileManifest] = []
    for position, file in enumerate(tree.concept_files):
        if file.context not in tree.contexts:
            problems.add(file.display, 1, f"unknown context '{file.context}' (see contexts.yaml)")
            continue
        if not VALID_SLUG.match(file.slug):
            problems.add(file.display, 1, f"file name '{file.slug}' is not a valid slug")
            continue
        key = concept_key(file.context, file.slug)
        if not file.readable:  # its problem is recorded; links to it are not dangling
            manifests.append(FileManifest(file.display, placeholder_manifest(key)))
            continue
        record = records.get(file.relative)
        if not force and record is not None and record[0] == file.digest:
            manifests.append(FileManifest(file.display, record[1]))
            report.unchanged += 1
            continue
        result = parse_concept_file(file.display, file.context, file.slug, file.text, problems)
        file.text = ""  # parsed: the text is not needed again
        if result is None:  # still known to exist, so links to it do not cascade into more
            manifests.append(FileManifest(file.display, placeholder_manifest(key)))
            continue
        manifests.append(FileManifest(file.display, result.manifest))
        report.parsed += 1
        doomed = doomed or bool(problems.items or result.manifest["duplicates"])
        if doomed:  # nothing will be written; keep parsing only to report every problem
            continue
        if reviews_seen is None:
            reviews_seen = reviews_recorded(session, tree, records, force)
        if record is not None:
            writer.replace(key)
        write_concept(writer, result, position, reviews_seen)
        written[file.relative] = (file.digest, result.manifest)

    scope = None if force or not records else touched_keys(tree, manifests, records, written)
    registry = stored_registry(session, scope)
    aliases = validate_tree(tree, manifests, registry, problems)
    problems.raise_if_any()

    present = {file.relative for file in tree.concept_files}
    removed = [path for path in records if path != META_RECORD and path not in present]
    if not written and not removed and not meta_changed:
        ensure_built(session)
        return report

    writer.flush()
    delete_concepts(session, [concept_key(*p.removesuffix(".md").split("/", 1)) for p in removed])
    load_record(session, tree.strength)  # after the witnesses: entries match their current code
    if meta_changed:
        written[META_RECORD] = (tree.meta_digest, {})
    write_records(session, written, removed)

    active = [key for item in manifests for key in item.manifest["defines"]]
    active += [source_key(spec.id) for spec, _ in tree.sources]
    tombstones = {spec.key: spec.reason for spec, _ in tree.tombstones}
    report.tombstoned = update_registry(session, registry, active, aliases, tombstones, scope=scope)
    report.removed, report.changed = removed, True
    changed = [concept_key(*path.removesuffix(".md").split("/", 1)) for path in removed]
    changed += [
        concept_key(*path.removesuffix(".md").split("/", 1)) for path in written
        if path != META_RECORD
    ]  # fmt: skip
    refresh_search_index(session, sorted(set(changed)))
    bump_revision(session)
    session.flush()
    return report


def reviews_recorded(
    session: Session,
    tree: ContentTree,
    records: dict[str, tuple[str, dict[str, Any]]],
    force: bool,
) -> set[str]:
    """Fingerprints of the content reviews already recorded that this ingest may meet again.

    A few changed files read only their own concepts' reviews; many read them all at once.
    """
    changed = [
        concept_key(file.context, file.slug)
        for file in tree.concept_files
        if force or records.get(file.relative, ("",))[0] != file.digest
    ]
    return known_review_fingerprints(session, None if len(changed) > 100 else changed)


def tree_unchanged(session: Session, tree: ContentTree) -> bool:
    """Every file and the small YAML files hash as recorded, and no recorded file is gone."""
    table = IngestedFile.__table__  # type: ignore[attr-defined]
    rows = session.execute(select(table.c.path, table.c.content_hash))
    hashes: dict[str, str] = {path: content_hash for path, content_hash in rows}
    if hashes.pop(META_RECORD, None) != tree.meta_digest or len(hashes) != len(tree.concept_files):
        return False
    return all(hashes.get(file.relative) == file.digest for file in tree.concept_files)


def stored_records(session: Session) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each ingested file's content hash and manifest, read without ORM objects."""
    table = IngestedFile.__table__  # type: ignore[attr-defined]
    rows = session.execute(select(table.c.path, table.c.content_hash, table.c.manifest))
    return {path: (content_hash, manifest) for path, content_hash, manifest in rows}


def touched_keys(
    tree: ContentTree,
    manifests: list[FileManifest],
    records: dict[str, tuple[str, dict[str, Any]]],
    written: dict[str, tuple[str, dict[str, Any]]],
) -> set[str]:
    """Keys whose registry entry this ingest may change.

    Every key an unchanged file defines was made active when that file was last written, so
    only the keys of written and removed files (before and after), aliases and tombstones
    need their entries read; sources and keys that are not active are always read.
    """
    present = {file.relative for file in tree.concept_files}
    keys: set[str] = set()
    for path, (_, manifest) in records.items():
        if path in written or (path != META_RECORD and path not in present):
            keys.update(manifest.get("defines", {}))
    for _, manifest in written.values():
        keys.update(manifest["defines"])
    for item in manifests:
        keys.update(alias["from"] for alias in item.manifest["aliases"])
    keys.update(spec.key for spec, _ in tree.tombstones)
    return keys


def stored_registry(session: Session, scope: set[str] | None) -> dict[str, Registered]:
    """The store's key registry: whole when ``scope`` is None, else what can matter.

    What can matter: every key that is not active (the reuse checks read those), every
    source key, and the keys in ``scope``.
    """
    table = ObjectKey.__table__  # type: ignore[attr-defined]
    columns = select(table.c.key, table.c.status, table.c.target, table.c.reason)
    if scope is None:
        return {key: Registered(*rest) for key, *rest in session.execute(columns)}
    found = columns.where(or_(table.c.status != "active", table.c.kind == "source"))
    registry = {key: Registered(*rest) for key, *rest in session.execute(found)}
    wanted = sorted(scope - registry.keys())
    for start in range(0, len(wanted), 500):
        batch = columns.where(table.c.key.in_(wanted[start : start + 500]))
        registry.update((key, Registered(*rest)) for key, *rest in session.execute(batch))
    return registry


def write_records(
    session: Session, written: dict[str, tuple[str, dict[str, Any]]], removed: list[str]
) -> None:
    """Replace the ingest records of the files written and drop those of removed files."""
    table = IngestedFile.__table__  # type: ignore[attr-defined]
    paths = [*written, *removed]
    for start in range(0, len(paths), 500):
        session.execute(delete(table).where(table.c.path.in_(paths[start : start + 500])))
    now = utcnow()
    rows = [
        {"path": path, "content_hash": content_hash, "manifest": manifest, "ingested_at": now}
        for path, (content_hash, manifest) in written.items()
    ]
    for start in range(0, len(rows), 2000):
        session.execute(insert(table), rows[start : start + 2000])


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
