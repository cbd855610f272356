"""HTML pages. Each has a JSON twin (``Link: rel=alternate``) under /api."""

from __future__ import annotations

from collections.abc import Hashable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlmodel import Session

from server.db import unit_of_work
from server.deps import read
from server.learning.pages import marks
from server.pagecache import PageCache
from server.pages import library, notes, reviews
from server.pages.concept import concept_values
from server.pages.render import page_response, render_page
from server.people.reader import can_review, reader
from server.render.markdown import pygments_css

router = APIRouter(include_in_schema=False)
router.include_router(library.router)
router.include_router(reviews.router)
router.include_router(notes.router)


def concept_html_cache_key(context: str, slug: str, variant: Hashable) -> tuple[Hashable, ...]:
    return ("concept.html", context, slug, variant)


def viewer_variant(request: Request, session: Session, context: str, slug: str) -> Hashable:
    """What of the concept page depends on who is looking: the reader, whether they may
    review, and their learned and starred marks on this concept."""
    person = reader(request, session)
    learner = person.name if person is not None else None
    mark = marks(session, learner, f"concept:{context}/{slug}")
    return (learner, can_review(person), mark["learned"], mark["starred"])


def variant_cache_key(context: str, slug: str) -> tuple[str, ...]:
    return ("concept.html reader", context, slug)


def local_variant(request: Request, context: str, slug: str) -> Hashable:
    """The local reader's variant, in a read session of its own (cached per revision: marks
    bump the revision when they change)."""
    with unit_of_work(request.app.state.engine, write=False) as session:
        return viewer_variant(request, session, context, slug)


def concept_html(request: Request, context: str, slug: str) -> tuple[bytes, str]:
    """The page's bytes and its JSON twin's address."""
    with unit_of_work(request.app.state.engine, write=False) as session:
        values = concept_values(request, session, context, slug)
    twin: str = values["page"]["api_url"]
    rendered = render_page(request, "concept.html", values, twin)
    return bytes(rendered.body), twin


@router.get("/concepts/{context}/{slug}", response_class=HTMLResponse)
async def concept(context: str, slug: str, request: Request) -> HTMLResponse:
    # Assembled (and its Markdown rendered) once per store revision and per reader variant
    # (who reads, may they review, their marks), then served as bytes.
    cache: PageCache = request.app.state.pages
    if request.app.state.settings.mode == "local":  # one reader: the variant moves with marks
        variant = await cache.serve(
            variant_cache_key(context, slug), lambda: local_variant(request, context, slug)
        )
    else:  # the reader comes from a session cookie or token, read for each request
        variant = await read(
            request, lambda session: viewer_variant(request, session, context, slug)
        )
    body, twin = await cache.serve(
        concept_html_cache_key(context, slug, variant), lambda: concept_html(request, context, slug)
    )
    return page_response(body, twin)


@router.get("/static/pygments.css", response_class=PlainTextResponse)
def pygments_stylesheet() -> PlainTextResponse:
    return PlainTextResponse(pygments_css(), media_type="text/css")
