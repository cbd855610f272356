"""The prompt routes: formats, options, redirects, tombstones and the one error shape."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from server.config import Settings
from server.db import unit_of_work
from server.ingest.service import ingest
from tests.conftest import FIXTURES, NEW_CLAIM, OLD_CLAIM, remove_claim, rename_claim
from tests.tutor.conftest import GOLDEN, NF, prompt_app

OLD, NEW = OLD_CLAIM, NEW_CLAIM


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def test_get_prompt_in_each_format(api: TestClient) -> None:
    text = api.get(f"/api/objects/{NF}/prompt")
    assert text.status_code == 200
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.text.startswith("I am working in Continuous Function's research reading room.")
    assert "\nVerified evidence (" in text.text
    compact = api.get(f"/api/objects/{NF}/prompt", params={"mode": "compact"})
    golden = (GOLDEN / "compact_normalizing_flows.txt").read_text(encoding="utf-8")
    assert compact.text + "\n" == golden
    markdown = api.get(f"/api/objects/{NF}/prompt", params={"format": "markdown"})
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "- **Object key:** `concept:generative-models/normalizing-flows`" in markdown.text
    body = api.get(f"/api/objects/{NF}/prompt", params={"format": "json"}).json()
    assert body["key"] == NF and body["mode"] == "grounded"
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][1] == {"role": "user", "content": text.text}
    assert body["evidence"][0]["line"] == "Source ids to inspect: rezende-2015-normalizing-flows"
    item = body["evidence"][0]["items"][0]
    assert item["key"] == "source:rezende-2015-normalizing-flows"
    assert item["status"] == "unverified" and item["record"]["arxiv"] == "1505.05770"


def test_question_parameter(api: TestClient) -> None:
    response = api.get(f"/api/objects/{NF}/prompt", params={"question": "Which term is which?"})
    assert "\nOpen question: Which term is which?\n" in response.text


def test_bad_options_answer_422(api: TestClient) -> None:
    error = error_of(
        api.get(f"/api/objects/{NF}/prompt", params={"mode": "long"}), 422, "invalid_input"
    )
    assert error["details"][0]["loc"] == ["query", "mode"]
    error_of(api.get(f"/api/objects/{NF}/prompt", params={"format": "pdf"}), 422, "invalid_input")
    error_of(
        api.get(f"/api/objects/{NF}/prompt", params={"question": "x" * 2001}), 422, "invalid_input"
    )
    error_of(api.get("/api/objects/nope:thing/prompt"), 422, "invalid_input")
    error_of(api.get("/api/objects/concept:generative-models/nope/prompt"), 404, "not_found")


def test_the_plain_object_route_still_answers(api: TestClient) -> None:
    assert api.get(f"/api/objects/{NF}").json()["key"] == NF


def test_post_prompts_with_question_and_chosen_evidence(api: TestClient) -> None:
    chosen = [
        "equation:generative-models/normalizing-flows/change-of-variables",
        "source:dinh-2017-real-nvp",
        "concept:probability/maximum-likelihood",
    ]
    body = api.post(
        "/api/prompts",
        json={"key": NF, "question": "Why the inverse?", "evidence": chosen, "format": "json"},
    ).json()
    assert body["question"] == {"text": "Why the inverse?", "source": "request"}
    shown = [item["key"] for line in body["evidence"] for item in line["items"]]
    assert sorted(shown) == sorted(chosen)
    assert "witness:generative-models/normalizing-flows/linear-flow-logpdf" not in body["prompt"]
    text = api.post("/api/prompts", json={"key": NF, "evidence": chosen})
    assert text.headers["content-type"].startswith("text/plain")
    assert "Why it is here: chosen as evidence" in text.text
    compact = api.post("/api/prompts", json={"key": NF, "mode": "compact", "evidence": chosen})
    assert "\n- source:dinh-2017-real-nvp (Density Estimation using Real NVP)\n" in compact.text


def test_unknown_evidence_keys_are_named(api: TestClient) -> None:
    response = api.post(
        "/api/prompts",
        json={"key": NF, "evidence": ["source:nope", "equation:x", "source:dinh-2017-real-nvp"]},
    )
    error = error_of(response, 422, "invalid_input")
    assert "'source:nope'" in error["message"] and "'equation:x'" in error["message"]
    assert error["details"] == [
        {"key": "source:nope", "reason": "no object has this key"},
        {"key": "equation:x", "reason": "not an object key"},
    ]
    error_of(api.post("/api/prompts", json={"key": NF, "typo": 1}), 422, "invalid_input")
    error_of(api.post("/api/prompts", json={"mode": "compact"}), 422, "invalid_input")


def test_renamed_objects_redirect_and_removed_objects_are_gone(
    fixture_tree: Engine, settings: Settings, content_copy: Path
) -> None:
    rename_claim(fixture_tree, content_copy)
    with TestClient(prompt_app(fixture_tree, settings)) as client:
        moved = client.get(f"/api/objects/{OLD}/prompt?mode=compact", follow_redirects=False)
        assert moved.status_code == 308
        assert moved.headers["location"] == f"/api/objects/{NEW}/prompt?mode=compact"
        assert f"\nObject key: {NEW}\n" in client.get(f"/api/objects/{OLD}/prompt").text

        posted = client.post("/api/prompts", json={"key": OLD}, follow_redirects=False)
        assert posted.status_code == 308
        assert posted.headers["location"] == f"/api/objects/{NEW}/prompt"
        followed = client.post("/api/prompts", json={"key": OLD, "format": "json"})
        assert followed.status_code == 200 and followed.json()["key"] == NEW
        # An old key chosen as evidence stands for the object it now names.
        body = client.post(
            "/api/prompts",
            json={"key": "concept:demo-context/alpha", "evidence": [OLD], "format": "json"},
        ).json()
        assert [i["key"] for line in body["evidence"] for i in line["items"]] == [NEW]

        remove_claim(fixture_tree, content_copy, "folded into the text")
        gone = error_of(client.get(f"/api/objects/{NEW}/prompt"), 410, "gone")
        assert gone["message"] == f"'{NEW}' was removed: folded into the text"
        error = error_of(
            client.post(
                "/api/prompts", json={"key": "concept:demo-context/alpha", "evidence": [NEW]}
            ),
            422,
            "invalid_input",
        )
        assert error["details"] == [{"key": NEW, "reason": "removed"}]


def test_an_object_whose_id_is_prompt_is_still_reachable(
    fixture_tree: Engine, settings: Settings, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "content" / "valid", content)
    page = content / "demo-context" / "beta.md"
    page.write_text(page.read_text().replace("id: scaling-claim", "id: prompt"))
    with unit_of_work(fixture_tree) as session:
        ingest(session, content)
    key = "claim:demo-context/beta/prompt"
    with TestClient(prompt_app(fixture_tree, settings)) as client:
        assert client.get(f"/api/objects/{key}").json()["key"] == key
        assert f"\nObject key: {key}\n" in client.get(f"/api/objects/{key}/prompt").text
