"""The store revision: bumped by every write that changes what a page or prompt shows."""

from __future__ import annotations

from sqlmodel import Session, select

from server.models import StoreRevision, utcnow

# Set on a session that bumped the revision, so caches can be cleared once it commits.
BUMPED = "readingroom_revision_bumped"


def bump_revision(session: Session) -> int:
    row = session.get(StoreRevision, 1)
    if row is None:
        row = StoreRevision(id=1, revision=0)
    row.revision += 1
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    session.info[BUMPED] = True
    return row.revision


def current_revision(session: Session) -> int:
    value = session.exec(select(StoreRevision.revision).where(StoreRevision.id == 1)).first()
    return int(value or 0)
