"""The index with search, the search page, and source pages."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from server.claims.service import source_with_claims
from server.concepts import service as concepts
from server.deps import SessionDep, read
from server.keys import anchor_for
from server.models import Concept
from server.pages.render import render_page
from server.paging import DEFAULT_PAGE, MAX_PAGE, Cursor, next_link
from server.search import service as search_service
from server.sources.bibtex import bibtex_entry

router = APIRouter(include_in_schema=False)

SearchText = Annotated[str, Query(max_length=4000)]


@router.get("/", response_class=HTMLResponse)
async def index(
    request: Request,
    limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    cursor: Cursor = None,
) -> HTMLResponse:
    return await read(request, lambda session: index_page(request, session, limit, cursor))


def index_page(request: Request, session: Session, limit: int, cursor: str | None) -> HTMLResponse:
    """One page of concepts (keyset-paged like ``/api/concepts``), grouped by context."""
    listed, count, following = concepts.list_concepts(session, None, limit, cursor)
    grouped: dict[str, dict[str, Any]] = {}
    for concept in listed:
        group = grouped.setdefault(
            concept["context"]["slug"], {**concept["context"], "concepts": []}
        )
        group["concepts"].append(concept)
    link = next_link(request, following)
    twin = "/api/concepts" + (f"?{request.url.query}" if request.url.query else "")
    context = {
        "contexts": list(grouped.values()), "shown": len(listed), "count": count,
        "next": link, "title": "Reading room", "q": "",
    }  # fmt: skip
    response = render_page(request, "index.html", context, twin)
    if link is not None:
        response.headers["Link"] += f', <{link}>; rel="next"'
    return response


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
    # only the concepts this source grounds or whose claims cite it: the page's own links
    linked = {g["concept"] for g in data["grounds"]}
    linked |= {claim["concept"] for stance in data["claims"].values() for claim in stance}
    titles = dict(
        session.exec(select(Concept.key, Concept.title).where(col(Concept.key).in_(linked))).all()
    )
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
