"""Request dependencies: the person a request acts for, and role requirements.

Local mode: every request acts for the one local learner (the server binds loopback).
Team mode: a bearer token (``Authorization: Bearer ...``) or a page session cookie names an
account; no credentials, unknown ones or a revoked account answer 401.

Writes authenticated by something the browser sends on its own (the session cookie, or in
local mode merely being on this machine) must come from this site: a cross-site ``Origin`` or
``Sec-Fetch-Site`` answers 403, so another site's page cannot write on a person's behalf.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.db import unit_of_work
from server.deps import READ_METHODS, SettingsDep
from server.errors import Forbidden, NotAuthenticated
from server.people.accounts import person_for_token
from server.people.identity import LOCAL_PERSON, Person
from server.people.sessions import COOKIE_NAME, person_for_session

SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def cross_site_reason(request: Request, *, require_header: bool) -> str | None:
    """Why this write looks cross-site, or None when it comes from this site."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in SAME_SITE_FETCHES:
        return f"Sec-Fetch-Site is '{fetch_site}'"
    origin = request.headers.get("origin")
    if origin is not None:
        # Host and port must match; the scheme may differ behind a proxy that ends https.
        scheme, _, netloc = origin.rstrip("/").partition("://")
        own = request.url.netloc.lower()
        if scheme.lower() not in ("http", "https") or netloc.lower() != own:
            return f"Origin '{origin}' is not this site ({own})"
    if require_header and fetch_site is None and origin is None:
        return "the request names neither its Origin nor its Sec-Fetch-Site"
    return None


def refuse_cross_site(request: Request, *, require_header: bool) -> None:
    if request.method in READ_METHODS:
        return
    reason = cross_site_reason(request, require_header=require_header)
    if reason is not None:
        headers = [{"header": "Origin"}, {"header": "Sec-Fetch-Site"}]
        raise Forbidden(f"cross-site write refused: {reason}", headers)


def _read_person(
    request: Request, find: Callable[[Session, str], Person | None], secret: str
) -> Person | None:
    with unit_of_work(request.app.state.engine, write=False) as session:
        return find(session, secret)


async def current_person(request: Request, settings: SettingsDep) -> Person:
    # Its own short read, off the event loop: the request's session may be a write (the SQLite
    # write lock), and a route that runs code must not hold that lock while the code runs.
    # Local mode reads nothing, so it costs no thread hop at all.
    if settings.mode == "local":
        refuse_cross_site(request, require_header=False)
        return LOCAL_PERSON
    token = bearer_token(request)
    if token is not None:
        person = await run_in_threadpool(_read_person, request, person_for_token, token)
        if person is None:
            raise NotAuthenticated("the bearer token is not valid (unknown, or revoked)")
        return person
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        person = await run_in_threadpool(_read_person, request, person_for_session, cookie)
        if person is None:
            raise NotAuthenticated("the session has ended: log in again at /login")
        refuse_cross_site(request, require_header=True)
        return person
    raise NotAuthenticated("this request needs a bearer token or a session (team mode)")


CurrentPerson = Annotated[Person, Depends(current_person)]


def require_role(role: str) -> Callable[[Person], Awaitable[Person]]:
    """A dependency that lets through ``role`` and the roles above it, 403 otherwise."""

    async def check(person: CurrentPerson) -> Person:
        if not person.has_role(role):
            raise Forbidden(f"this needs the {role} role; {person.name} is a {person.role}")
        return person

    return check


Reviewer = Annotated[Person, Depends(require_role("reviewer"))]
Editor = Annotated[Person, Depends(require_role("editor"))]
Admin = Annotated[Person, Depends(require_role("admin"))]


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def code_runner(request: Request, settings: SettingsDep, person: CurrentPerson) -> Person:
    """Who may make the server run code: editors and admins in team mode; in local mode only a
    request from this machine (local mode has no login, so the machine is the credential)."""
    if settings.mode == "local":
        client = request.client.host if request.client else ""
        if not is_loopback(client):
            raise Forbidden("running witness code is accepted only from this machine in local mode")
        return person
    if not person.has_role("editor"):
        raise Forbidden(
            f"running witness code needs the editor role; {person.name} is a {person.role}"
        )
    return person


CodeRunner = Annotated[Person, Depends(code_runner)]
