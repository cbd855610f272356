"""The notes API: versions, conflicts, keys that moved or went, limits, lists, safe HTML."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from server.db import unit_of_work
from server.models import Note
from server.notes.service import find_note
from tests.conftest import NEW_CLAIM, OLD_CLAIM, remove_claim, rename_claim
from tests.notes.conftest import ALPHA, BETA, EQUATION, error_of, url

FIELDS = {"key", "kind", "text", "text_html", "next_action", "checklist", "version",
          "created_at", "updated_at", "object", "followed_alias"}  # fmt: skip


def engine_of(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined,no-any-return]


def stored(client: TestClient, key: str, learner: str = "local") -> Note | None:
    with unit_of_work(engine_of(client), write=False) as session:
        return find_note(session, learner, key)


def test_create_read_update_delete(client: TestClient) -> None:
    body = {"text": "Scale *then* shift.", "next_action": "Redo the 1-D case.",
            "checklist": {"Source ids to inspect": True, "One demo state": False}}  # fmt: skip
    created = client.put(url(ALPHA), json=body)
    assert created.status_code == 200, created.text
    note = created.json()
    assert set(note) == FIELDS
    assert (note["key"], note["kind"], note["version"]) == (ALPHA, "concept", 1)
    assert note["checklist"] == body["checklist"] and note["next_action"] == body["next_action"]
    assert note["text_html"] == "<p>Scale <em>then</em> shift.</p>\n"
    assert note["object"] == {"status": "active", "current_key": ALPHA, "reason": None}
    assert note["created_at"] == note["updated_at"] and note["followed_alias"] is None
    assert client.get(url(ALPHA)).json() == note

    updated = client.put(url(ALPHA), json={"text": "Shift, then scale?", "version": 1}).json()
    assert updated["version"] == 2 and updated["text"] == "Shift, then scale?"
    assert updated["checklist"] == {} and updated["next_action"] == ""  # a PUT replaces
    assert updated["created_at"] == note["created_at"]
    assert updated["updated_at"] > note["updated_at"]

    error_of(client.delete(url(ALPHA), params={"version": 1}), 409, "conflict")
    assert client.delete(url(ALPHA), params={"version": 2}).status_code == 204
    error_of(client.get(url(ALPHA)), 404, "not_found")
    assert stored(client, ALPHA) is None


def test_a_stale_or_missing_version_is_409_with_the_current_note_and_overwrites_nothing(
    client: TestClient,
) -> None:
    client.put(url(ALPHA), json={"text": "first"})
    second = client.put(url(ALPHA), json={"text": "second", "version": 1}).json()
    attempts: list[dict[str, object]] = [
        {"text": "stale", "version": 1},
        {"text": "no version"},
        {"text": "null version", "version": None},
        {"text": "future", "version": 9},
    ]
    for attempt in attempts:
        error = error_of(client.put(url(ALPHA), json=attempt), 409, "conflict")
        assert error["details"] == [second], attempt
    note = stored(client, ALPHA)
    assert note is not None and (note.text, note.version) == ("second", 2)
    error = error_of(client.delete(url(ALPHA), params={"version": 1}), 409, "conflict")
    assert error["details"] == [second]
    assert stored(client, ALPHA) is not None


def test_updating_a_note_that_does_not_exist_is_409_and_creates_nothing(client: TestClient) -> None:
    error = error_of(client.put(url(ALPHA), json={"text": "x", "version": 1}), 409, "conflict")
    assert error["details"] == []
    assert stored(client, ALPHA) is None


def test_unknown_invalid_and_missing_keys(client: TestClient) -> None:
    error_of(client.put(url("concept:demo-context/nope"), json={"text": "x"}), 404, "not_found")
    error_of(client.get(url("concept:demo-context/nope")), 404, "not_found")
    error_of(client.put(url("nonsense"), json={"text": "x"}), 422, "invalid_input")
    error_of(client.put(url("concept:a/b/c"), json={"text": "x"}), 422, "invalid_input")
    error_of(client.get(url(BETA)), 404, "not_found")  # an object without a note
    error_of(client.delete(url(BETA), params={"version": 1}), 404, "not_found")
    error_of(client.delete(url(BETA)), 422, "invalid_input")  # the version is required


def test_an_alias_is_followed_and_a_tombstone_is_gone(
    client: TestClient, content_copy: Path
) -> None:
    engine = engine_of(client)
    assert client.put(url(OLD_CLAIM), json={"text": "before the rename"}).status_code == 200
    rename_claim(engine, content_copy)
    # the note written before the rename stays under its key, reported as renamed
    kept = client.get(url(OLD_CLAIM)).json()
    assert kept["text"] == "before the rename"
    assert kept["object"] == {"status": "renamed", "current_key": NEW_CLAIM, "reason": None}
    # a write on the old key lands on the new key and says so
    moved = client.put(url(OLD_CLAIM), json={"text": "after the rename"})
    assert moved.status_code == 200
    assert moved.json()["key"] == NEW_CLAIM and moved.json()["followed_alias"] == OLD_CLAIM
    assert client.get(url(NEW_CLAIM)).json()["text"] == "after the rename"
    again = client.put(url(OLD_CLAIM), json={"text": "second", "version": 1}).json()
    assert (again["key"], again["version"]) == (NEW_CLAIM, 2)
    old = stored(client, OLD_CLAIM)
    assert old is not None and old.text == "before the rename"

    remove_claim(engine, content_copy, "folded into the page text")
    error = error_of(client.put(url(NEW_CLAIM), json={"text": "x", "version": 2}), 410, "gone")
    assert error["details"] == [{"key": NEW_CLAIM, "reason": "folded into the page text"}]
    error_of(client.put(url(OLD_CLAIM), json={"text": "x"}), 410, "gone")
    # reading still works: both notes are there, flagged with the tombstone's reason
    for key, text in ((NEW_CLAIM, "second"), (OLD_CLAIM, "before the rename")):
        note = client.get(url(key)).json()
        assert note["text"] == text
        assert note["object"] == {"status": "removed", "current_key": None,
                                  "reason": "folded into the page text"}  # fmt: skip
    orphans = client.get("/api/notes", params={"orphaned": "true"}).json()
    assert [n["key"] for n in orphans["data"]] == [OLD_CLAIM, NEW_CLAIM]
    # a learner may still delete a note on a removed object, by its own key and version
    assert client.delete(url(NEW_CLAIM), params={"version": 2}).status_code == 204


def test_limits_name_the_field(client: TestClient) -> None:
    cases = {
        "text": {"text": "x" * 20_001},
        "next_action": {"next_action": "x" * 1_001},
        "checklist": {"checklist": {f"item {i}": False for i in range(101)}},
    }
    for field, body in cases.items():
        error = error_of(client.put(url(ALPHA), json=body), 422, "invalid_input")
        assert any(d["loc"][:2] == ["body", field] for d in error["details"]), error
    error = error_of(client.put(url(ALPHA), json={"checklist": {"x" * 501: True}}), 422,
                     "invalid_input")  # fmt: skip
    assert error["details"][0]["loc"][:2] == ["body", "checklist"]
    error_of(client.put(url(ALPHA), json={"checklist": {"a": "maybe"}}), 422, "invalid_input")
    error_of(client.put(url(ALPHA), json={"text": "x", "owner": "bob"}), 422, "invalid_input")
    huge = client.put(url(ALPHA), content=b'{"text": "' + b"x" * (1 << 20) + b'"}',
                      headers={"content-type": "application/json"})  # fmt: skip
    error_of(huge, 413, "payload_too_large")
    assert client.put(url(ALPHA), json={"text": "x" * 20_000}).status_code == 200
    assert stored(client, ALPHA) is not None


def test_hostile_text_renders_inert_and_keys_become_site_links(client: TestClient) -> None:
    text = (
        "<script>alert(1)</script> [a](javascript:alert(1)) [b](&#106;avascript:alert(1)) "
        "![x](http://example.org/track.png) [d](data:text/html;base64,PHNjcmlwdD4=) "
        "&lt;img src=x onerror=alert(1)&gt; [c](concept:demo-context/beta) "
        "[q](claim:demo-context/alpha/scaling-claim) [w](https://arxiv.org/abs/1505.05770) $x^2$"
    )
    html = client.put(url(ALPHA), json={"text": text}).json()["text_html"]
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert "javascript:" not in lowered.replace("[a](javascript:", "").replace(
        "[b](javascript:", ""
    )
    assert 'href="javascript' not in lowered and 'href="data' not in lowered
    assert "example.org" not in html  # no image fetched, and no link to it
    assert 'href="/concepts/demo-context/beta"' in html
    assert ('href="/concepts/demo-context/alpha#claim/concept-notebook/demo-context/alpha/'
            'scaling-claim"') in html  # fmt: skip
    assert 'href="https://arxiv.org/abs/1505.05770"' in html
    assert "<math" in html


def test_the_list_filters_paginates_and_counts(client: TestClient, content_copy: Path) -> None:
    for key in (ALPHA, EQUATION, OLD_CLAIM, BETA):
        assert client.put(url(key), json={"text": key}).status_code == 200
    listed = client.get("/api/notes").json()
    assert listed["count"] == 4 and listed["next"] is None
    assert [n["key"] for n in listed["data"]] == sorted([ALPHA, EQUATION, OLD_CLAIM, BETA])
    on_alpha = client.get("/api/notes", params={"concept": ALPHA}).json()
    assert {n["key"] for n in on_alpha["data"]} == {ALPHA, EQUATION, OLD_CLAIM}
    assert client.get("/api/notes", params={"kind": "equation"}).json()["count"] == 1
    assert client.get("/api/notes", params={"orphaned": "false"}).json()["count"] == 4
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/notes", params=params).json()
        assert page["count"] == 4 and len(page["data"]) <= 3
        seen += [n["key"] for n in page["data"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [n["key"] for n in listed["data"]]
    rename_claim(engine_of(client), content_copy)
    orphans = client.get("/api/notes", params={"orphaned": "true"}).json()
    assert orphans["count"] == 1
    assert orphans["data"][0]["object"] == {"status": "renamed", "current_key": NEW_CLAIM,
                                            "reason": None}  # fmt: skip
    error_of(client.get("/api/notes", params={"concept": EQUATION}), 422, "invalid_input")
    error_of(client.get("/api/notes", params={"kind": "note"}), 422, "invalid_input")
    error_of(client.get("/api/notes", params={"cursor": "%%%"}), 422, "invalid_input")
    error_of(client.get("/api/notes", params={"limit": 0}), 422, "invalid_input")


def test_the_list_filters_by_context_and_by_literal_text(client: TestClient) -> None:
    texts = {ALPHA: "Half the DENSITY", EQUATION: "a 50% drop", BETA: "under_score here"}
    for key, text in texts.items():
        assert client.put(url(key), json={"text": text, "next_action": "go"}).status_code == 200

    def keys(**params: str) -> list[str]:
        return [n["key"] for n in client.get("/api/notes", params=params).json()["data"]]

    assert keys(context="demo-context") == sorted(texts)
    assert keys(context="other-context") == []
    assert keys(text="density") == [ALPHA]  # case-insensitive
    assert keys(text="50%") == [EQUATION]
    assert keys(text="%") == [EQUATION]  # a wildcard character is matched literally
    assert keys(text="_") == [BETA]
    assert keys(text="scale") == [EQUATION]  # the key is searched too
    assert keys(text="go", kind="concept") == sorted([ALPHA, BETA])
    error_of(client.get("/api/notes", params={"context": "Bad Context!"}), 422, "invalid_input")
    error_of(client.get("/api/notes", params={"text": "x" * 201}), 422, "invalid_input")
