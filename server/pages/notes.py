"""The learner's notes page: list, filter (context, kind, text) and export."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from server.deps import SessionDep
from server.errors import InvalidInput
from server.keys import anchor_for, owning_concept_key
from server.models import OBJECT_KINDS, Context
from server.notes import service, transfer
from server.notes.schemas import MAX_PAGE
from server.pages.render import render_page
from server.paging import Cursor
from server.people.reader import reader

router = APIRouter(include_in_schema=False)

Filter = Annotated[str | None, Query(max_length=200)]


def object_url(key: str) -> str:
    """Where an object is shown: a source's page, or its concept page at the object's anchor."""
    kind, _, path = key.partition(":")
    if kind == "source":
        return f"/sources/{path}"
    concept = owning_concept_key(key) or key
    page = "/concepts/" + concept.partition(":")[2]
    return page if kind == "concept" else f"{page}#{anchor_for(key)}"


def login_first(path: str) -> RedirectResponse:
    return RedirectResponse("/login?" + urlencode({"next": path}), status_code=303)


@router.get("/notes", response_class=HTMLResponse)
def notes_page(
    request: Request, session: SessionDep, context: Filter = None, kind: Filter = None,
    q: Filter = None, cursor: Cursor = None,
) -> Response:  # fmt: skip
    """An empty field of the filter form means "any"."""
    person = reader(request, session)
    if person is None:
        return login_first("/notes")
    kind = kind or None
    if kind is not None and kind not in OBJECT_KINDS:
        raise InvalidInput(f"'{kind}' is not a kind: expected one of {', '.join(OBJECT_KINDS)}")
    filters = {"context": context or None, "kind": kind, "text": q or None}
    listed = service.list_notes(
        session, person.name, limit=MAX_PAGE, cursor=cursor, context=filters["context"],
        kind=kind, text=filters["text"],
    )  # fmt: skip
    shown = {k: v for k, v in {"context": context, "kind": kind, "q": q}.items() if v}
    following = None
    if listed["next"]:
        following = "/notes?" + urlencode({**shown, "cursor": listed["next"]})
    twin = {k: v for k, v in filters.items() if v}
    page = {
        "notes": listed["data"],
        "count": listed["count"],
        "next": following,
        "filters": {"context": context or "", "kind": kind or "", "q": q or ""},
        "contexts": list(session.exec(select(Context).order_by(col(Context.slug)))),
        "kinds": OBJECT_KINDS,
        "person": person,
        "urls": {n.key: object_url(n.key) for n in listed["data"]},
        "title": "Your notes",
    }
    return render_page(
        request, "notes.html", page, "/api/notes" + (f"?{urlencode(twin)}" if twin else "")
    )


@router.get("/notes/export")
def export_notes(
    request: Request, session: SessionDep, format: Literal["md", "json"] = "md"
) -> Response:
    person = reader(request, session)
    if person is None:
        return login_first("/notes")
    notes = transfer.notes_of(session, person.name)
    if format == "json":
        body, media, name = transfer.to_json(notes), "application/json", "notes.json"
    else:
        body, media, name = transfer.to_markdown(notes), "text/markdown; charset=utf-8", "notes.md"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=media, headers=headers)
