"""Cached answers served before routing are exactly what the routes send, and only those."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.fastpath import CachedAnswers
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

ALPHA = "demo-context/alpha"
# The fast path sits inside compression: compare the answers it sees, uncompressed.
IDENTITY = {"Accept-Encoding": "identity"}
CACHED = [
    f"/api/concepts/{ALPHA}",
    f"/concepts/{ALPHA}",
    f"/api/objects/claim:{ALPHA}/scaling-claim",
    f"/api/objects/concept:{ALPHA}/prompt",
    f"/api/objects/concept:{ALPHA}/prompt?mode=compact&format=json",
    f"/api/objects/concept:{ALPHA}/prompt?question=Why%3F&format=markdown",
]


def scope_for(client: TestClient, url: str) -> dict[str, Any]:
    path, _, query = url.partition("?")
    return {
        "type": "http", "method": "GET", "path": path, "root_path": "",
        "query_string": query.encode(), "headers": [], "app": client.app,
    }  # fmt: skip


def answered(client: TestClient, url: str) -> Any:
    return CachedAnswers(client.app).cached(scope_for(client, url))  # type: ignore[arg-type]


@pytest.fixture
def client(database_url: str) -> Any:
    # The revision is read once an hour: the fast path answers between reads.
    app = create_app(make_settings(database_url, VALID_CONTENT, page_cache_poll_s=3600))
    with TestClient(app, client=LOOPBACK) as test_client:
        yield test_client


@pytest.mark.parametrize("url", CACHED)
def test_a_cached_page_is_answered_as_its_route_answers_it(client: TestClient, url: str) -> None:
    assert answered(client, url) is None  # nothing built yet
    built = client.get(url, headers=IDENTITY)
    assert built.status_code == 200
    fast = answered(client, url)
    assert fast is not None
    assert fast.body == built.content
    assert fast.status_code == 200
    # the security headers middleware adds the rest, to every answer alike
    assert dict(fast.headers).items() <= dict(built.headers).items()
    again = client.get(url, headers=IDENTITY)
    assert again.content == built.content and dict(again.headers) == dict(built.headers)


def test_a_write_sends_requests_back_to_the_routes(client: TestClient) -> None:
    client.get(f"/api/concepts/{ALPHA}")
    assert answered(client, f"/api/concepts/{ALPHA}") is not None
    review = {
        "verdict": "supported", "summary": "Read it.", "caveats": "",
        "support": [{"source": "smith-2020-example", "checked": True, "stance": "supports"}],
    }  # fmt: skip
    assert client.post(f"/api/claims/claim:{ALPHA}/scaling-claim/reviews", json=review).is_success
    assert answered(client, f"/api/concepts/{ALPHA}") is None
    assert "verdict supported substantive" in client.get(f"/concepts/{ALPHA}").text


@pytest.mark.parametrize(
    "query",
    [
        "mode=long",
        "format=html",
        "mode=compact&mode=grounded",
        "evidence=source:x",
        "question=" + "x" * 2001,
    ],
)
def test_a_prompt_query_it_does_not_know_goes_to_the_route(client: TestClient, query: str) -> None:
    url = f"/api/objects/concept:{ALPHA}/prompt"
    client.get(url)
    assert answered(client, f"{url}?{query}") is None
    assert client.get(f"{url}?{query}").status_code in (200, 422)


def test_team_mode_prompts_and_a_focused_graph_go_to_the_routes(database_url: str) -> None:
    settings = make_settings(database_url, VALID_CONTENT, mode="team")
    with TestClient(create_app(settings), client=LOOPBACK) as team:
        prompt = f"/api/objects/concept:{ALPHA}/prompt"
        assert team.get(prompt).status_code == 401  # never served from a cache without a person
        assert answered(team, prompt) is None
        team.get("/api/graph")
        team.get(f"/concepts/{ALPHA}")
        # the reader's marks and review form are on these: their routes cache them per reader
        assert answered(team, "/api/graph") is None
        assert answered(team, f"/concepts/{ALPHA}") is None


def test_a_mark_sends_the_local_concept_page_back_to_its_route(client: TestClient) -> None:
    page = f"/concepts/{ALPHA}"
    client.get(page)
    assert answered(client, page) is not None
    marked = client.put(f"/api/progress/concept:{ALPHA}", json={"learned": True})
    assert marked.status_code == 200
    assert answered(client, page) is None  # the mark bumped the revision
    assert 'aria-pressed="true"' in client.get(page).text
    assert answered(client, page) is not None
