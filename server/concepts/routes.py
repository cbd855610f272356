"""Concept routes: thin — parse, call the service, return."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from server.concepts import service
from server.db import unit_of_work
from server.deps import read
from server.learning.focus import MAX_FOCUS_DEPTH, Direction, focused_graph, with_status
from server.pagecache import PageCache
from server.paging import DEFAULT_PAGE, MAX_PAGE, Cursor, page_answer
from server.people.reader import ReaderName
from server.prepared import PreparedBody, PreparedResponse

router = APIRouter(prefix="/api", tags=["concepts"])

GRAPH_KEY = ("graph",)


def concept_cache_key(context: str, slug: str) -> tuple[str, ...]:
    return ("concept", context, slug)


@router.get("/concepts", summary="Concepts by context and place, a page at a time")
async def list_concepts(
    request: Request,
    response: Response,
    context: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: Cursor = None,
) -> dict[str, Any]:
    data, count, following = await read(
        request, lambda session: service.list_concepts(session, context, limit, cursor)
    )
    return page_answer(request, response, data, count, following)


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
    body = await cache.serve(
        concept_cache_key(context, slug), lambda: page_bytes(request, context, slug)
    )
    return Response(body, media_type="application/json")


def graph_body(request: Request, learner: str | None) -> PreparedBody:
    with unit_of_work(request.app.state.engine, write=False) as session:
        graph = with_status(session, learner, service.concept_graph(session))
    body = json.dumps(graph, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return PreparedBody.of(body, request.app.state.settings.compress_min_bytes)


@router.get(
    "/graph",
    summary="Every concept and every typed link; with focus=KEY, the subgraph around one concept",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def graph(
    request: Request,
    learner: ReaderName,
    focus: Annotated[str | None, Query(max_length=400)] = None,
    direction: Direction = "both",
    depth: Annotated[int, Query(ge=1, le=MAX_FOCUS_DEPTH)] = 2,
) -> Response:
    if focus is not None:
        found = await read(
            request, lambda session: focused_graph(session, learner, focus, direction, depth)
        )
        return Response(json.dumps(found, ensure_ascii=False), media_type="application/json")
    # Built (and compressed) once per store revision, since it grows with the store, then
    # sent in slices; a reader's copy shows their marks, and a change of marks bumps the
    # revision.
    key = GRAPH_KEY if learner is None else (*GRAPH_KEY, learner)
    cache: PageCache = request.app.state.pages
    return PreparedResponse(await cache.serve(key, lambda: graph_body(request, learner)))
