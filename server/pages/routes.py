"""HTML pages. Each has a JSON twin (``Link: rel=alternate``) under /api."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from server.claims.schemas import REVIEW_VERDICTS
from server.concepts import service
from server.deps import SessionDep
from server.learning.focus import Viewer
from server.learning.pages import marks
from server.models import STANCES
from server.pages import library, notes, reviews
from server.pages.cite import cite_block
from server.pages.render import render_concept_sections, render_page
from server.pages.viewer import can_review, viewer
from server.render.markdown import pygments_css

router = APIRouter(include_in_schema=False)
router.include_router(library.router)
router.include_router(reviews.router)
router.include_router(notes.router)


@router.get("/concepts/{context}/{slug}", response_class=HTMLResponse)
def concept(
    context: str, slug: str, request: Request, session: SessionDep, learner: Viewer
) -> HTMLResponse:
    page: dict[str, Any] = service.concept_page(session, context, slug)
    sections = render_concept_sections(page)
    person = viewer(request, session)
    values = {
        "page": page,
        "sections": sections,
        "title": page["title"],
        "marks": marks(session, learner, page["key"]),
        "cite": cite_block(request, page),
        "person": person,
        "can_review": can_review(person),
        "verdicts": REVIEW_VERDICTS,
        "stances": STANCES,
    }
    return render_page(request, "concept.html", values, page["api_url"])


@router.get("/static/pygments.css", response_class=PlainTextResponse)
def pygments_stylesheet() -> PlainTextResponse:
    return PlainTextResponse(pygments_css(), media_type="text/css")
