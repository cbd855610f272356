"""Gathered evidence and built prompts, reused while the store has not changed.

The fingerprint is the store revision (bumped by ingest and by every write a prompt shows)
plus the newest witness run and claim review, so a run or review recorded by any path
invalidates it too. Only read sessions use the cache: a write session may hold changes
that are later rolled back.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from server.db import WRITE_OPTION
from server.models import ClaimReview, StoreRevision, WitnessRun
from server.tutor.evidence import Registry, gather
from server.tutor.prompt import ObjectEvidence, Prompt

MAX_OBJECTS = 4096
MAX_PROMPTS = 4096

Fingerprint = tuple[int, ...]

# Built once: a statement object is cheap to run and costly to construct.
FINGERPRINT = select(
    select(col(StoreRevision.revision)).where(col(StoreRevision.id) == 1).scalar_subquery(),
    select(func.max(col(WitnessRun.id))).scalar_subquery(),
    select(func.count()).select_from(WitnessRun).scalar_subquery(),
    select(func.max(col(ClaimReview.id))).scalar_subquery(),
    select(func.count()).select_from(ClaimReview).scalar_subquery(),
)


@dataclass
class Snapshot:
    fingerprint: Fingerprint
    registry: Registry
    evidence: OrderedDict[str, ObjectEvidence] = field(default_factory=OrderedDict)
    prompts: OrderedDict[Hashable, Prompt] = field(default_factory=OrderedDict)


_snapshots: weakref.WeakKeyDictionary[Engine, Snapshot] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def store_fingerprint(session: Session) -> Fingerprint:
    row = session.execute(FINGERPRINT).one()
    return tuple(int(value or 0) for value in row)


def _cacheable(session: Session) -> Engine | None:
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.get_execution_options().get(WRITE_OPTION):
        return None
    return bind.engine


def snapshot(session: Session) -> Snapshot:
    """The snapshot for the store as ``session`` sees it (shared when it can be)."""
    engine = _cacheable(session)
    fingerprint = store_fingerprint(session)
    if engine is None:
        return Snapshot(fingerprint, Registry.load(session))
    with _lock:
        current = _snapshots.get(engine)
        if current is not None and current.fingerprint == fingerprint:
            return current
    fresh = Snapshot(fingerprint, Registry.load(session))
    with _lock:
        _snapshots[engine] = fresh
    return fresh


def evidence_for(session: Session, shot: Snapshot, key: str) -> ObjectEvidence:
    """The evidence of the active object ``key``, gathered once per snapshot."""
    found: ObjectEvidence | None = _used(shot.evidence, key)
    if found is not None:
        return found
    gathered = gather(session, shot.registry, key)
    _keep(shot.evidence, key, gathered, MAX_OBJECTS)
    return gathered


def prompt_for(shot: Snapshot, signature: Hashable, build: Callable[[], Prompt]) -> Prompt:
    """The prompt built for ``signature`` (everything it depends on), built once per snapshot."""
    found: Prompt | None = _used(shot.prompts, signature)
    if found is not None:
        return found
    built = build()
    _keep(shot.prompts, signature, built, MAX_PROMPTS)
    return built


def _used(entries: OrderedDict[Any, Any], key: Hashable) -> Any | None:
    with _lock:
        found = entries.get(key)
        if found is not None:
            entries.move_to_end(key)
        return found


def _keep(entries: OrderedDict[Any, Any], key: Hashable, value: Any, bound: int) -> None:
    """Add ``value``; past ``bound`` the least recently used entry goes, not every entry."""
    with _lock:
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > bound:
            entries.popitem(last=False)


def clear() -> None:
    """Forget every cached snapshot (tests, benchmarks)."""
    with _lock:
        _snapshots.clear()
