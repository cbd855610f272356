"""``/api/health`` answers from a snapshot: no request thread, no database connection of its own."""

from __future__ import annotations

import inspect
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import create_engine

from server import health as health_module
from server.health import HealthMonitor


def test_health_is_async_and_takes_no_database_connection(client: TestClient) -> None:
    assert inspect.iscoroutinefunction(health_module.health)  # never waits for a pool thread
    engine = client.app.state.engine  # type: ignore[attr-defined]
    checkouts: list[str] = []

    def on_checkout(*_: object) -> None:
        checkouts.append(threading.current_thread().name)

    event.listen(engine, "checkout", on_checkout)
    try:
        for _ in range(20):
            answer = client.get("/api/health")
            assert answer.status_code == 200 and answer.json()["status"] == "ok"
    finally:
        event.remove(engine, "checkout", on_checkout)
    assert set(checkouts) <= {"health"}  # only the monitor's own thread asks the database


def test_health_sees_a_revision_bump_at_once(client: TestClient) -> None:
    from server.db import unit_of_work
    from server.store import bump_revision

    before = client.get("/api/health").json()["revision"]
    with unit_of_work(client.app.state.engine) as session:  # type: ignore[attr-defined]
        bump_revision(session)
    assert client.get("/api/health").json()["revision"] == before + 1


def test_an_unreachable_database_answers_503(client: TestClient) -> None:
    monitor: HealthMonitor = client.app.state.health  # type: ignore[attr-defined]
    broken = create_engine("sqlite:////nonexistent-directory/x.db")
    working, monitor.engine = monitor.engine, broken
    try:
        monitor.refresh()
        answer = client.get("/api/health")
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "unhealthy" and "did not answer" in error["message"]
    finally:
        monitor.engine = working
        broken.dispose()
    monitor.refresh()
    assert client.get("/api/health").status_code == 200


def test_a_stale_snapshot_answers_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_module, "STALE_AFTER_S", -1.0)
    answer = client.get("/api/health")
    assert answer.status_code == 503
    assert "has not answered for" in answer.json()["error"]["message"]


def test_the_monitor_stops_with_the_app(database_url: str) -> None:
    from server.app import create_app
    from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

    app = create_app(make_settings(database_url, VALID_CONTENT))
    with TestClient(app, client=LOOPBACK) as test_client:
        assert test_client.get("/api/health").status_code == 200
        thread = app.state.health._thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()
