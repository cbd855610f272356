"""HTML pages. Each has a JSON twin (``Link: rel=alternate``) under /api."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlmodel import Session

from server.concepts import service
from server.db import unit_of_work
from server.deps import read
from server.pagecache import PageCache
from server.pages.render import page_response, render_concept_sections, render_page
from server.paging import DEFAULT_PAGE, MAX_CURSOR, MAX_PAGE, next_link
from server.render.markdown import pygments_css

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index(
    request: Request,
    limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(default=None, max_length=MAX_CURSOR),
) -> HTMLResponse:
    return await read(request, lambda session: index_page(request, session, limit, cursor))


def index_page(request: Request, session: Session, limit: int, cursor: str | None) -> HTMLResponse:
    concepts, count, following = service.list_concepts(session, None, limit, cursor)
    link = next_link(request, following)
    twin = "/api/concepts" + (f"?{request.url.query}" if request.url.query else "")
    context = {"concepts": concepts, "count": count, "next": link, "title": "Reading room"}
    response = render_page(request, "index.html", context, twin)
    if link is not None:
        response.headers["Link"] += f', <{link}>; rel="next"'
    return response


def concept_html_cache_key(context: str, slug: str) -> tuple[str, ...]:
    return ("concept.html", context, slug)


def concept_html(request: Request, context: str, slug: str) -> tuple[bytes, str]:
    """The page's bytes and its JSON twin's address."""
    with unit_of_work(request.app.state.engine, write=False) as session:
        page: dict[str, Any] = service.concept_page(session, context, slug)
    sections = render_concept_sections(page)
    rendered = render_page(
        request,
        "concept.html",
        {"page": page, "sections": sections, "title": page["title"]},
        page["api_url"],
    )
    return bytes(rendered.body), page["api_url"]


@router.get("/concepts/{context}/{slug}", response_class=HTMLResponse)
async def concept(context: str, slug: str, request: Request) -> HTMLResponse:
    # Assembled (and its Markdown rendered) once per store revision, then served as bytes.
    cache: PageCache = request.app.state.pages
    body, twin = await cache.serve(
        concept_html_cache_key(context, slug), lambda: concept_html(request, context, slug)
    )
    return page_response(body, twin)


@router.get("/static/pygments.css", response_class=PlainTextResponse)
def pygments_stylesheet() -> PlainTextResponse:
    return PlainTextResponse(pygments_css(), media_type="text/css")
