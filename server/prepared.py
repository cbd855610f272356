"""Large cached answers: encoded and gzip-compressed once, then sent a slice at a time.

The whole graph runs to megabytes at 10,000 concepts. Sent as one body, it costs two things on
every request: the gzip middleware compresses all of it again for a client that accepts gzip,
and the server hands it to the socket in one write, which holds the event loop while the
kernel takes in megabytes, so every other answer waits behind it. A :class:`PreparedBody` is
built off the event loop with its cached entry: the bytes, and their gzip form made exactly
as the middleware makes it (same level, same stream), when the body is large enough for the
middleware to compress it. :class:`PreparedResponse` picks the form the client accepts and
sends it in slices, letting the event loop answer others between them. The bytes and headers
on the wire are the ones a plain response passed through the middleware would carry.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import anyio.lowlevel
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

COMPRESS_LEVEL = 6  # the gzip middleware's level (server.app)
SLICE_BYTES = 256 * 1024  # a write this size keeps the event loop's wait well under 1 ms


def in_slices(body: bytes) -> tuple[bytes, ...]:
    """``body`` cut into ``SLICE_BYTES`` pieces (one, maybe empty, when it is small)."""
    return tuple(body[i : i + SLICE_BYTES] for i in range(0, len(body), SLICE_BYTES)) or (b"",)


@dataclass(frozen=True, slots=True)
class PreparedBody:
    """A body cut into slices once, so that no request copies it; and its gzip form."""

    plain: tuple[bytes, ...]
    gzipped: tuple[bytes, ...] | None  # None: too small for the middleware to compress

    @classmethod
    def of(cls, body: bytes, compress_min_bytes: int) -> PreparedBody:
        """The body and, when the middleware would compress it, its gzip form (slow for a
        large body: build it off the event loop)."""
        if len(body) < compress_min_bytes:  # one message, as the middleware expects it
            return cls((body,), None)
        return cls(in_slices(body), in_slices(gzip_like_middleware(body)))

    @property
    def body(self) -> bytes:
        return b"".join(self.plain)


def gzip_like_middleware(body: bytes) -> bytes:
    """What starlette's ``GZipMiddleware`` sends for a whole body: one gzip stream, no name,
    no time stamp, so the same body always gives the same bytes."""
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def accepts_gzip(scope: Scope) -> bool:
    return "gzip" in Headers(scope=scope).get("Accept-Encoding", "")  # as the middleware asks


class PreparedResponse(Response):
    """A prepared body in the form the client accepts, sent a slice at a time."""

    def __init__(self, prepared: PreparedBody, media_type: str = "application/json") -> None:
        super().__init__(b"", media_type=media_type)
        self.prepared = prepared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slices = self.prepared.plain
        gzipped = self.prepared.gzipped
        if gzipped is not None and accepts_gzip(scope):
            slices = gzipped
            # Content-Encoding tells the middleware to pass it on; the headers it would set.
            self.headers["vary"] = "Accept-Encoding"
            self.headers["content-encoding"] = "gzip"
        self.headers["content-length"] = str(sum(map(len, slices)))  # keeps its place, first
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        await send_slices(send, slices)


async def send_slices(send: Send, slices: tuple[bytes, ...]) -> None:
    """One body message per slice, yielding to the event loop between them."""
    last = len(slices) - 1
    for i, piece in enumerate(slices):
        await send({"type": "http.response.body", "body": piece, "more_body": i < last})
        if i < last:
            await anyio.lowlevel.checkpoint()
