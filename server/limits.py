"""Admission limits as ASGI middleware, each refusal in the one error shape.

- :class:`BodyLimit`: request bodies over 1 MiB answer 413 unread; a body that does not
  arrive within ``timeout_s`` answers 408 (a slow-body client cannot hold a request open).
- :class:`ConcurrencyLimit`: at most ``limit`` requests are inside the app at once; one
  more answers 503 with ``Retry-After`` at once instead of waiting for a database
  connection. ``/api/health`` has its own small lane, so it stays cheap and answers even
  when the main lane is full; witness runs have theirs, sized to the run queue (which
  refuses first, with a better ``Retry-After``), so waiting runs never crowd out pages.
  ``Retry-After`` grows with the refusals of the last second, so that clients that honour
  it spread out as far as the flood needs.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1 << 20
BODY_TIMEOUT_S = 30.0
HEALTH_PATHS = frozenset({"/api/health"})
HEALTH_LANE = 16  # concurrent health checks; more answer 503 like any other request


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer with ``{"error": {"code", "message", "details"}}`` straight from middleware."""
    body = json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies over ``limit`` bytes, by Content-Length or while they stream in."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, timeout_s: float = BODY_TIMEOUT_S
    ) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self.refuse(send)
            return
        # Read the body first (at most ``limit`` bytes are ever held), then replay it.
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await self.read(receive)
        except TimeoutError:
            message = f"the request body did not arrive within {self.timeout_s:g} s"
            await send_error(send, 408, "request_timeout", message, {"Connection": "close"})
            return
        if body is None:
            return  # the client went away
        if len(body) > self.limit:
            await self.refuse(send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def read(self, receive: Receive) -> bytes | None:
        """The whole body, or its first ``limit + 1`` bytes; None if the client left."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            seen += len(chunk)
            chunks.append(chunk)
            if seen > self.limit or not message.get("more_body", False):
                return b"".join(chunks)

    async def refuse(self, send: Send) -> None:
        message = f"request body is larger than {self.limit} bytes"
        await send_error(send, 413, "payload_too_large", message)


MAX_RETRY_AFTER_S = 30


@dataclass
class Lane:
    """Requests inside, and refusals in the current second (they set ``Retry-After``)."""

    limit: int
    in_flight: int = 0
    second: int = 0
    refused: int = 0
    refused_before: int = 0

    def refuse(self, now: float) -> int:
        """Count one refusal; the seconds to wait grow with how far demand exceeds the lane."""
        if int(now) != self.second:
            self.refused_before = self.refused if int(now) == self.second + 1 else 0
            self.second, self.refused = int(now), 0
        self.refused += 1
        excess = max(self.refused, self.refused_before) // max(1, self.limit)
        return min(MAX_RETRY_AFTER_S, 1 + excess)


def is_witness_run(scope: Scope) -> bool:
    """``POST /api/witnesses/run`` and ``POST /api/witnesses/{key}/runs``."""
    path: str = scope["path"]
    stored = path.startswith("/api/witnesses/") and path.endswith("/runs")
    return scope["method"] == "POST" and (path == "/api/witnesses/run" or stored)


class ConcurrencyLimit:
    """At most ``limit`` requests in the app at once; beyond it 503 with ``Retry-After``."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int | Lane,
        health_limit: int = HEALTH_LANE,
        runs_limit: int = 64,
    ) -> None:
        self.app = app
        # A lane given is shared: cached answers sent before the middleware count in it too.
        self.main = limit if isinstance(limit, Lane) else Lane(limit)
        self.health = Lane(health_limit)
        self.runs = Lane(runs_limit)

    def lane(self, scope: Scope) -> Lane:
        if scope["path"] in HEALTH_PATHS:
            return self.health
        return self.runs if is_witness_run(scope) else self.main

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lane = self.lane(scope)
        if lane.in_flight >= lane.limit:  # one event loop: no await between check and count
            retry_after = lane.refuse(time.monotonic())
            message = f"the server is serving {lane.in_flight} requests, its limit; try again"
            await send_error(send, 503, "busy", message, {"Retry-After": str(retry_after)})
            return
        lane.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            lane.in_flight -= 1
