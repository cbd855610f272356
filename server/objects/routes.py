"""Object routes: any object by key, and the sources list."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from server.db import unit_of_work
from server.deps import read
from server.objects import service
from server.pagecache import PageCache
from server.paging import DEFAULT_PAGE, MAX_PAGE, Cursor, page_answer

router = APIRouter(prefix="/api", tags=["objects"])


def object_cache_key(key: str) -> tuple[str, ...]:
    return ("object", key)


def object_bytes(request: Request, key: str) -> bytes:
    with unit_of_work(request.app.state.engine, write=False) as session:
        found = service.get_object(session, key)
    return json.dumps(found, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@router.get(
    "/objects/{key:path}",
    summary="Any object by its stable key (kind:path)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def get_object(key: str, request: Request) -> Response:
    # Assembled once per store revision; aliases, tombstones and unknown keys raise as usual.
    cache: PageCache = request.app.state.pages
    body = await cache.serve(object_cache_key(key), lambda: object_bytes(request, key))
    return Response(body, media_type="application/json")


@router.get("/sources", summary="Sources with what each grounds on each concept, a page at a time")
async def list_sources(
    request: Request,
    response: Response,
    limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: Cursor = None,
) -> dict[str, Any]:
    data, count, following = await read(
        request, lambda session: service.list_sources(session, limit, cursor)
    )
    return page_answer(request, response, data, count, following)
