"""HTML pages. Each has a JSON twin (``Link: rel=alternate``) under /api."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from server.concepts import service
from server.deps import SessionDep
from server.pages.learning_map import learning_map
from server.pages.render import render_concept_sections, render_page
from server.render.markdown import pygments_css

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> HTMLResponse:
    concepts = service.list_concepts(session)
    return render_page(
        request, "index.html", {"concepts": concepts, "title": "Reading room"}, "/api/concepts"
    )


@router.get("/concepts/{context}/{slug}", response_class=HTMLResponse)
def concept(context: str, slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    page: dict[str, Any] = service.concept_page(session, context, slug)
    sections = render_concept_sections(page)
    return render_page(
        request,
        "concept.html",
        {
            "page": page,
            "sections": sections,
            "learning_map": learning_map(page["links"]),
            "title": page["title"],
        },
        page["api_url"],
    )


@router.get("/static/pygments.css", response_class=PlainTextResponse)
def pygments_stylesheet() -> PlainTextResponse:
    return PlainTextResponse(pygments_css(), media_type="text/css")
