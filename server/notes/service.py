"""Notes: read, write (optimistic versions), delete and list a learner's own notes.

A note is stored under the key it was written on; renaming or removing the object never
changes it. A write on an old key follows the alias and stores the note under the object's
current key; a write on a removed object answers 410. Services never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from server.errors import Conflict, Gone, InvalidInput, NotFound
from server.keys import parse_key
from server.models import Note, ObjectKey, utcnow
from server.notes.schemas import NoteObject, NoteOut, NoteWrite
from server.paging import Keyset, keyset_page
from server.render.markdown import render_learner_markdown
from server.store import note_written

MAX_ALIAS_HOPS = 16
NOTE_PAGES = Keyset("notes", (col(Note.object_key),), (str,))


@dataclass(frozen=True)
class Target:
    """The key a write lands on, and the old key it was reached from (if any)."""

    key: str
    followed_alias: str | None = None


def object_state(session: Session, key: str) -> NoteObject:
    """Where ``key``'s object stands now, following renames to the newest key."""
    row = session.get(ObjectKey, key)
    if row is None:
        return NoteObject(status="unknown")
    if row.status == "active":
        return NoteObject(status="active", current_key=key)
    seen = {key}
    while row is not None and row.status == "alias" and row.target and len(seen) < MAX_ALIAS_HOPS:
        target = row.target
        row = session.get(ObjectKey, target)
        if row is not None and row.status == "active":
            return NoteObject(status="renamed", current_key=target)
        if target in seen:
            break
        seen.add(target)
    if row is not None and row.status == "tombstone":
        return NoteObject(status="removed", reason=row.reason or "removed")
    return NoteObject(status="unknown")


def write_target(session: Session, key: str) -> Target:
    """The key a write on ``key`` lands on: 404 unknown, 410 removed, an alias followed."""
    parse_key(key)
    state = object_state(session, key)
    if state.status == "active":
        return Target(key)
    if state.status == "renamed" and state.current_key:
        return Target(state.current_key, followed_alias=key)
    if state.status == "removed":
        reason = state.reason or "removed"
        raise Gone(f"'{key}' was removed: {reason}", [{"key": key, "reason": reason}])
    raise NotFound(f"no object has the key '{key}'")


def to_public(session: Session, note: Note, followed_alias: str | None = None) -> NoteOut:
    return NoteOut(
        key=note.object_key,
        kind=note.object_key.partition(":")[0],
        text=note.text,
        text_html=render_learner_markdown(note.text),
        next_action=note.next_action,
        checklist=dict(note.checklist),
        version=note.version,
        created_at=note.created_at,
        updated_at=note.updated_at,
        object=object_state(session, note.object_key),
        followed_alias=followed_alias,
    )


def find_note(session: Session, learner: str, key: str) -> Note | None:
    query = select(Note).where(col(Note.learner) == learner, col(Note.object_key) == key)
    return session.exec(query.execution_options(populate_existing=True)).first()


def _conflict(session: Session, learner: str, key: str, message: str) -> Conflict:
    current = find_note(session, learner, key)
    details = [to_public(session, current).model_dump(mode="json")] if current else []
    return Conflict(message, details)


def get_note(session: Session, learner: str, key: str) -> NoteOut:
    """The learner's note on ``key``: stored under it, or under the object's current key."""
    parse_key(key)
    note = find_note(session, learner, key)
    if note is not None:
        return to_public(session, note)
    target = write_target(session, key)  # 404 unknown, 410 removed
    note = find_note(session, learner, target.key)
    if note is None:
        raise NotFound(f"you have no note on '{target.key}'")
    return to_public(session, note, target.followed_alias)


def put_note(session: Session, learner: str, key: str, body: NoteWrite) -> NoteOut:
    """Create (``version`` null) or update (the current version); anything else is a 409
    carrying the current note, and nothing is overwritten."""
    target = write_target(session, key)
    note_written(session, learner, target.key)
    if body.version is None:
        note = _create(session, learner, target.key, body)
    else:
        note = _update(session, learner, target.key, body)
    return to_public(session, note, target.followed_alias)


def _create(session: Session, learner: str, key: str, body: NoteWrite) -> Note:
    if find_note(session, learner, key) is not None:
        raise _conflict(session, learner, key, f"a note on '{key}' exists: send its version")
    now = utcnow()
    note = Note(
        learner=learner, object_key=key, text=body.text, next_action=body.next_action,
        checklist=dict(body.checklist), version=1, created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():  # a concurrent create wins the unique key: answer 409
            session.add(note)
    except IntegrityError:
        raise _conflict(
            session, learner, key, f"a note on '{key}' was just created: send its version"
        ) from None
    return note


def _update(session: Session, learner: str, key: str, body: NoteWrite) -> Note:
    # Compare-and-set in one statement: of two writers holding version N, exactly one wins.
    changed = session.execute(
        update(Note)
        .where(
            col(Note.learner) == learner,
            col(Note.object_key) == key,
            col(Note.version) == body.version,
        )
        .values(
            text=body.text,
            next_action=body.next_action,
            checklist=dict(body.checklist),
            version=col(Note.version) + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise _conflict(
            session, learner, key,
            f"version {body.version} of the note on '{key}' is not the current one",
        )  # fmt: skip
    note = find_note(session, learner, key)
    assert note is not None
    return note


def delete_note(session: Session, learner: str, key: str, version: int) -> None:
    """Delete the note at ``version`` (stale: 409 with the current note, nothing deleted).

    A note on a removed or renamed object can still be deleted by its own key."""
    parse_key(key)
    if find_note(session, learner, key) is None:
        key = write_target(session, key).key
        if find_note(session, learner, key) is None:
            raise NotFound(f"you have no note on '{key}'")
    note_written(session, learner, key)
    gone = session.execute(
        delete(Note)
        .where(
            col(Note.learner) == learner,
            col(Note.object_key) == key,
            col(Note.version) == version,
        )
        .execution_options(synchronize_session=False)
    )
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        message = f"version {version} of the note on '{key}' is not the current one"
        raise _conflict(session, learner, key, message)


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it literally anywhere (escape character ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(
    learner: str, concept: str | None, kind: str | None, orphaned: bool | None,
    context: str | None = None, text: str | None = None,
) -> list[ColumnElement[bool]]:  # fmt: skip
    where: list[ColumnElement[bool]] = [col(Note.learner) == learner]
    if context is not None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", context):
            raise InvalidInput(f"context= takes a context slug, not '{context}'")
        where.append(col(Note.object_key).like(f"%:{context}/%"))
    if text:
        pattern = _like(text.lower())
        where.append(
            or_(
                func.lower(col(Note.text)).like(pattern, escape="\\"),
                func.lower(col(Note.next_action)).like(pattern, escape="\\"),
                func.lower(col(Note.object_key)).like(pattern, escape="\\"),
            )
        )
    if concept is not None:
        parsed = parse_key(concept)
        if parsed.kind != "concept":
            raise InvalidInput(f"concept= takes a concept key, not '{concept}'")
        where.append(
            or_(col(Note.object_key) == concept, col(Note.object_key).like(f"%:{parsed.path}/%"))
        )
    if kind is not None:
        where.append(col(Note.object_key).like(f"{kind}:%"))
    if orphaned is not None:
        active = col(ObjectKey.status) == "active"
        where.append(or_(col(ObjectKey.status).is_(None), ~active) if orphaned else active)
    return where


def list_notes(
    session: Session,
    learner: str,
    *,
    concept: str | None = None,
    kind: str | None = None,
    orphaned: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
    context: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """The learner's own notes in key order, a page at a time; ``count`` counts every page.

    ``context`` keeps notes on that context's objects; ``text`` those whose text, next action
    or key contains it (case-insensitive, literally: ``%`` and ``_`` are plain characters).
    """
    where = _filters(learner, concept, kind, orphaned, context, text)
    joined = col(ObjectKey.key) == col(Note.object_key)
    query = select(Note).outerjoin(ObjectKey, joined).where(*where)
    page, count, following = keyset_page(session, query, NOTE_PAGES, limit, cursor)
    return {"data": [to_public(session, note) for note in page], "count": count, "next": following}
