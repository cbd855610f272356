"""Learners are kept apart: another learner's note is 404, and prompts show only your own."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient

from server.cli import main
from tests.notes.conftest import ALPHA, Team, error_of, url


def test_another_learners_note_answers_404(team: Team) -> None:
    client = team.client
    mine = client.put(url(ALPHA), json={"text": "alice's"}, headers=team.as_("alice"))
    assert mine.status_code == 200, mine.text
    error_of(client.get(url(ALPHA), headers=team.as_("bob")), 404, "not_found")
    error_of(client.delete(url(ALPHA), params={"version": 1}, headers=team.as_("bob")), 404,
             "not_found")  # fmt: skip
    assert client.get("/api/notes", headers=team.as_("bob")).json()["count"] == 0
    # bob's note on the same object is his own, and alice's is untouched
    bobs = client.put(url(ALPHA), json={"text": "bob's"}, headers=team.as_("bob")).json()
    assert (bobs["text"], bobs["version"]) == ("bob's", 1)
    error = error_of(client.put(url(ALPHA), json={"text": "x"}, headers=team.as_("bob")), 409,
                     "conflict")  # fmt: skip
    assert [d["text"] for d in error["details"]] == ["bob's"]  # his own note, never alice's
    assert client.get(url(ALPHA), headers=team.as_("alice")).json()["text"] == "alice's"
    listed = client.get("/api/notes", headers=team.as_("alice")).json()
    assert [n["text"] for n in listed["data"]] == ["alice's"]


def test_team_mode_needs_a_token(team: Team) -> None:
    error_of(team.client.get("/api/notes"), 401, "not_authenticated")
    error_of(team.client.put(url(ALPHA), json={"text": "x"}), 401, "not_authenticated")
    bad = {"Authorization": "Bearer not-a-token"}
    error_of(team.client.get(url(ALPHA), headers=bad), 401, "not_authenticated")


def test_each_learner_sees_their_own_note_in_their_prompt(team: Team) -> None:
    client = team.client
    for name in ("alice", "bob"):
        body = {"text": f"NOTE OF {name}", "next_action": f"ACTION OF {name}"}
        assert client.put(url(ALPHA), json=body, headers=team.as_(name)).status_code == 200
    for name, other in (("alice", "bob"), ("bob", "alice")):
        for response in (
            client.get(f"/api/objects/{ALPHA}/prompt", headers=team.as_(name)),
            client.post(f"/api/objects/{ALPHA}/prompt", json={}, headers=team.as_(name)),
            client.post("/api/prompts", json={"key": ALPHA}, headers=team.as_(name)),
        ):
            assert response.status_code == 200, response.text
            assert f"NOTE OF {name}" in response.text and f"ACTION OF {name}" in response.text
            assert f"OF {other}" not in response.text
    error_of(client.get(f"/api/objects/{ALPHA}/prompt"), 401, "not_authenticated")


def test_a_note_write_changes_the_next_prompt(client: TestClient) -> None:
    prompt = f"/api/objects/{ALPHA}/prompt"
    assert "My own note" not in client.get(prompt).text
    client.put(url(ALPHA), json={"text": "First thought.", "next_action": "Read §2."})
    first = client.get(prompt).text
    assert "First thought." in first and "Read §2." in first
    assert client.get(prompt).text == first  # served again from the cache
    client.put(url(ALPHA), json={"text": "Second thought.", "version": 1})
    second = client.get(prompt).text
    assert "Second thought." in second and "First thought." not in second
    assert "Read §2." not in second  # the update cleared the next action
    client.delete(url(ALPHA), params={"version": 2})
    assert "Second thought." not in client.get(prompt).text


def test_the_prompt_command_shows_the_named_learners_note(team: Team, database_url: str) -> None:
    for name in ("alice", "bob"):
        team.client.put(url(ALPHA), json={"text": f"NOTE OF {name}"}, headers=team.as_(name))
    result = CliRunner().invoke(main, ["prompt", ALPHA, "--learner", "alice",
                                       "--database", database_url])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "NOTE OF alice" in result.stdout and "NOTE OF bob" not in result.stdout
    plain = CliRunner().invoke(main, ["prompt", ALPHA, "--database", database_url])
    assert "NOTE OF" not in plain.stdout  # the local learner has no note here
