"""Lists page by keyset cursor: count, next link and Link header, stable under inserts,
and a cursor or limit this service did not give out answers 422, never 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from server.db import unit_of_work
from server.models import Concept

LISTS = ("/api/concepts", "/api/sources", "/api/claims", "/api/claims?needs=review")


def walk(client: TestClient, url: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Follow ``next`` to the end: every item, and the count each page answered."""
    items: list[dict[str, Any]] = []
    counts: list[int] = []
    following: str | None = url
    while following is not None:
        response = client.get(following)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["data"])
        counts.append(page["count"])
        following = page["next"]
        if following is None:
            assert 'rel="next"' not in response.headers.get("Link", "")
        else:
            assert response.headers["Link"] == f'<{following}>; rel="next"'
        assert len(counts) < 100, "the pages never end"
    return items, counts


@pytest.mark.parametrize("url", LISTS)
def test_pages_cover_the_whole_list_once_in_order(bundled_client: TestClient, url: str) -> None:
    glue = "&" if "?" in url else "?"
    whole = bundled_client.get(f"{url}{glue}limit=200").json()
    assert whole["next"] is None and len(whole["data"]) == whole["count"] > 2
    paged, counts = walk(bundled_client, f"{url}{glue}limit=2")
    assert [item["key"] for item in paged] == [item["key"] for item in whole["data"]]
    assert paged == whole["data"]
    assert set(counts) == {whole["count"]} and len(counts) == (whole["count"] + 1) // 2


def test_a_page_is_stable_when_concepts_are_added_before_it(bundled_client: TestClient) -> None:
    first = bundled_client.get("/api/concepts", params={"limit": 3}).json()
    rest_before, _ = walk(bundled_client, first["next"])
    engine = bundled_client.app.state.engine  # type: ignore[attr-defined]
    with unit_of_work(engine) as session:
        template = session.exec(select(Concept).order_by(Concept.id)).first()  # type: ignore[arg-type]
        assert template is not None
        session.add(
            Concept(
                key=f"concept:{template.context}/aaa-inserted", context=template.context,
                slug="aaa-inserted", title="Inserted", summary="Added between pages.", body="",
                data={}, source_file="inserted.md", position=-1,
            )
        )  # fmt: skip
    rest_after, counts = walk(bundled_client, first["next"])
    assert rest_after == rest_before  # nothing shifted, nothing repeated
    assert counts[0] == first["count"] + 1


def test_the_index_page_pages_too(bundled_client: TestClient) -> None:
    page = bundled_client.get("/", params={"limit": 1})
    assert page.status_code == 200
    link = page.headers["Link"]
    assert 'rel="alternate"' in link and 'rel="next"' in link
    following = link.split(", ")[1].removeprefix("<").split(">")[0]
    assert following.startswith("/?limit=1&cursor=")
    assert f'href="{following.replace("&", "&amp;")}"' in page.text
    concepts = bundled_client.get("/api/concepts", params={"limit": 2}).json()["data"]
    assert concepts[0]["url"] in page.text and concepts[1]["url"] not in page.text
    second = bundled_client.get(following)
    assert concepts[1]["url"] in second.text and concepts[0]["url"] not in second.text


def test_notes_send_their_next_page_as_a_link_header(client: TestClient) -> None:
    for key in ("concept:demo-context/alpha", "concept:demo-context/beta"):
        assert client.put(f"/api/notes/{key}", json={"text": "x"}).status_code == 200
    first = client.get("/api/notes", params={"limit": 1})
    cursor = first.json()["next"]
    assert first.headers["Link"] == f'</api/notes?limit=1&cursor={cursor}>; rel="next"'
    last = client.get("/api/notes", params={"limit": 1, "cursor": cursor})
    assert last.json()["next"] is None and "Link" not in last.headers


def test_the_graph_is_served_whole_and_the_same_until_the_store_changes(
    client: TestClient,
) -> None:
    first = client.get("/api/graph")
    assert first.headers["content-type"] == "application/json"
    graph = first.json()
    assert [n["key"] for n in graph["nodes"]] == [
        "concept:demo-context/alpha",
        "concept:demo-context/beta",
    ]
    assert set(graph["nodes"][0]) >= {"key", "title", "summary", "url", "api_url", "context"}
    assert {"from", "to", "type", "reason", "gate"} == set(graph["edges"][0])
    assert client.get("/api/graph").content == first.content


def cursor_of(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


HOSTILE_CURSORS = [
    "not a cursor",
    "%%%",
    "=" * 10,
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    cursor_of({"concepts": 1}),
    cursor_of(["concepts"]),
    cursor_of(["sources", "demo-context", 0, "concept:demo-context/alpha"]),
    cursor_of(["concepts", "demo-context", "0", "concept:demo-context/alpha"]),
    cursor_of(["concepts", "demo-context", True, "concept:demo-context/alpha"]),
    cursor_of(["concepts", "demo-context", 10**30, "concept:demo-context/alpha"]),
    cursor_of(["concepts", "demo-context", 1.5, "concept:demo-context/alpha"]),
    cursor_of(["concepts", None, 0, "concept:demo-context/alpha"]),
    cursor_of(["concepts", "demo-context", 0, "x", "extra"]),
    "A" * 601,
]


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS)
def test_a_cursor_not_given_out_answers_422(client: TestClient, cursor: str) -> None:
    for url in ("/api/concepts", "/api/sources", "/api/claims", "/api/notes"):
        response = client.get(url, params={"cursor": cursor})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    assert client.get("/", params={"cursor": cursor}).status_code == 422


def test_a_cursor_of_one_list_is_refused_by_another(client: TestClient) -> None:
    concepts = client.get("/api/concepts", params={"limit": 1}).json()["next"]
    cursor = concepts.partition("cursor=")[2]
    assert client.get("/api/concepts", params={"limit": 1, "cursor": cursor}).status_code == 200
    for url in ("/api/sources", "/api/claims", "/api/claims?needs=review"):
        glue = "&" if "?" in url else "?"
        assert client.get(f"{url}{glue}cursor={cursor}").status_code == 422


@pytest.mark.parametrize("limit", ["0", "-1", "501", "1e3", "abc", "99999999999999999999"])
def test_a_limit_out_of_range_answers_422(client: TestClient, limit: str) -> None:
    for url in ("/api/concepts", "/api/sources", "/api/claims", "/api/notes", "/"):
        response = client.get(url, params={"limit": limit})
        assert response.status_code == 422, (url, limit, response.text)
