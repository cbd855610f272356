"""Team-mode apps and accounts for the people and claims tests."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from server.app import create_app
from server.db import unit_of_work
from server.people.accounts import add_account
from tests.conftest import VALID_CONTENT, make_settings


def team_app(database_url: str, content: Path | None = VALID_CONTENT, **extra: object) -> FastAPI:
    return create_app(make_settings(database_url, content, mode="team", **extra))


def add_people(app: FastAPI, *people: tuple[str, str]) -> dict[str, str]:
    """Accounts (name, role) in the app's store; returns each name's bearer token."""
    tokens = {}
    with unit_of_work(app.state.engine) as session:
        for name, role in people:
            tokens[name] = add_account(session, name, role).token
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
