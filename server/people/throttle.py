"""Slow down repeated failed logins, per account name and per client, across workers.

Each scope (``name:alice``, ``client:203.0.113.9``) counts its failures in the store; after
``FREE_FAILURES`` each further failure makes the next attempt wait 1 s, then 2 s, 4 s, ...
up to ``MAX_DELAY_S``.
Failures older than ``FORGET_AFTER`` are forgotten.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from server.models import LoginThrottle, utcnow
from server.people.accounts import NAME_PATTERN
from server.people.sessions import as_utc

FREE_FAILURES = 3
MAX_DELAY_S = 900
FORGET_AFTER = timedelta(hours=1)


def scopes(name: str, client: str) -> list[str]:
    """The scopes of a login attempt; a name that no account could have is kept as a digest."""
    name = name.strip().lower()
    if not NAME_PATTERN.match(name):
        name = "~" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:32]
    return [f"name:{name}", f"client:{client[:150]}"]


def delay_after(failures: int) -> float:
    """Seconds a scope must wait after its ``failures``-th failure."""
    if failures <= FREE_FAILURES:
        return 0.0
    return float(min(2 ** (failures - FREE_FAILURES - 1), MAX_DELAY_S))


def retry_after(session: Session, keys: list[str], now: datetime | None = None) -> int:
    """Whole seconds to wait before the next attempt may be judged (0: go ahead)."""
    now = now or utcnow()
    rows = list(session.exec(select(LoginThrottle).where(col(LoginThrottle.scope).in_(keys))))
    if not rows:
        return 0
    wait = max((as_utc(r.blocked_until) - now).total_seconds() for r in rows)
    return max(0, math.ceil(wait))


def record_failure(session: Session, keys: list[str], now: datetime | None = None) -> None:
    now = now or utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for key in keys:
        stale = col(LoginThrottle.updated_at) < now - FORGET_AFTER
        session.execute(
            update(LoginThrottle).where(col(LoginThrottle.scope) == key, stale).values(failures=0)
        )
        statement = insert(LoginThrottle).values(
            scope=key, failures=1, blocked_until=now, updated_at=now
        )
        failures = session.execute(
            statement.on_conflict_do_update(
                index_elements=["scope"],
                set_={"failures": col(LoginThrottle.failures) + 1, "updated_at": now},
            ).returning(col(LoginThrottle.failures))
        ).scalar_one()
        session.execute(
            update(LoginThrottle)
            .where(col(LoginThrottle.scope) == key)
            .values(blocked_until=now + timedelta(seconds=delay_after(int(failures))))
        )


def record_success(session: Session, name: str) -> None:
    """A correct login clears its name's failures (the client's stay: it may be guessing)."""
    session.execute(delete(LoginThrottle).where(col(LoginThrottle.scope) == scopes(name, "")[0]))
