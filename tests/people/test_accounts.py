"""Accounts from the command line; bearer tokens; revocation stops a token and its sessions."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import select

from server.cli import main
from server.db import make_engine, unit_of_work
from server.models import User
from server.people.identity import hash_token
from tests.conftest import LOOPBACK
from tests.people.helpers import add_people, bearer, team_app


def users(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["users", *args, "--database", database_url])
    return result.exit_code, result.output


def test_users_add_prints_a_token_once_and_stores_only_its_hash(database_url: str) -> None:
    code, out = users(database_url, "add", "rita", "--role", "reviewer")
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    assert len(token) >= 40
    engine = make_engine(database_url)
    with unit_of_work(engine, write=False) as session:
        rows = list(session.exec(select(User)))
    engine.dispose()
    assert [(r.name, r.role) for r in rows] == [("rita", "reviewer")]
    assert rows[0].token_hash == hash_token(token) and token not in str(rows[0].model_dump())
    code, out = users(database_url, "list")
    assert code == 0 and "rita" in out and "reviewer" in out and "1 account(s)" in out
    assert token not in out


def test_users_add_refuses_duplicates_bad_names_and_roles(database_url: str) -> None:
    assert users(database_url, "add", "ed", "--role", "editor")[0] == 0
    code, out = users(database_url, "add", "ed", "--role", "admin")
    assert code == 1 and "exists already" in out
    code, out = users(database_url, "add", "no spaces", "--role", "learner")
    assert code == 1 and "not a valid account name" in out
    code, out = users(database_url, "add", "local")
    assert code == 1 and "local learner" in out
    code, _ = users(database_url, "add", "x", "--role", "owner")
    assert code == 2
    code, out = users(database_url, "revoke", "nobody")
    assert code == 1 and "no account is named 'nobody'" in out


def test_bearer_tokens_name_the_person_and_revoked_tokens_stop_at_once(database_url: str) -> None:
    _, out = users(database_url, "add", "lea", "--role", "learner")
    token = out.strip().splitlines()[-1]
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        assert client.get("/api/me").status_code == 401
        assert client.get("/api/me", headers=bearer("not-a-token")).status_code == 401
        me = client.get("/api/me", headers=bearer(token)).json()
        assert me == {"name": "lea", "role": "learner", "local": False, "mode": "team"}
        code, out = users(database_url, "revoke", "lea")
        assert code == 0, out
        response = client.get("/api/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    code, out = users(database_url, "list")
    assert "lea" in out and out.splitlines()[1].split()[-1] != "-"


def test_local_mode_acts_for_the_local_learner(client: TestClient) -> None:
    me = client.get("/api/me").json()
    assert me == {"name": "local", "role": "admin", "local": True, "mode": "local"}


def test_only_admins_manage_accounts_through_the_api(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("ada", "admin"), ("ed", "editor"))
        new = {"name": "lea", "role": "learner"}
        assert client.post("/api/users", json=new).status_code == 401
        editor = bearer(tokens["ed"])
        assert client.get("/api/users", headers=editor).status_code == 403
        assert client.post("/api/users", json=new, headers=editor).status_code == 403
        assert client.post("/api/users/ada/revoke", headers=editor).status_code == 403
        admin = bearer(tokens["ada"])
        created = client.post("/api/users", json=new, headers=admin)
        assert created.status_code == 201
        lea = created.json()
        assert lea["name"] == "lea" and lea["role"] == "learner" and lea["revoked_at"] is None
        assert client.get("/api/me", headers=bearer(lea["token"])).json()["name"] == "lea"
        listed = client.get("/api/users", headers=admin).json()
        assert [u["name"] for u in listed["data"]] == ["ada", "ed", "lea"]
        assert "token" not in str(listed)
        assert client.post("/api/users", json=new, headers=admin).status_code == 409
        bad = client.post("/api/users", json={"name": "x", "role": "owner"}, headers=admin)
        assert bad.status_code == 422
        revoked = client.post("/api/users/lea/revoke", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert client.get("/api/me", headers=bearer(lea["token"])).status_code == 401
        assert client.post("/api/users/nobody/revoke", headers=admin).status_code == 404
