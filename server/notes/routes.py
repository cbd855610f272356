"""Notes routes: ``PUT/GET/DELETE /api/notes/{key}`` and ``GET /api/notes``.

Every route acts for the person of the request: a learner sees only their own notes, and
another learner's note answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from server.deps import SessionDep, read
from server.errors import error_responses as _errors
from server.notes import service
from server.notes.schemas import MAX_PAGE, NoteList, NoteOut, NoteWrite
from server.paging import Cursor, link_header, next_link
from server.people.deps import CurrentPerson

router = APIRouter(prefix="/api", tags=["notes"])

Kind = Literal["concept", "equation", "witness", "source", "claim", "misconception", "demo"]


@router.get(
    "/notes",
    summary="Your notes, in key order, a page at a time",
    response_model=NoteList,
    responses=_errors(401, 422),
)
async def list_notes(
    request: Request,
    response: Response,
    person: CurrentPerson,
    concept: Annotated[
        str | None,
        Query(max_length=400, description="A concept key: notes on it and on its objects."),
    ] = None,
    kind: Annotated[Kind | None, Query(description="Only notes on objects of this kind.")] = None,
    orphaned: Annotated[
        bool | None,
        Query(description="true: notes whose object was renamed or removed; false: the others."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Cursor = None,
    context: Annotated[
        str | None, Query(max_length=100, description="A context slug: notes on its objects.")
    ] = None,
    text: Annotated[
        str | None,
        Query(max_length=200, description="Notes whose text, next action or key contain this."),
    ] = None,
) -> dict[str, Any]:
    listed = await read(
        request,
        lambda session: service.list_notes(
            session, person.name, concept=concept, kind=kind, orphaned=orphaned, limit=limit,
            cursor=cursor, context=context, text=text,
        ),
    )  # fmt: skip
    link_header(response, next_link(request, listed["next"]))  # `next` itself is the cursor
    return listed


@router.get(
    "/notes/{key:path}",
    summary="Your note on one object",
    response_model=NoteOut,
    responses=_errors(401, 404, 410, 422),
)
def get_note(key: str, session: SessionDep, person: CurrentPerson) -> NoteOut:
    return service.get_note(session, person.name, key)


@router.put(
    "/notes/{key:path}",
    summary="Create (version null) or update (the current version) your note on one object",
    response_model=NoteOut,
    responses=_errors(400, 401, 403, 404, 409, 410, 413, 422),
)
def put_note(key: str, body: NoteWrite, session: SessionDep, person: CurrentPerson) -> NoteOut:
    return service.put_note(session, person.name, key, body)


@router.delete(
    "/notes/{key:path}",
    summary="Delete your note on one object, at its current version",
    status_code=204,
    response_class=Response,
    responses=_errors(401, 403, 404, 409, 410, 422),
)
def delete_note(
    key: str,
    session: SessionDep,
    person: CurrentPerson,
    version: Annotated[int, Query(ge=1, description="The note's current version.")],
) -> Response:
    service.delete_note(session, person.name, key, version)
    return Response(status_code=204)
