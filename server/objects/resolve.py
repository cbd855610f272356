"""Resolve a key through the registry: active, alias (308 to the new key) or tombstone (410)."""

from __future__ import annotations

from sqlmodel import Session

from server.errors import Gone, Moved, NotFound
from server.keys import parse_key
from server.models import ObjectKey

MAX_ALIAS_HOPS = 16


def resolve_key(session: Session, key: str) -> str:
    """The key itself when active; raises Moved, Gone or NotFound otherwise."""
    parse_key(key)
    row = session.get(ObjectKey, key)
    if row is None:
        raise NotFound(f"no object has the key '{key}'")
    if row.status == "active":
        return key
    if row.status == "tombstone":
        raise Gone(f"'{key}' was removed: {row.reason}", [{"key": key, "reason": row.reason}])
    target = row.target or ""
    for _ in range(MAX_ALIAS_HOPS):  # an alias may point at a key that was renamed again
        next_row = session.get(ObjectKey, target)
        if next_row is None or next_row.status != "alias" or not next_row.target:
            break
        target = next_row.target
    raise Moved(key, target)
