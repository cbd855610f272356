"""Who is looking at a page: the local learner, the person of the session cookie, or nobody."""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session

from server.people.identity import LOCAL_PERSON, Person
from server.people.sessions import COOKIE_NAME, person_for_session


def viewer(request: Request, session: Session) -> Person | None:
    if request.app.state.settings.mode == "local":
        return LOCAL_PERSON
    cookie = request.cookies.get(COOKIE_NAME)
    return person_for_session(session, cookie) if cookie else None


def can_review(person: Person | None) -> bool:
    return person is not None and person.has_role("reviewer")
