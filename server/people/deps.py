"""Request dependencies: the person a request acts for, and role requirements.

Local mode: every request acts for the one local learner (the server binds loopback).
Team mode: a bearer token (``Authorization: Bearer ...``) names an account; no token or an
unknown one answers 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import col, select

from server.deps import SessionDep, SettingsDep
from server.errors import Forbidden, NotAuthenticated
from server.models import User
from server.people.identity import LOCAL_PERSON, Person, hash_token


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def current_person(request: Request, session: SessionDep, settings: SettingsDep) -> Person:
    if settings.mode == "local":
        return LOCAL_PERSON
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("this request needs a bearer token (team mode)")
    user = session.exec(select(User).where(col(User.token_hash) == hash_token(token))).first()
    if user is None:
        raise NotAuthenticated("the bearer token is not valid")
    return Person(user.name, user.role)


CurrentPerson = Annotated[Person, Depends(current_person)]


def require_role(role: str) -> Callable[[Person], Person]:
    """A dependency that lets through ``role`` and the roles above it, 403 otherwise."""

    def check(person: CurrentPerson) -> Person:
        if not person.has_role(role):
            raise Forbidden(f"this needs the {role} role; {person.name} is a {person.role}")
        return person

    return check


Reviewer = Annotated[Person, Depends(require_role("reviewer"))]
Editor = Annotated[Person, Depends(require_role("editor"))]
Admin = Annotated[Person, Depends(require_role("admin"))]
