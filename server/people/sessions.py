"""Page sessions: a random cookie value whose digest is kept in the store.

Every worker reads the same table, so a session started on one is valid on all, and a
revoked account's sessions end everywhere at once.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from server.models import User, UserSession, utcnow
from server.people.accounts import NAME_PATTERN, active_account
from server.people.identity import Person, hash_token

COOKIE_NAME = "readingroom_session"


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def verify_login(session: Session, name: str, token: str) -> User | None:
    """The active account ``name`` when ``token`` is its token (compared in constant time)."""
    user = active_account(session, name) if NAME_PATTERN.match(name) else None
    if user is None or user.token_hash is None:
        hmac.compare_digest(hash_token(token), hash_token(""))  # same work either way
        return None
    return user if hmac.compare_digest(user.token_hash, hash_token(token)) else None


def start_session(session: Session, user: User, lifetime: timedelta) -> str:
    """A new session for ``user``; returns the cookie value (only its digest is stored)."""
    value = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(
        delete(UserSession).where(
            col(UserSession.user_name) == user.name, col(UserSession.expires_at) < now
        )
    )
    session.add(
        UserSession(
            token_hash=hash_token(value), user_name=user.name, created_at=now,
            expires_at=now + lifetime,
        )
    )  # fmt: skip
    return value


def person_for_session(session: Session, value: str) -> Person | None:
    row = session.exec(
        select(UserSession).where(col(UserSession.token_hash) == hash_token(value))
    ).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    user = active_account(session, row.user_name)
    return Person(user.name, user.role) if user is not None else None


def end_session(session: Session, value: str) -> None:
    session.execute(delete(UserSession).where(col(UserSession.token_hash) == hash_token(value)))
