"""On PostgreSQL a read-only unit of work opens no transaction and a pooled connection is
pinged only after sitting idle: fewer round trips, with writes still all or nothing and a
dead connection still replaced before a request meets it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server import db
from server.db import is_sqlite, make_engine, unit_of_work
from server.store import current_revision


@pytest.fixture
def one_connection(database_url: str) -> Iterator[Engine]:
    """A PostgreSQL engine whose pool holds one connection, so every unit of work reuses it."""
    if is_sqlite(database_url):
        pytest.skip("round trips are PostgreSQL's")
    engine = make_engine(database_url, connections=1)
    yield engine
    engine.dispose()


def transaction_status(session: Session) -> Any:
    return session.connection().connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]


def backend_pid(engine: Engine) -> int:
    with unit_of_work(engine, write=False) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_read_opens_no_transaction_and_a_write_does(one_connection: Engine) -> None:
    from psycopg.pq import TransactionStatus

    with unit_of_work(one_connection, write=False) as session:
        current_revision(session)
        assert transaction_status(session) == TransactionStatus.IDLE
    with unit_of_work(one_connection) as session:
        current_revision(session)
        assert transaction_status(session) == TransactionStatus.INTRANS


def test_a_write_after_a_read_on_the_same_connection_is_still_all_or_nothing(
    one_connection: Engine,
) -> None:
    with unit_of_work(one_connection, write=False) as session:
        before = current_revision(session)
    with pytest.raises(RuntimeError), unit_of_work(one_connection) as session:
        session.execute(text("UPDATE store_revision SET revision = revision + 1"))
        raise RuntimeError("the request failed after writing")
    with unit_of_work(one_connection, write=False) as session:
        assert current_revision(session) == before


def count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_used_moments_ago_is_not_pinged(
    one_connection: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = count_pings(one_connection, monkeypatch)
    first = backend_pid(one_connection)
    assert [backend_pid(one_connection) for _ in range(3)] == [first] * 3
    assert pings == []


def test_an_idle_connection_that_died_is_replaced_before_use(
    one_connection: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = count_pings(one_connection, monkeypatch)
    stale = backend_pid(one_connection)
    admin = make_engine(one_connection.url.render_as_string(hide_password=False))
    with admin.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": stale})
    admin.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every connection counts as idle
    fresh = backend_pid(one_connection)  # no error: the ping failed, the pool reconnected
    assert fresh != stale
    assert pings
