"""A prepared body goes out in slices with the bytes and headers that a plain response passed
through the gzip middleware carries, gzipped or not, and lets other answers run between
its slices."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from server import prepared
from server.prepared import COMPRESS_LEVEL, SLICE_BYTES, PreparedBody, PreparedResponse

MIN_BYTES = 1024
# Varied text (so gzip has work to do), a few slices long and not a whole number of them.
LARGE = json.dumps([{"key": f"concept:c/{i}", "title": f"Concept {i * 7919}"}
                    for i in range(40_000)]).encode()  # fmt: skip
SMALL = b'{"nodes":[],"edges":[]}'
ENCODINGS = [{"Accept-Encoding": "gzip"}, {"Accept-Encoding": "gzip, deflate, br"},
             {"Accept-Encoding": "identity"}]  # fmt: skip


def both_ways(body: bytes) -> Starlette:
    """One body served plainly and prepared, behind the middleware the app uses."""

    async def plain(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def ready(request: Request) -> Response:
        return PreparedResponse(PreparedBody.of(body, MIN_BYTES))

    return Starlette(
        routes=[Route("/plain", plain), Route("/prepared", ready)],
        middleware=[
            Middleware(GZipMiddleware, minimum_size=MIN_BYTES, compresslevel=COMPRESS_LEVEL)
        ],
    )


def raw(client: TestClient, path: str, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        return dict(response.headers.multi_items()), b"".join(response.iter_raw())


@pytest.mark.parametrize("body", [LARGE, SMALL], ids=["large", "small"])
@pytest.mark.parametrize("headers", ENCODINGS, ids=["gzip", "gzip-and-more", "identity"])
def test_the_wire_carries_what_a_plain_response_would(body: bytes, headers: dict[str, str]) -> None:
    with TestClient(both_ways(body)) as client:
        plain_headers, plain_bytes = raw(client, "/plain", headers)
        prepared_headers, prepared_bytes = raw(client, "/prepared", headers)
    assert prepared_bytes == plain_bytes
    assert list(prepared_headers.items()) == list(plain_headers.items())  # names, values, order
    if body is LARGE and "gzip" in headers["Accept-Encoding"]:
        assert prepared_headers["content-encoding"] == "gzip"
        assert gzip.decompress(prepared_bytes) == LARGE


def test_a_large_body_is_cut_into_slices_once() -> None:
    ready = PreparedBody.of(LARGE, MIN_BYTES)
    assert len(ready.plain) == -(-len(LARGE) // SLICE_BYTES) > 2
    assert all(len(piece) == SLICE_BYTES for piece in ready.plain[:-1])
    assert ready.body == LARGE
    assert ready.gzipped is not None
    assert gzip.decompress(b"".join(ready.gzipped)) == LARGE


def test_a_body_below_the_compression_threshold_stays_whole() -> None:
    ready = PreparedBody.of(LARGE, len(LARGE) + 1)
    assert ready.plain == (LARGE,)
    assert ready.gzipped is None


def test_other_answers_run_between_the_slices() -> None:
    events: list[str] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            events.append("slice")

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def other_answer() -> None:
        events.append("other")

    async def main() -> None:
        response = PreparedResponse(PreparedBody.of(LARGE, MIN_BYTES))
        scope = {"type": "http", "method": "GET", "headers": []}
        sending = asyncio.ensure_future(response(scope, receive, send))
        await asyncio.sleep(0)  # the response starts and sends its first slice
        await other_answer()
        await sending

    asyncio.run(main())
    assert events.count("slice") == len(PreparedBody.of(LARGE, MIN_BYTES).plain)
    assert events.index("other") < len(events) - 1  # not left waiting for the whole body


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(prepared, "SLICE_BYTES", 64)
    yield 64


def test_the_whole_graph_is_the_same_in_slices(client: TestClient, small_slices: int) -> None:
    plain = client.get("/api/graph", headers={"Accept-Encoding": "identity"})
    packed = client.get("/api/graph", headers={"Accept-Encoding": "gzip"})
    assert len(plain.content) > 4 * small_slices  # several slices
    assert plain.headers["content-length"] == str(len(plain.content))
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.content == plain.content  # httpx decodes: the same document
    assert plain.json()["nodes"]
    for name in ("content-security-policy", "x-content-type-options", "content-type"):
        assert packed.headers[name] == plain.headers[name]
