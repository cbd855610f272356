"""Notes export and import (JSON or Markdown), keyed by stable keys.

A round trip loses nothing: keys, texts, next actions, checklists, versions and timestamps.
The Markdown form is for people to read; each note carries a metadata comment with
everything but its text, and its text runs verbatim up to an end marker that the text does
not contain. Import never overwrites a newer note: each conflict is reported and the file's
side is kept in a conflicts file (the JSON form, so it can be imported once resolved).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from server.errors import InvalidInput, ReadingRoomError
from server.keys import parse_key
from server.learning.transfer import ProgressRecord, progress_of
from server.models import Note, utcnow
from server.notes.schemas import MAX_NEXT_ACTION, MAX_TEXT, Checklist
from server.store import note_written

FORMAT = "readingroom-notes"
FORMAT_VERSION = 1
Outcome = Literal["created", "updated", "unchanged", "conflict"]
META = re.compile(r"^<!-- readingroom:note (\{.*\}) -->\n", re.MULTILINE)
HEADER = re.compile(r"^<!-- readingroom:notes (\{.*\}) -->$", re.MULTILINE)


class NoteRecord(BaseModel):
    """One exported note."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=400)
    text: str = Field(max_length=MAX_TEXT)
    next_action: str = Field(max_length=MAX_NEXT_ACTION)
    checklist: Checklist
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime

    @field_validator("key")
    @classmethod
    def _is_a_key(cls, key: str) -> str:
        try:
            parse_key(key)
        except ReadingRoomError as error:
            raise ValueError(error.message) from None
        return key

    @field_validator("created_at", "updated_at")
    @classmethod
    def _has_a_zone(cls, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("a timestamp needs its time zone (e.g. 2026-12-01T10:00:00Z)")
        return moment

    def same_note(self, note: Note) -> bool:
        return (self.text, self.next_action, dict(self.checklist), self.version) == (
            note.text, note.next_action, dict(note.checklist), note.version,
        )  # fmt: skip


class NotesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["readingroom-notes"]
    format_version: Literal[1]
    learner: str = Field(min_length=1, max_length=100)
    exported_at: datetime
    notes: list[NoteRecord]
    # learned and starred concepts (server.learning.transfer); absent in older exports
    progress: list[ProgressRecord] = Field(default_factory=list)


def record_of(note: Note) -> NoteRecord:
    return NoteRecord(
        key=note.object_key, text=note.text, next_action=note.next_action,
        checklist=dict(note.checklist), version=note.version, created_at=note.created_at,
        updated_at=note.updated_at,
    )  # fmt: skip


def notes_of(session: Session, learner: str) -> NotesFile:
    """Every note of ``learner`` (orphans included), in key order."""
    rows = session.exec(
        select(Note).where(col(Note.learner) == learner).order_by(col(Note.object_key))
    ).all()
    return NotesFile(
        format=FORMAT, format_version=FORMAT_VERSION, learner=learner, exported_at=utcnow(),
        notes=[record_of(note) for note in rows], progress=progress_of(session, learner),
    )  # fmt: skip


def to_json(notes: NotesFile) -> str:
    return json.dumps(notes.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def _end_marker(record: NoteRecord) -> str:
    seed = f"{record.key}\n{record.text}"
    for salt in range(1000):
        token = hashlib.sha256(f"{salt}:{seed}".encode()).hexdigest()[:16]
        if token not in record.text:
            return token
    raise AssertionError("unreachable: no end marker absent from the text")


def to_markdown(notes: NotesFile) -> str:
    header = notes.model_dump(mode="json", exclude={"notes"})
    parts = [
        f"# Notes of {notes.learner}\n\n",
        f"<!-- readingroom:notes {json.dumps(header, ensure_ascii=False)} -->\n",
    ]
    for record in notes.notes:
        end = _end_marker(record)
        meta = record.model_dump(mode="json", exclude={"text"}) | {"end": end}
        parts.append(f"\n## {record.key}\n\n")
        if record.next_action:
            parts.append(f"Next action: {' '.join(record.next_action.split())}\n\n")
        for item, done in record.checklist.items():
            parts.append(f"- [{'x' if done else ' '}] {' '.join(item.split())}\n")
        if record.checklist:
            parts.append("\n")
        parts.append(f"<!-- readingroom:note {json.dumps(meta, ensure_ascii=False)} -->\n")
        parts.append(f"{record.text}\n<!-- readingroom:end {end} -->\n")
    return "".join(parts)


def _from_markdown(text: str) -> dict[str, Any]:
    header = HEADER.search(text)
    if header is None:
        raise InvalidInput("not a notes export: no '<!-- readingroom:notes ... -->' line")
    data: dict[str, Any] = json.loads(header.group(1))
    notes: list[dict[str, Any]] = []
    position = header.end()
    while (meta := META.search(text, position)) is not None:
        record: dict[str, Any] = json.loads(meta.group(1))
        end = f"\n<!-- readingroom:end {record.pop('end', '')} -->"
        stop = text.find(end, meta.end())
        if stop < 0:
            raise InvalidInput(f"the note on '{record.get('key')}' has no end marker")
        record["text"] = text[meta.end() : stop]
        notes.append(record)
        position = stop + len(end)
    data["notes"] = notes
    return data


def parse_notes(text: str) -> NotesFile:
    """A notes file in either form; every problem is named, and a bad file imports nothing."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else _from_markdown(text)
        return NotesFile.model_validate(data)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"not valid JSON: {error}") from None
    except ValidationError as error:
        details = [
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        ]
        raise InvalidInput("the notes file does not validate", details) from None


@dataclass
class ImportReport:
    outcomes: list[tuple[str, Outcome, str]] = field(default_factory=list)
    conflicts: list[NoteRecord] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for _, o, _ in self.outcomes if o == outcome)

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(o)} {o}" for o in ("created", "updated", "unchanged", "conflict")
        )
        return f"{len(self.outcomes)} note(s): {counts}"


def import_notes(session: Session, learner: str, notes: list[NoteRecord]) -> ImportReport:
    """Write the file's notes for ``learner``.

    A note the store lacks is created as it was; one the file holds a strictly newer version
    of (higher version, not older) is replaced by it; anything else where the two differ is a
    conflict: the store's note stays, and the file's side is returned in ``conflicts``.
    """
    report = ImportReport()
    for record in notes:
        note_written(session, learner, record.key)
        note = session.exec(
            select(Note).where(col(Note.learner) == learner, col(Note.object_key) == record.key)
        ).first()
        if note is None:
            session.add(Note(learner=learner, object_key=record.key, **_values(record)))
            report.outcomes.append((record.key, "created", ""))
        elif record.same_note(note):
            report.outcomes.append((record.key, "unchanged", ""))
        elif record.version > note.version and record.updated_at >= note.updated_at:
            for name, value in _values(record).items():
                setattr(note, name, value)
            session.add(note)
            report.outcomes.append((record.key, "updated", f"version {note.version}"))
        else:
            report.conflicts.append(record)
            report.outcomes.append((record.key, "conflict", (
                f"the store has version {note.version} (updated {note.updated_at.isoformat()}), "
                f"the file version {record.version} (updated {record.updated_at.isoformat()})"
            )))  # fmt: skip
    session.flush()
    return report


def _values(record: NoteRecord) -> dict[str, Any]:
    return {
        "text": record.text, "next_action": record.next_action,
        "checklist": dict(record.checklist), "version": record.version,
        "created_at": record.created_at, "updated_at": record.updated_at,
    }  # fmt: skip
