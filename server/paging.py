"""Keyset pages: opaque cursors, one page of a query, the ``next`` link and its header.

A cursor names the sort position of the last item of a page (never an offset), so a page
stays stable when items are added before it. It is base64url of a small JSON document that
also names its list; anything this service did not give out answers 422. ``keyset_page``
reads one page of any query and ``page_answer`` shapes the list answer of a route.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from sqlalchemy import ColumnElement, Select, func, tuple_
from sqlalchemy import select as select_columns
from sqlalchemy.orm import InstrumentedAttribute, Mapped
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from server.errors import InvalidInput

MAX_CURSOR = 600
DEFAULT_PAGE = 50
MAX_PAGE = 500

Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR, description="From the previous page's `next`.")
]


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


def page_answer(
    request: Request, response: Response, data: list[Any], count: int, cursor: str | None,
    **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """A list's answer: ``data``, ``count``, ``extra`` and ``next``, the link to the page after
    (also sent as ``Link: rel=next``), or null on the last page."""
    link = next_link(request, cursor)
    link_header(response, link)
    return {"data": data, "count": count, **extra, "next": link}


@dataclass(frozen=True)
class Keyset:
    """A list paged by keyset: its name in cursors, and the columns it is sorted by (unique
    together, each an attribute of the rows read), with the type of each in a cursor."""

    name: str
    order: tuple[Mapped[Any], ...]
    types: tuple[type, ...]

    def position(self, row: Any) -> tuple[Any, ...]:
        names = (cast(InstrumentedAttribute[Any], column).key for column in self.order)
        return tuple(getattr(row, name) for name in names)

    def after(self, cursor: str) -> ColumnElement[bool]:
        """Rows past the position ``cursor`` names (422 for a cursor not given out)."""
        values = decode_cursor(self.name, cursor, self.types)
        if len(self.order) == 1:
            return self.order[0] > values[0]  # type: ignore[no-any-return]
        return tuple_(*self.order) > tuple_(*values)


def keyset_page(
    session: Session,
    query: Select[*tuple[Any, ...]] | SelectOfScalar[Any],
    keyset: Keyset,
    limit: int | None,
    cursor: str | None,
) -> tuple[list[Any], int, str | None]:
    """One page of ``query``: up to ``limit`` rows (all, for None) after ``cursor`` in the
    keyset's order, the count of every row of ``query``, and the next page's cursor (None on
    the last page). One row more than the page is read to know whether another follows."""
    counted = select_columns(func.count()).select_from(query.order_by(None).subquery())
    count = int(session.execute(counted).scalar_one())
    if cursor is not None:
        query = query.where(keyset.after(cursor))
    query = query.order_by(*keyset.order)
    if limit is not None:
        query = query.limit(limit + 1)
    if isinstance(query, SelectOfScalar):  # rows of one table: its objects
        rows = list(session.exec(query))
    else:
        rows = list(session.execute(query))
    following = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        following = encode_cursor(keyset.name, keyset.position(rows[-1]))
    return rows, count, following
