"""Engine creation, SQLite pragmas and the unit of work.

Services never commit: ``unit_of_work`` (and the request session dependency built on it)
commits when the block succeeds and rolls back when it raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "readingroom_write"
POOL_TIMEOUT_S = 10  # beyond it the request answers 503 (server.app), never hangs


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
        return create_engine(url, pool_pre_ping=True, **pool)
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


def writer(engine: Engine) -> Engine:
    """The same engine, opening write (``BEGIN IMMEDIATE`` on SQLite) transactions."""
    return engine.execution_options(**{WRITE_OPTION: True})


@contextmanager
def unit_of_work(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = Session(writer(engine) if write else engine, expire_on_commit=False)
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
