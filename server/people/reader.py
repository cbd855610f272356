"""Who reads a page or a graph: the local learner, the account a bearer token or session
cookie names, or nobody.

Reading needs no credentials, so a missing, unknown or ended one reads as nobody; only what is
personal (marks, notes, the review form) depends on the reader. Writes ask ``current_person``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.db import unit_of_work
from server.people.accounts import person_for_token
from server.people.deps import bearer_token
from server.people.identity import LOCAL_PERSON, Person
from server.people.sessions import COOKIE_NAME, person_for_session


def reader(request: Request, session: Session) -> Person | None:
    if request.app.state.settings.mode == "local":
        return LOCAL_PERSON
    token = bearer_token(request)
    if token is not None:
        return person_for_token(session, token)
    cookie = request.cookies.get(COOKIE_NAME)
    return person_for_session(session, cookie) if cookie else None


def _read_reader(request: Request) -> Person | None:
    with unit_of_work(request.app.state.engine, write=False) as session:
        return reader(request, session)


async def reader_name(request: Request) -> str | None:
    """The reader's name, for an async route: its own short read off the event loop (local
    mode reads nothing)."""
    if request.app.state.settings.mode == "local":
        return LOCAL_PERSON.name
    person = await run_in_threadpool(_read_reader, request)
    return person.name if person is not None else None


ReaderName = Annotated[str | None, Depends(reader_name)]


def can_review(person: Person | None) -> bool:
    return person is not None and person.has_role("reviewer")
