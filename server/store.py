"""The store revision: bumped by every write that changes what a page or prompt shows."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from server.models import StoreRevision, utcnow

# Set on a session that bumped the revision, so caches can be cleared once it commits.
BUMPED = "readingroom_revision_bumped"
# Set on a session that wrote notes: the (learner, object key) pairs it changed.
NOTES_WRITTEN = "readingroom_notes_written"


def note_written(session: Session, learner: str, key: str) -> None:
    """Mark ``learner``'s note on ``key`` changed; caches forget its version after commit."""
    session.info.setdefault(NOTES_WRITTEN, set()).add((learner, key))


def bump_revision(session: Session) -> int:
    """Increment the revision atomically (concurrent writers never lose a bump)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(StoreRevision)
        .values(id=1, revision=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    revision = session.execute(
        update(StoreRevision)
        .where(col(StoreRevision.id) == 1)
        .values(revision=col(StoreRevision.revision) + 1, updated_at=utcnow())
        .returning(col(StoreRevision.revision))
    ).scalar_one()
    session.info[BUMPED] = True
    return int(revision)


def current_revision(session: Session) -> int:
    value = session.exec(select(StoreRevision.revision).where(StoreRevision.id == 1)).first()
    return int(value or 0)
