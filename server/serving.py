"""Running the app under uvicorn with every slow-client timeout in place.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no limit on how
long a client may take to send a request's headers: a client that connects and trickles a
header a byte at a time holds its connection for as long as it likes, and 500 of them hold
500 sockets. :class:`HeaderTimeoutProtocol` closes a connection whose request headers have
not all arrived ``header_timeout_s`` after it opened, or after its first byte of a new request
on a kept-alive connection. Bodies are timed by ``server.limits.BodyLimit``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from server.config import Settings

TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)
TIMEOUT_BODY = (
    b'{"error": {"code": "request_timeout", "message": '
    b'"the request headers did not arrive in time", "details": []}}'
)


class HeaderTimeoutProtocol(H11Protocol):
    """An h11 connection that must finish each request's headers within a deadline."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # a new request begins (keep-alive or pipelined)
            self._arm_header_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(
                self.header_timeout_s, self._headers_too_slow
            )

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.transport.write(TIMEOUT_RESPONSE % (len(TIMEOUT_BODY), TIMEOUT_BODY))
        self.transport.close()


def protocol_for(settings: Settings) -> type[HeaderTimeoutProtocol]:
    """The protocol class with this server's header deadline."""
    return type(
        "ReadingRoomProtocol",
        (HeaderTimeoutProtocol,),
        {"header_timeout_s": settings.header_timeout_s},
    )


def run(app: Any, settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
        http=protocol_for(settings),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        backlog=4096,
    )
