"""Assembled pages, kept until the store revision changes.

A concept page is assembled once and reused until its content, a review or a witness run
changes the store revision. Writes made by this process invalidate at once (a session that
bumped the revision clears the cache after it commits); writes made by other workers are
seen within ``poll_s``, when the revision is read again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.db import unit_of_work
from server.store import BUMPED, current_revision


class PageCache:
    def __init__(self, engine: Engine, poll_s: float = 1.0, max_entries: int = 2048) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[int, Any]] = {}
        self._revision = -1
        self._checked_at = 0.0

    @property
    def revision(self) -> int:
        return self._revision

    def revision_is_fresh(self) -> bool:
        return time.monotonic() - self._checked_at < self.poll_s

    def refresh_revision(self) -> int:
        """Read the store revision (a database call: run it off the event loop)."""
        with unit_of_work(self.engine, write=False) as session:
            revision = current_revision(session)
        with self._lock:
            if revision != self._revision:
                self._entries.clear()
                self._revision = revision
            self._checked_at = time.monotonic()
        return revision

    def invalidate(self) -> None:
        with self._lock:
            self._entries.clear()
            self._checked_at = 0.0

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != self._revision:
            return None
        return entry[1]

    def put(self, key: Hashable, revision: int, value: Any) -> None:
        with self._lock:
            if revision != self._revision:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (revision, value)


def invalidate_on_commit(cache: PageCache) -> Callable[[], None]:
    """Clear ``cache`` after any session commits a revision bump; returns the remover."""

    def after_commit(session: Session) -> None:
        if session.info.pop(BUMPED, False):
            cache.invalidate()

    event.listen(Session, "after_commit", after_commit)
    return lambda: event.remove(Session, "after_commit", after_commit)
