"""Assembled pages, prompts and lists, kept until what they show changes.

Every entry is stored with the store revision it was built at, and is served only while the
revision is still current: content, a review and a witness run bump it. The revision is read
from the store (so writes made by another worker or host sharing the database are seen within
``poll_s``); writes made by this process invalidate at once, after they commit. The cache is
bounded: when full it evicts the least recently used entry, not everything at once.

A learner's note does not change the revision: a prompt that shows a note is keyed by the
note's version, which is read from the store like the revision (and forgotten at once when
this process writes that note).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import bindparam, event, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from server.db import unit_of_work
from server.models import Note
from server.store import BUMPED, NOTES_WRITTEN, current_revision

T = TypeVar("T")
NEVER = float("-inf")  # monotonic time starts near zero at boot: "long ago" must be earlier
# A note's version and when it was written (a note deleted and made again restarts at 1).
NoteVersion = tuple[int, str]
NO_NOTE: NoteVersion = (0, "")



class Entry:
    """One cached answer: its value, the revision it was built at, and what has been derived
    from it since (``server.fastpath`` keeps the messages it was last sent as)."""

    __slots__ = ("derived", "revision", "value")

    def __init__(self, revision: int, value: Any) -> None:
        self.revision = revision
        self.value = value
        self.derived: dict[Hashable, Any] = {}


NOTE_VERSION = select(col(Note.version), col(Note.updated_at)).where(
    col(Note.learner) == bindparam("learner"), col(Note.object_key) == bindparam("key")
)


class PageCache:
    def __init__(self, engine: Engine, poll_s: float = 1.0, max_entries: int = 2048) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._notes: OrderedDict[tuple[str, str], tuple[float, NoteVersion]] = OrderedDict()
        self._revision = -1
        self._checked_at = NEVER
        # Misses being built, by (key, revision): requests that miss together build once.
        self._building: dict[tuple[Hashable, int], asyncio.Future[Any]] = {}

    @property
    def revision(self) -> int:
        return self._revision

    def __len__(self) -> int:
        return len(self._entries)

    def revision_is_fresh(self) -> bool:
        return time.monotonic() - self._checked_at < self.poll_s

    def refresh_revision(self) -> int:
        """Read the store revision (a database call: run it off the event loop)."""
        with unit_of_work(self.engine, write=False) as session:
            revision = current_revision(session)
        self.saw_revision(revision)
        return revision

    def saw_revision(self, revision: int) -> None:
        with self._lock:
            if revision != self._revision:
                # Entries of older revisions can never be served again.
                self._entries.clear()
                self._revision = revision
            self._checked_at = time.monotonic()

    async def fresh(self) -> int:
        """The current revision, read from the store at most once per ``poll_s``."""
        if not self.revision_is_fresh():
            await run_in_threadpool(self.refresh_revision)
        return self._revision

    def invalidate(self) -> None:
        """Read the revision again before the next answer (this process bumped it)."""
        with self._lock:
            self._checked_at = NEVER

    def get(self, key: Hashable) -> Any | None:
        entry = self.entry(key)
        return None if entry is None else entry.value

    def entry(self, key: Hashable) -> Entry | None:
        """The entry for ``key`` at the current revision (its value is what ``get`` returns)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.revision != self._revision:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, revision: int, value: Any) -> None:
        """Keep ``value`` built at ``revision``; an answer built before a bump is not kept."""
        with self._lock:
            if revision != self._revision:
                return
            self._entries[key] = Entry(revision, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    async def serve(self, key: Hashable, build: Callable[[], T]) -> T:
        """The entry for ``key`` at the current revision; built off the event loop when missing."""
        revision = await self.fresh()
        found = self.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        flight = (key, revision)
        loop = asyncio.get_running_loop()
        pending = self._building.get(flight)
        if pending is not None and pending.get_loop() is loop:
            # another request is building it: wait for that (a revision bump makes every
            # page miss at once, and a popular page must not be built once per request)
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the build
                # the request building it went away first: build it here
        future: asyncio.Future[Any] = loop.create_future()
        self._building[flight] = future
        try:
            built = await run_in_threadpool(build)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: each waiter raises it itself
            raise
        finally:
            if self._building.get(flight) is future:
                del self._building[flight]
        self.put(key, revision, built)
        future.set_result(built)
        return built

    def serve_here(self, key: Hashable, build: Callable[[], T]) -> T:
        """As ``serve``, for code already off the event loop (a sync route)."""
        if not self.revision_is_fresh():
            self.refresh_revision()
        revision = self._revision
        found = self.get(key)
        if found is None:
            built = build()
            self.put(key, revision, built)
            return built
        return found  # type: ignore[no-any-return]

    def note_version_is_known(self, learner: str, key: str) -> NoteVersion | None:
        """The version of ``learner``'s note on ``key``, if read within ``poll_s``."""
        with self._lock:
            known = self._notes.get((learner, key))
            if known is None or time.monotonic() - known[0] >= self.poll_s:
                return None
            self._notes.move_to_end((learner, key))
            return known[1]

    def read_note_version(self, learner: str, key: str) -> NoteVersion:
        """Read it from the store (a database call: run it off the event loop)."""
        with unit_of_work(self.engine, write=False) as session:
            row = session.execute(NOTE_VERSION, {"learner": learner, "key": key}).first()
        version = NO_NOTE if row is None else (int(row[0]), row[1].isoformat())
        with self._lock:
            self._notes[(learner, key)] = (time.monotonic(), version)
            self._notes.move_to_end((learner, key))
            while len(self._notes) > self.max_entries:
                self._notes.popitem(last=False)
        return version

    async def note_version(self, learner: str, key: str) -> NoteVersion:
        known = self.note_version_is_known(learner, key)
        if known is None:
            known = await run_in_threadpool(self.read_note_version, learner, key)
        return known

    def forget_notes(self, written: set[tuple[str, str]]) -> None:
        with self._lock:
            for pair in written:
                self._notes.pop(pair, None)


def invalidate_on_commit(cache: PageCache) -> Callable[[], None]:
    """After any session commits a revision bump or a note write, forget what it changed."""

    def after_commit(session: Session) -> None:
        # Read, not popped: every app instance in this process listens to the same sessions.
        if session.info.get(BUMPED, False):
            cache.invalidate()
        written = session.info.get(NOTES_WRITTEN)
        if written:
            cache.forget_notes(written)

    event.listen(Session, "after_commit", after_commit)
    return lambda: event.remove(Session, "after_commit", after_commit)
