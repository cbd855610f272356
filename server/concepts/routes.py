"""Concept routes: thin — parse, call the service, return."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from server.concepts import service
from server.db import unit_of_work
from server.deps import SessionDep
from server.learning.focus import (
    MAX_FOCUS_DEPTH,
    Direction,
    Viewer,
    focused_graph,
    with_status,
)
from server.pagecache import PageCache

router = APIRouter(prefix="/api", tags=["concepts"])


@router.get("/concepts", summary="List concepts, optionally of one context")
def list_concepts(
    session: SessionDep, context: str | None = Query(default=None, max_length=100)
) -> dict[str, Any]:
    data = service.list_concepts(session, context)
    return {"data": data, "count": len(data)}


def page_bytes(request: Request, context: str, slug: str) -> bytes:
    with unit_of_work(request.app.state.engine, write=False) as session:
        page = service.concept_page(session, context, slug)
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


PATH_PARAMETERS = [
    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
    for name in ("context", "slug")
]


@router.get(
    "/concepts/{context}/{slug}",
    summary="The whole concept page as JSON",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
    openapi_extra={"parameters": PATH_PARAMETERS},
)
async def get_concept(request: Request) -> Response:
    # The hottest route: path parameters are read directly (they are plain strings), and the
    # page is assembled once per store revision, with no database call on the event loop.
    context, slug = request.path_params["context"], request.path_params["slug"]
    cache: PageCache = request.app.state.pages
    if not cache.revision_is_fresh():
        await run_in_threadpool(cache.refresh_revision)
    body = cache.get(("concept", context, slug))
    if body is None:
        revision = cache.revision
        body = await run_in_threadpool(page_bytes, request, context, slug)
        cache.put(("concept", context, slug), revision, body)
    return Response(body, media_type="application/json")


@router.get(
    "/graph",
    summary="Every concept and every typed link; with focus=KEY, the subgraph around one concept",
)
def graph(
    session: SessionDep,
    learner: Viewer,
    focus: Annotated[str | None, Query(max_length=400)] = None,
    direction: Direction = "both",
    depth: Annotated[int, Query(ge=1, le=MAX_FOCUS_DEPTH)] = 2,
) -> dict[str, Any]:
    if focus is not None:
        return focused_graph(session, learner, focus, direction, depth)
    return with_status(session, learner, service.concept_graph(session))
