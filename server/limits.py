"""Admission limits as ASGI middleware, each refusal in the one error shape.

- :class:`BodyLimit`: request bodies over 1 MiB answer 413 unread; a body that does not
  arrive within ``timeout_s`` answers 408 (a slow-body client cannot hold a request open).
- :class:`ConcurrencyLimit`: at most ``limit`` requests are inside the app at once; one
  more answers 503 with ``Retry-After`` at once instead of waiting for a database
  connection. ``/api/health`` has its own small lane, so it stays cheap and answers even
  when the main lane is full.
"""

from __future__ import annotations

import asyncio
import json
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


@dataclass
class _Lane:
    limit: int
    in_flight: int = 0


class ConcurrencyLimit:
    """At most ``limit`` requests in the app at once; beyond it 503 with ``Retry-After``."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        health_limit: int = HEALTH_LANE,
        retry_after_s: int = 1,
    ) -> None:
        self.app = app
        self.main = _Lane(limit)
        self.health = _Lane(health_limit)
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lane = self.health if scope["path"] in HEALTH_PATHS else self.main
        if lane.in_flight >= lane.limit:  # one event loop: no await between check and count
            message = f"the server is serving {lane.in_flight} requests, its limit; try again"
            await send_error(send, 503, "busy", message, {"Retry-After": str(self.retry_after_s)})
            return
        lane.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            lane.in_flight -= 1
