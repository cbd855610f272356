"""Request dependencies: the settings and a session per request (commit or roll back)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.config import Settings
from server.db import unit_of_work

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


async def get_settings(request: Request) -> Settings:
    # async: reading app state needs no thread (a sync dependency costs a thread hop)
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """Reads never write (on PostgreSQL they run in autocommit); writes take the write lock
    first and commit at the end."""
    with unit_of_work(request.app.state.engine, write=request.method not in READ_METHODS) as s:
        yield s


# scope="function": commit before the response is sent, so a 200 means the write is durable
# (and a failed commit answers an error, never a success that was not kept).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _in_read_session(request: Request, work: Callable[[Session], T]) -> T:
    with unit_of_work(request.app.state.engine, write=False) as session:
        return work(session)


async def read(request: Request, work: Callable[[Session], T]) -> T:
    """``work(session)`` in a read session, in one thread hop.

    A sync route with ``SessionDep`` costs several hops (the session's setup and teardown, the
    route, the answer's validation), each a thread wake-up that a loaded machine makes slow.
    """
    return await run_in_threadpool(_in_read_session, request, work)
