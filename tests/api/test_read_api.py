"""The read API over the fixture tree: shapes, redirects, tombstones and the one error shape."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.db import unit_of_work
from server.ingest.service import ingest
from tests.conftest import FIXTURES, NEW_CLAIM, OLD_CLAIM, remove_claim, rename_claim


def assert_error(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["details"], list)
    error: dict[str, object] = body["error"]
    return error


def test_list_concepts_and_filter_by_context(client: TestClient) -> None:
    body = client.get("/api/concepts").json()
    assert body["count"] == 2
    assert [c["key"] for c in body["data"]] == [
        "concept:demo-context/alpha",
        "concept:demo-context/beta",
    ]
    assert client.get("/api/concepts", params={"context": "demo-context"}).json()["count"] == 2
    error = assert_error(client.get("/api/concepts", params={"context": "nope"}), 404, "not_found")
    assert error["message"] == "no context 'nope'"


def test_concept_page_has_every_part(client: TestClient) -> None:
    page = client.get("/api/concepts/demo-context/alpha").json()
    assert page["anchor"] == "concept/concept-notebook/demo-context/alpha"
    assert page["context"] == {"slug": "demo-context", "title": "Demo Context"}
    assert [s["title"] for s in page["sections"]] == [
        "Intuition",
        "Math",
        "Code",
        "Interactive Demo",
    ]
    assert [s["number"] for s in page["sections"]] == ["01", "02", "03", "04"]
    assert page["equations"][0]["latex"] == "x = a z"
    assert page["equations"][0]["symbols"] == [{"symbol": "a", "meaning": "the scale"}]
    witness = page["witnesses"][0]
    assert witness["code"] == 'print("value:", 2.0)\n'
    assert witness["status"] == "unchecked" and witness["latest_run"] is None
    assert page["sources"][0]["grounds"] == "Grounds the scaling equation."
    claim = page["claims"][0]
    assert claim["support"][0]["locator"] == {"section": "2 Scaling", "page": 3}
    assert claim["support"][0]["checked"] is False
    assert claim["verdict"] == "bounded" and claim["substantive"] is False
    assert claim["latest_review"]["reviewer"] == "fixture reviewer"
    assert claim["latest_review"]["caveats"] == "Only in one dimension."
    assert page["claim_review_notice"].startswith("Claims without a substantive review badge")
    assert page["misconceptions"][0]["exposed_by"] == ["demo:demo-context/alpha/stretch"]
    assert page["demos"][0]["spec"]["type"] == "chain"
    assert page["links"]["outgoing"] == [
        {
            "type": "next",
            "to": "concept:demo-context/beta",
            "title": "Beta",
            "reason": "Beta builds on alpha.",
            "gate": "Predict first.",
            "url": "/concepts/demo-context/beta",
        }
    ]
    assert [link["from"] for link in page["links"]["incoming"]] == ["concept:demo-context/beta"]
    assert page["practice"]["hints"] == ["One", "Two", "Three"]
    assert page["research"]["open_question"] == "What is alpha?"


def test_every_kind_by_key(client: TestClient) -> None:
    for key, kind in [
        ("concept:demo-context/alpha", "concept"),
        ("equation:demo-context/alpha/scale", "equation"),
        ("witness:demo-context/alpha/double", "witness"),
        ("source:smith-2020-example", "source"),
        ("claim:demo-context/alpha/scaling-claim", "claim"),
        ("misconception:demo-context/alpha/no-change", "misconception"),
        ("demo:demo-context/alpha/stretch", "demo"),
    ]:
        body = client.get(f"/api/objects/{key}").json()
        assert (body["key"], body["kind"]) == (key, kind)


def test_no_answer_names_a_path_on_the_servers_disk(client: TestClient) -> None:
    concept = client.get("/api/concepts/demo-context/alpha").json()
    assert concept["source_file"] == "demo-context/alpha.md"  # its place in the content tree
    on_disk = str(FIXTURES.resolve().parent.parent)
    for path in (
        "/api/concepts/demo-context/alpha", "/api/objects/concept:demo-context/alpha",
        "/api/objects/witness:demo-context/alpha/double", "/api/graph", "/api/concepts",
        "/concepts/demo-context/alpha", "/api/objects/concept:demo-context/alpha/prompt",
    ):  # fmt: skip
        assert on_disk not in client.get(path).text, path


def test_bad_keys_answer_in_the_one_error_shape(client: TestClient) -> None:
    assert_error(client.get("/api/objects/concept:nope/x"), 404, "not_found")
    error = assert_error(client.get("/api/objects/nonsense"), 422, "invalid_input")
    assert "is not an object key" in str(error["message"])
    assert_error(client.get("/api/objects/claim:only-two/parts"), 422, "invalid_input")
    assert_error(client.get("/api/no-such-route"), 404, "not_found")
    assert_error(client.post("/api/concepts"), 405, "method_not_allowed")
    assert_error(client.get("/api/concepts", params={"context": "x" * 200}), 422, "invalid_input")


def test_renamed_object_redirects_and_removed_object_is_gone(
    client: TestClient, content_copy: Path
) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    rename_claim(engine, content_copy)
    old, new = OLD_CLAIM, NEW_CLAIM
    response = client.get(f"/api/objects/{old}", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == f"/api/objects/{new}"
    assert response.json()["error"]["details"] == [{"key": new}]
    assert client.get(f"/api/objects/{old}").json()["key"] == new

    remove_claim(engine, content_copy, "folded into the page text")
    error = assert_error(client.get(f"/api/objects/{new}"), 410, "gone")
    assert error["message"] == f"'{new}' was removed: folded into the page text"


def test_sources_graph_and_health(client: TestClient) -> None:
    sources = client.get("/api/sources").json()
    assert sources["data"][0]["grounds"][0]["concept"] == "concept:demo-context/alpha"
    graph = client.get("/api/graph").json()
    assert {(e["from"], e["to"], e["type"]) for e in graph["edges"]} == {
        ("concept:demo-context/alpha", "concept:demo-context/beta", "next"),
        ("concept:demo-context/beta", "concept:demo-context/alpha", "prerequisite"),
    }
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["revision"] == 1


def test_openapi_describes_the_read_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in [
        "/api/concepts",
        "/api/concepts/{context}/{slug}",
        "/api/objects/{key}",
        "/api/sources",
        "/api/graph",
        "/api/health",
    ]:
        assert path in paths, path


def test_concept_page_html_is_safe_and_has_a_json_twin(client: TestClient) -> None:
    response = client.get("/concepts/demo-context/alpha")
    assert response.status_code == 200
    assert response.headers["link"] == (
        '</api/concepts/demo-context/alpha>; rel="alternate"; type="application/json"'
    )
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    html = response.text
    assert "<math" in html and "Alpha" in html
    assert 'id="concept/concept-notebook/demo-context/alpha"' in html
    # each witness block carries its status next to its code
    witness = html.index(
        '<figure class="witness" id="witness/concept-notebook/demo-context/alpha/double">'
    )
    assert '<span class="status unchecked">unchecked</span>' in html[witness : witness + 300]
    missing = client.get("/concepts/demo-context/nope")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_a_cached_page_is_rebuilt_when_the_content_changes(
    client: TestClient, tmp_path: Path
) -> None:
    first = client.get("/api/concepts/demo-context/alpha").json()
    assert first["title"] == "Alpha"
    assert client.get("/api/concepts/demo-context/alpha").json() == first
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "content" / "valid", content)
    page = content / "demo-context" / "alpha.md"
    page.write_text(page.read_text().replace("title: Alpha", "title: Alpha, revised"))
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with unit_of_work(engine) as session:
        ingest(session, content)
    assert client.get("/api/concepts/demo-context/alpha").json()["title"] == "Alpha, revised"


def test_oversized_request_bodies_answer_413(client: TestClient) -> None:
    big = b'{"key": "' + b"x" * (2 << 20) + b'"}'
    response = client.post(
        "/api/prompts", content=big, headers={"content-type": "application/json"}
    )
    error = assert_error(response, 413, "payload_too_large")
    assert "larger than" in str(error["message"])

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 65536

    streamed = client.post(
        "/api/prompts", content=chunks(), headers={"content-type": "application/json"}
    )  # type: ignore[arg-type]
    assert_error(streamed, 413, "payload_too_large")


def test_a_crash_answers_500_without_a_traceback(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.app import create_app
    from server.concepts import service
    from tests.conftest import VALID_CONTENT, make_settings

    def crash(*_: object) -> None:
        raise RuntimeError("secret internals /etc/readingroom")

    monkeypatch.setattr(service, "concept_graph", crash)
    monkeypatch.setattr(service, "list_concepts", crash)
    app = create_app(make_settings(database_url, VALID_CONTENT))
    with TestClient(app, raise_server_exceptions=False) as crashing:
        response = crashing.get("/api/graph")
        assert response.status_code == 500
        assert response.json() == {
            "error": {"code": "internal_error", "message": "internal server error", "details": []}
        }
        page = crashing.get("/")
        assert page.status_code == 500 and "text/html" in page.headers["content-type"]
        assert "secret internals" not in page.text and "Traceback" not in page.text
