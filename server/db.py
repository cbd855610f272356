"""Engine creation, SQLite pragmas, PostgreSQL round trips and the unit of work.

Services never commit: ``unit_of_work`` (and the request session dependency built on it)
commits when the block succeeds and rolls back when it raises.

On PostgreSQL every round trip counts (a read route makes a few queries): a read-only unit of
work runs its statements in autocommit, which saves the ``BEGIN`` and ``ROLLBACK`` around
them and reads what it read before (under READ COMMITTED each statement takes its own
snapshot either way); and a pooled connection is pinged only when it has sat idle for
``PING_AFTER_IDLE_S``, not on every checkout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "readingroom_write"
POOL_TIMEOUT_S = 10  # beyond it the request answers 503 (server.app), never hangs
# A connection used this recently is taken as alive; one idle longer (where a restarted or
# timed-out server leaves it stale) is pinged before use, and replaced if the ping fails.
PING_AFTER_IDLE_S = 10.0
_IDLE_SINCE = "readingroom_idle_since"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def make_engine(url: str, connections: int | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and immediate write transactions.

    ``connections`` sizes the pool to the concurrency the caller admits (the server passes
    its request limit plus a reserve), so an admitted request never waits for a connection.
    """
    url = normalise_url(url)
    pool: dict[str, Any] = {}
    if connections is not None:
        pool = {"pool_size": connections, "max_overflow": 0, "pool_timeout": POOL_TIMEOUT_S}
    if not is_sqlite(url):
        pool = pool or {"pool_size": 10, "max_overflow": 10}
        engine = create_engine(url, **pool)
        _ping_idle_connections(engine)
        return engine
    parsed = make_url(url)
    in_memory = parsed.database in (None, "", ":memory:")
    if not in_memory and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **({} if in_memory else pool),
    )
    _configure_sqlite(engine, in_memory=in_memory)
    return engine


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, open transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives a kill -9 and a power cut alike.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so two writers never deadlock on upgrade.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # just connected, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("a pooled connection did not answer its ping") from error


_READER = "_readingroom_reader"  # the engine's autocommit twin, made once (PostgreSQL)


def reader(engine: Engine) -> Engine:
    """The same engine for a read-only unit of work (autocommit on PostgreSQL, see above).

    The twin is made once per engine, so that what is cached per engine (the prompt
    evidence, say) is shared by every read."""
    if engine.dialect.name != "postgresql":
        return engine
    twin: Engine | None = engine.__dict__.get(_READER)
    if twin is None:
        twin = engine.execution_options(isolation_level="AUTOCOMMIT")
        engine.__dict__[_READER] = twin
    return twin


def writer(engine: Engine) -> Engine:
    """The same engine, opening write (``BEGIN IMMEDIATE`` on SQLite) transactions."""
    return engine.execution_options(**{WRITE_OPTION: True})


@contextmanager
def unit_of_work(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = Session(writer(engine) if write else reader(engine), expire_on_commit=False)
    try:
        yield session
        if write:
            session.commit()
        # a read-only session just closes: its objects stay loaded, detached
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
