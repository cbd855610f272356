"""Keyset pages: opaque cursors, the ``next`` link and its ``Link: rel=next`` header.

A cursor names the sort position of the last item of a page (never an offset), so a page
stays stable when items are added before it. It is base64url of a small JSON document that
also names its list; anything this service did not give out answers 422.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response

from server.errors import InvalidInput

MAX_CURSOR = 600
DEFAULT_PAGE = 50
MAX_PAGE = 500


def encode_cursor(list_name: str, position: Sequence[str | int]) -> str:
    document = json.dumps([list_name, *position], separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _refuse(cursor: str) -> InvalidInput:
    shown = cursor if len(cursor) <= 80 else cursor[:80] + "..."
    return InvalidInput(
        f"'{shown}' is not a cursor this list gave out", [{"loc": ["query", "cursor"]}]
    )


def decode_cursor(list_name: str, cursor: str, types: Sequence[type]) -> tuple[Any, ...]:
    """The sort position in ``cursor``, each value of the type given; 422 for anything else."""
    if len(cursor) > MAX_CURSOR:
        raise _refuse(cursor)
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        document = json.loads(raw.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _refuse(cursor) from None
    if not isinstance(document, list) or len(document) != len(types) + 1:
        raise _refuse(cursor)
    if document[0] != list_name:
        raise _refuse(cursor)
    values = tuple(document[1:])
    for value, kind in zip(values, types, strict=True):
        # bool is an int to Python; a cursor never holds one
        if type(value) is not kind or (isinstance(value, int) and abs(value) > 2**62):
            raise _refuse(cursor)
    return values


def next_link(request: Request, cursor: str | None) -> str | None:
    """This request's URL for the page after this one (its filters and limit kept)."""
    if cursor is None:
        return None
    query = {k: v for k, v in request.query_params.items() if k not in ("cursor", "offset")}
    return f"{request.url.path}?{urlencode({**query, 'cursor': cursor})}"


def link_header(response: Response, link: str | None) -> None:
    if link is not None:
        response.headers["Link"] = f'<{link}>; rel="next"'
