"""Who may do what: reviews need a reviewer, running witness code an editor (team mode), or
this machine (local mode)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings
from tests.people.helpers import add_people, bearer, team_app

WITNESS = "witness:demo-context/alpha/double"
CLAIM = "claim:demo-context/alpha/scaling-claim"
ADHOC = {"code": "print(1 + 1)", "checks": [{"kind": "stdout", "expected": "2"}]}
REVIEW = {"verdict": "bounded", "summary": "Read the abstract."}
ROLES = ("learner", "reviewer", "editor", "admin")


def test_each_role_may_do_what_its_rank_allows(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, *((f"{role}-1", role) for role in ROLES))
        for role in ROLES:
            auth = bearer(tokens[f"{role}-1"])
            review = client.post(f"/api/claims/{CLAIM}/reviews", json=REVIEW, headers=auth)
            assert review.status_code == (403 if role == "learner" else 201), role
            if role in ("learner", "reviewer"):
                for url, body in (
                    ("/api/witnesses/run", ADHOC),
                    (f"/api/witnesses/{WITNESS}/runs", None),
                ):
                    refused = client.post(url, json=body, headers=auth)
                    assert refused.status_code == 403, (role, url)
                    assert "editor" in refused.json()["error"]["message"]
        for url in ("/api/witnesses/run", f"/api/witnesses/{WITNESS}/runs"):
            assert client.post(url, json=ADHOC).status_code == 401
            assert client.post(url, json=ADHOC, headers=bearer("forged")).status_code == 401
        # nothing ran: no run was recorded
        assert client.get(f"/api/witnesses/{WITNESS}").json()["runs"] == []


@pytest.mark.sandbox
def test_editors_run_code_in_team_mode(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=("203.0.113.9", 5000)) as client:  # not loopback: team mode
        tokens = add_people(app, ("ed", "editor"))
        result = client.post("/api/witnesses/run", json=ADHOC, headers=bearer(tokens["ed"]))
        assert result.status_code == 200 and result.json()["status"] == "passed"
        rerun = client.post(f"/api/witnesses/{WITNESS}/runs", headers=bearer(tokens["ed"]))
        assert rerun.status_code == 200 and len(rerun.json()["runs"]) == 1


def test_local_mode_runs_code_only_for_this_machine(database_url: str) -> None:
    app = create_app(make_settings(database_url, VALID_CONTENT))
    with TestClient(app, client=("203.0.113.9", 5000)) as remote:
        for url in ("/api/witnesses/run", f"/api/witnesses/{WITNESS}/runs"):
            refused = remote.post(url, json=ADHOC)
            assert refused.status_code == 403, url
            assert "this machine" in refused.json()["error"]["message"]
        assert remote.get(f"/api/witnesses/{WITNESS}").json()["runs"] == []
