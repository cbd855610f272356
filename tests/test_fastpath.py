"""Cached answers served before routing are exactly what the routes send, and only those."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

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


# -- replies: what the stack sent for a cached answer, sent again in front of it -------------

REPLAYED = [
    f"/api/concepts/{ALPHA}",
    f"/concepts/{ALPHA}",
    f"/api/objects/claim:{ALPHA}/scaling-claim",
    f"/api/objects/concept:{ALPHA}/prompt",
    f"/api/objects/concept:{ALPHA}/prompt?mode=compact&format=json",
]
GZIP = {"Accept-Encoding": "gzip"}


def stack_never_called(scope: Scope, receive: Receive, send: Send) -> Any:
    raise AssertionError("the reply went to the stack")


async def stack_answering_teapot(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def reply_to(
    app: Any, url: str, headers: dict[str, str], stack: Any, in_flight: list[int] | None = None
) -> list[Message]:
    """What ``app.replies`` sends for ``url`` with ``stack`` behind it (and the requests in
    the admission lane as each message is sent)."""
    path, _, query = url.partition("?")
    raw = [(b"host", b"testserver")]
    raw += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {
        "type": "http", "method": "GET", "path": path, "root_path": "",
        "query_string": query.encode(), "headers": raw,
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)
        if in_flight is not None:
            in_flight.append(app.replies.lane.in_flight)

    asyncio.run(app.replies(scope, receive, send, stack))
    return sent


@pytest.mark.parametrize("encoding", [IDENTITY, GZIP])
@pytest.mark.parametrize("url", REPLAYED)
def test_a_replayed_answer_is_what_the_route_sent(
    client: TestClient, url: str, encoding: dict[str, str]
) -> None:
    built = client.get(url, headers=encoding)  # the route builds it
    first_hit = client.get(url, headers=encoding)  # through the stack: kept
    replayed = client.get(url, headers=encoding)
    assert built.status_code == 200
    for answer in (first_hit, replayed):
        assert answer.headers.raw == built.headers.raw  # every header, in order
        assert answer.content == built.content
    assert ("gzip" in encoding.values()) == (built.headers.get("content-encoding") == "gzip")
    sent = reply_to(client.app, url, encoding, stack_never_called)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    assert list(sent[0]["headers"]) == built.headers.raw


def test_identity_and_gzip_are_kept_apart(client: TestClient) -> None:
    url = f"/concepts/{ALPHA}"
    for _ in range(3):
        client.get(url, headers=IDENTITY)
    # none kept for gzip yet: it goes through the stack
    assert reply_to(client.app, url, GZIP, stack_answering_teapot)[0]["status"] == 418
    plain = reply_to(client.app, url, IDENTITY, stack_never_called)
    assert b"content-encoding" not in dict(plain[0]["headers"])
    assert plain[1]["body"] == client.get(url, headers=IDENTITY).content


def test_a_write_is_never_answered_with_the_reply_of_an_older_revision(
    client: TestClient,
) -> None:
    url = f"/api/concepts/{ALPHA}"
    for _ in range(3):
        before = client.get(url, headers=IDENTITY)
    review = {
        "verdict": "supported", "summary": "Read it.", "caveats": "",
        "support": [{"source": "smith-2020-example", "checked": True, "stance": "supports"}],
    }  # fmt: skip
    assert client.post(f"/api/claims/claim:{ALPHA}/scaling-claim/reviews", json=review).is_success
    after = [client.get(url, headers=IDENTITY) for _ in range(3)]
    assert all(a.content == after[0].content for a in after)
    assert after[0].content != before.content
    assert '"supported"' in after[0].text
    replayed = reply_to(client.app, url, IDENTITY, stack_never_called)
    assert replayed[1]["body"] == after[0].content


def test_a_reply_counts_in_the_admission_lane(client: TestClient) -> None:
    url = f"/api/objects/claim:{ALPHA}/scaling-claim"
    for _ in range(3):
        client.get(url, headers=IDENTITY)
    in_flight: list[int] = []
    sent = reply_to(client.app, url, IDENTITY, stack_never_called, in_flight)
    assert len(sent) == 2 and in_flight == [1, 1]  # counted while it is sent
    assert client.app.replies.lane.in_flight == 0  # type: ignore[attr-defined]


def test_a_full_lane_answers_busy_even_for_a_cached_answer(client: TestClient) -> None:
    url = f"/api/objects/claim:{ALPHA}/scaling-claim"
    for _ in range(3):
        client.get(url, headers=IDENTITY)
    lane = client.app.replies.lane  # type: ignore[attr-defined]
    lane.in_flight = lane.limit
    try:
        busy = client.get(url, headers=IDENTITY)
    finally:
        lane.in_flight = 0
    assert busy.status_code == 503
    assert busy.json()["error"]["code"] == "busy" and busy.headers["retry-after"]
    assert client.get(url, headers=IDENTITY).status_code == 200


def test_a_host_not_served_is_refused_even_for_a_cached_answer(client: TestClient) -> None:
    url = f"/api/concepts/{ALPHA}"
    for _ in range(3):
        client.get(url, headers=IDENTITY)
    refused = client.get(url, headers={**IDENTITY, "Host": "rebound.example"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_host"
    assert refused.headers["x-content-type-options"] == "nosniff"

