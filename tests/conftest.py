"""Shared fixtures: an isolated, migrated database per test on SQLite or PostgreSQL.

The backend is chosen by ``READINGROOM_TEST_DATABASE``: ``sqlite`` (default) or a PostgreSQL
URL. On PostgreSQL a private database is created for the session, migrated once with the real
migrations, and every table is emptied before each test. On SQLite each test gets a copy of a
database file migrated once per session.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from server import migrations
from server.app import create_app
from server.config import Settings
from server.db import make_engine, normalise_url, unit_of_work
from server.ingest.service import ingest
from tests.chromium import FLAGS, chromium_path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VALID_CONTENT = FIXTURES / "content" / "valid"
BUNDLED_CONTENT = Path(__file__).resolve().parent.parent / "content"
# The witness job queue's tables (PostgreSQL), emptied with the models' before each test.
QUEUE_TABLES = ("procrastinate_events", "procrastinate_jobs", "procrastinate_workers")
LOOPBACK = ("127.0.0.1", 50000)  # what a local browser or CLI looks like to the server
TEST_HOST = "testserver"  # the Host TestClient sends: allowed like a configured name


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use a database are marked ``db``: the PostgreSQL run selects them."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def _backend() -> str:
    return os.environ.get("READINGROOM_TEST_DATABASE", "sqlite")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: a file to copy (SQLite) or a private database URL (PostgreSQL)."""
    backend = _backend()
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        migrations.upgrade(engine)
        engine.dispose()
        yield str(path)
        return
    admin_url = make_url(normalise_url(backend))
    name = f"readingroom_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(backend).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    """A URL of an empty, migrated database that belongs to this test alone."""
    if _backend() == "sqlite":
        path = tmp_path / "readingroom.db"
        shutil.copyfile(database_template, path)
        return f"sqlite:///{path}"
    engine = make_engine(database_template)
    names = [t.name for t in SQLModel.metadata.sorted_tables] + list(QUEUE_TABLES)
    tables = ", ".join(f'"{name}"' for name in names)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return database_template


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with unit_of_work(engine) as session:
        yield session


def make_settings(database_url: str, content: Path | None, **extra: object) -> Settings:
    return Settings(
        database_url=database_url,
        content_dir=content or VALID_CONTENT,
        ingest_on_start=content is not None,
        **{  # type: ignore[arg-type]
            "check_witnesses_on_start": False,
            "serve_job_workers": 0,  # on PostgreSQL a test app takes no witness jobs
            "allowed_hosts": TEST_HOST,
            **extra,
        },
    )


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """The app over the small fixture content tree."""
    app = create_app(make_settings(database_url, VALID_CONTENT))
    with TestClient(app, client=LOOPBACK) as test_client:
        yield test_client


@pytest.fixture
def bundled_client(database_url: str) -> Iterator[TestClient]:
    """The app over the bundled content/ tree."""
    app = create_app(make_settings(database_url, BUNDLED_CONTENT))
    with TestClient(app, client=LOOPBACK) as test_client:
        yield test_client


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A private, editable copy of the fixture content tree."""
    target = tmp_path / "content"
    shutil.copytree(VALID_CONTENT, target)
    return target


OLD_CLAIM = "claim:demo-context/alpha/scaling-claim"
NEW_CLAIM = "claim:demo-context/alpha/scaling-claim-v2"


def rename_claim(engine: Engine, content: Path) -> None:
    """In a copy of the fixture tree: rename OLD_CLAIM to NEW_CLAIM (an alias), and ingest."""
    shutil.copyfile(FIXTURES / "content/cases/renamed-claim.md", content / "demo-context/alpha.md")
    with unit_of_work(engine) as session:
        ingest(session, content)


def remove_claim(engine: Engine, content: Path, reason: str | None = None) -> None:
    """Then remove NEW_CLAIM (with a tombstone giving ``reason``, when given), and ingest."""
    shutil.copyfile(FIXTURES / "content/cases/no-claims.md", content / "demo-context/alpha.md")
    if reason is not None:
        (content / "tombstones.yaml").write_text(f"- key: {NEW_CLAIM}\n  reason: {reason}\n")
    with unit_of_work(engine) as session:
        ingest(session, content)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium under Playwright, one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield launched
        launched.close()
