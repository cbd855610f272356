"""Running the app under uvicorn with every slow-client timeout in place.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no limit on how
long a client may take to send a request's headers: a client that connects and trickles a
header a byte at a time holds its connection for as long as it likes, and 500 of them hold
500 sockets. The protocols here close a connection whose request headers have not all arrived
``header_timeout_s`` after it opened, or after the first byte of a later request on the same
connection: kept alive, or pipelined behind another request (then from the moment the
request before it has been answered, or, with httptools, which parses ahead, from its first
byte). Bodies are timed by ``server.limits.BodyLimit``.

Two parsers, the same deadline: :class:`HttpToolsHeaderTimeout` (httptools, the default,
with uvloop when installed) and :class:`HeaderTimeoutProtocol` (h11).
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


class _HeaderDeadline:
    """The deadline itself: armed, disarmed, and what happens when it passes."""

    header_timeout_s: float = 10.0
    header_deadline: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm_header_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(
                self.header_timeout_s, self._headers_too_slow
            )

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _waiting_for_headers(self) -> bool:
        raise NotImplementedError

    def _answering(self) -> bool:
        """Whether a response is still being sent on this connection."""
        raise NotImplementedError

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.transport.is_closing() or not self._waiting_for_headers():
            return
        if self._answering():  # never cut into a response: close once it is out
            self._close_after_response()
            return
        self.transport.write(TIMEOUT_RESPONSE % (len(TIMEOUT_BODY), TIMEOUT_BODY))
        self.transport.close()

    def _close_after_response(self) -> None:
        cycle = getattr(self, "cycle", None)
        if cycle is not None:
            cycle.keep_alive = False


class HeaderTimeoutProtocol(_HeaderDeadline, H11Protocol):
    """An h11 connection that must finish each request's headers within a deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # a new request begins (keep-alive or pipelined)
            self._arm_header_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next cycle on what is already buffered
        if self.transport.is_closing():
            return
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()
        elif self.conn.trailing_data[0]:  # part of a pipelined request: its clock starts now
            self._unset_keepalive_if_required()  # not idle: a request has begun
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _answering(self) -> bool:
        return self.conn.our_state is h11.SEND_BODY


def _httptools_base() -> type[Any]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    return HttpToolsProtocol


def httptools_available() -> bool:
    try:
        _httptools_base()
    except ImportError:
        return False
    return True


def _httptools_protocol(header_timeout_s: float) -> type[Any]:
    """The httptools protocol with the header deadline (a class made on demand: httptools is
    an optional C extension, imported only when it is used)."""
    base = _httptools_base()

    class HttpToolsHeaderTimeout(_HeaderDeadline, base):  # type: ignore[misc, valid-type]
        """An httptools connection that must finish each request's headers within a deadline.

        httptools reports where each request begins and where its headers end, pipelined
        or not; between the two the clock runs.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_deadline = None
            self.in_headers = True

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm_header_deadline()

        def on_message_begin(self) -> None:
            self.in_headers = True
            self._arm_header_deadline()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self.in_headers = False
            self._disarm_header_deadline()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            super().connection_lost(exc)

        def _waiting_for_headers(self) -> bool:
            return bool(self.in_headers)

        def _answering(self) -> bool:
            cycle = self.cycle
            return cycle is not None and not cycle.response_complete

    HttpToolsHeaderTimeout.header_timeout_s = header_timeout_s
    return HttpToolsHeaderTimeout


def protocol_for(settings: Settings) -> type[Any]:
    """The protocol class of this server's parser, with its header deadline."""
    if settings.http_parser == "httptools" and httptools_available():
        return _httptools_protocol(settings.header_timeout_s)
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
