"""Notes fixtures: the fixture content tree, and a team-mode app with two learners."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from server.app import create_app
from server.db import unit_of_work
from server.models import User
from server.people.identity import hash_token
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

ALPHA = "concept:demo-context/alpha"
BETA = "concept:demo-context/beta"
EQUATION = "equation:demo-context/alpha/scale"
TOKENS = {"alice": "alice-token-" + "a" * 32, "bob": "bob-token-" + "b" * 32}


def url(key: str) -> str:
    return f"/api/notes/{key}"


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


@dataclass
class Team:
    """A team-mode app: ``as_(name)`` gives headers that act for that account."""

    client: TestClient
    engine: Engine

    def as_(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture
def team(database_url: str) -> Iterator[Team]:
    app = create_app(make_settings(database_url, VALID_CONTENT, mode="team"))
    with TestClient(app, client=LOOPBACK) as client:
        engine: Engine = app.state.engine
        with unit_of_work(engine) as session:
            for name, token in TOKENS.items():
                session.add(User(name=name, role="learner", token_hash=hash_token(token)))
        yield Team(client, engine)
