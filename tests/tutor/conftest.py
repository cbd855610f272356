"""Stores for the prompt tests: the bundled content or the fixture tree, plus a small app
that serves the prompt routes with the real error handlers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from server.app import install_error_handlers
from server.config import Settings
from server.db import unit_of_work
from server.ingest.service import ingest
from server.models import Witness, WitnessRun
from server.objects.routes import router as objects_router
from server.pagecache import PageCache
from server.tutor.routes import router as prompts_router
from server.tutor.service import learner_for, prompt_for_key
from tests.conftest import BUNDLED_CONTENT, VALID_CONTENT

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "fixtures"
NF = "concept:generative-models/normalizing-flows"
KEY_IN_TEXT = re.compile(
    r"\b(?:concept|equation|witness|source|claim|misconception|demo):[a-z0-9]+(?:[-/][a-z0-9]+)*"
)


def ingested(engine: Engine, root: Path) -> Engine:
    with unit_of_work(engine) as session:
        ingest(session, root)
    return engine


@pytest.fixture
def bundled(engine: Engine) -> Engine:
    """The bundled content/ tree, ingested."""
    return ingested(engine, BUNDLED_CONTENT)


@pytest.fixture
def fixture_tree(engine: Engine) -> Engine:
    """The small fixture tree (tests/fixtures/content/valid), ingested."""
    return ingested(engine, VALID_CONTENT)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, ingest_on_start=False, allowed_hosts="testserver")


def build(engine: Engine, settings: Settings, key: str, **options: Any) -> Any:
    """The rendered prompt, built in a read session as the API builds it."""
    options.setdefault("learner", learner_for(settings))
    with unit_of_work(engine, write=False) as session:
        return prompt_for_key(session, settings, key, **options)


def prompt_app(engine: Engine, settings: Settings) -> FastAPI:
    """The prompt routes, then the objects routes, with the service's error handlers."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(prompts_router)
    app.include_router(objects_router)
    app.state.engine = engine
    app.state.settings = settings
    app.state.pages = PageCache(engine, poll_s=0)
    return app


@pytest.fixture
def api(bundled: Engine, settings: Settings) -> Iterator[TestClient]:
    with TestClient(prompt_app(bundled, settings)) as client:
        yield client


def record_run(
    engine: Engine,
    witness_key: str,
    *,
    status: str = "passed",
    current: bool = True,
    when: datetime = datetime(2026, 5, 8, 10, 4, tzinfo=UTC),
) -> None:
    """Record a run of ``witness_key``: current (its cache key matches) or stale."""
    from server.witnesses.cache import current_cache_key

    with unit_of_work(engine) as session:
        witness = session.exec(select(Witness).where(Witness.key == witness_key)).one()
        session.add(
            WitnessRun(
                witness_key=witness_key,
                cache_key=current_cache_key(witness) if current else "0" * 64,
                status=status,
                exit_code=0 if status == "passed" else 1,
                environment={"python": "CPython 3.11.9", "numpy": "2.1.3"},
                created_at=when,
            )
        )


def cited_keys(text: str) -> set[str]:
    return set(KEY_IN_TEXT.findall(text))
