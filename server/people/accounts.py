"""Accounts: add one (its token is shown once, only its digest kept), list, revoke."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from server.errors import Conflict, InvalidInput, NotFound
from server.models import User, UserSession, utcnow
from server.people.identity import LOCAL_NAME, ROLE_ORDER, Person, hash_token

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class NewAccount:
    name: str
    role: str
    token: str


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            f"'{name}' is not a valid account name: use 1-100 letters, digits, '.', '_' or '-'",
            [{"field": "name"}],
        )
    if name == LOCAL_NAME:
        message = f"'{LOCAL_NAME}' is the local learner of local mode"
        raise InvalidInput(message, [{"field": "name"}])
    return name


def check_role(role: str) -> str:
    if role not in ROLE_ORDER:
        raise InvalidInput(
            f"'{role}' is not a role: expected one of {', '.join(ROLE_ORDER)}",
            [{"field": "role"}],
        )
    return role


def add_account(session: Session, name: str, role: str) -> NewAccount:
    """Create an account and its bearer token; the token itself is returned once, never stored."""
    check_name(name)
    check_role(role)
    if session.exec(select(User).where(col(User.name) == name)).first() is not None:
        raise Conflict(f"an account named '{name}' exists already")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(User(name=name, role=role, token_hash=hash_token(token)))
    session.flush()
    return NewAccount(name, role, token)


def list_accounts(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.name))))


def revoke_account(session: Session, name: str, now: datetime | None = None) -> User:
    """Stop the account's token and end its page sessions at once (the row stays, as history)."""
    user = session.exec(select(User).where(col(User.name) == name)).first()
    if user is None:
        raise NotFound(f"no account is named '{name}'")
    if user.revoked_at is None:
        user.revoked_at = now or utcnow()
        session.add(user)
    session.execute(delete(UserSession).where(col(UserSession.user_name) == name))
    session.flush()
    return user


def person_for_token(session: Session, token: str) -> Person | None:
    """The person a bearer token names, or None (unknown token, or a revoked account)."""
    query = select(User).where(col(User.token_hash) == hash_token(token))
    user = session.exec(query).first()
    if user is None or user.revoked_at is not None:
        return None
    return Person(user.name, user.role)


def active_account(session: Session, name: str) -> User | None:
    user = session.exec(select(User).where(col(User.name) == name)).first()
    return user if user is not None and user.revoked_at is None else None
