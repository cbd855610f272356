"""The index with search, the search page, and source pages."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from server.claims.service import source_with_claims
from server.concepts import service as concepts
from server.deps import SessionDep
from server.keys import anchor_for
from server.models import Concept
from server.pages.render import render_page
from server.search import service as search_service
from server.sources.bibtex import bibtex_entry

router = APIRouter(include_in_schema=False)

SearchText = Annotated[str, Query(max_length=4000)]


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> HTMLResponse:
    grouped: dict[str, dict[str, Any]] = {}
    for concept in concepts.list_concepts(session):
        group = grouped.setdefault(
            concept["context"]["slug"], {**concept["context"], "concepts": []}
        )
        group["concepts"].append(concept)
    context = {"contexts": list(grouped.values()), "title": "Reading room", "q": ""}
    return render_page(request, "index.html", context, "/api/concepts")


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: SessionDep, q: SearchText = "") -> HTMLResponse:
    results = search_service.search(session, q, search_service.MAX_RESULTS)
    twin = "/api/search?" + urlencode({"q": results["query"]})
    context = {
        "results": results,
        "q": results["query"],
        "title": f"Search: {q[:80]}" if q else "Search",
    }
    return render_page(request, "search.html", context, twin)


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source(source_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    data = source_with_claims(session, source_id)
    titles = dict(session.exec(select(Concept.key, Concept.title)).all())
    pages = {key: "/concepts/" + key.partition(":")[2] for key in titles}
    for stance in data["claims"].values():
        for claim in stance:
            claim["url"] = f"{pages.get(claim['concept'], '/')}#{anchor_for(claim['key'])}"
    context = {
        "source": data,
        "bibtex": bibtex_entry(data),
        "titles": titles,
        "pages": pages,
        "title": data["title"],
    }
    return render_page(request, "source.html", context, f"/api/sources/{data['id']}")
