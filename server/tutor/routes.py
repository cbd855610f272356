"""Prompt routes: ``GET /api/objects/{key}/prompt`` and ``POST /api/prompts``.

A grounded prompt shows the note and next action of the person asking (the local learner,
or the account of the request in team mode), never anyone else's.

Include this router before the objects router: ``/api/objects/{key:path}`` would otherwise
take ``.../prompt`` as part of the key.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from server.db import unit_of_work
from server.deps import SessionDep, SettingsDep
from server.errors import Moved, ReadingRoomError
from server.keys import parse_key
from server.objects.service import get_object
from server.pagecache import PageCache
from server.people.deps import CurrentPerson
from server.tutor.prompt import Format, Mode
from server.tutor.service import prompt_for_key

router = APIRouter(prefix="/api", tags=["prompts"])

MAX_QUESTION = 2_000
MAX_EVIDENCE = 100
MEDIA_TYPES = {"text": "text/plain", "markdown": "text/markdown"}

Question = Annotated[
    str | None, Query(max_length=MAX_QUESTION, description="Replaces the open question.")
]


class PromptOptions(BaseModel):
    """How to build a prompt: mode, format, question, and evidence chosen by key."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "grounded"
    format: Format = "text"
    question: str | None = Field(default=None, max_length=MAX_QUESTION)
    evidence: list[str] | None = Field(
        default=None,
        max_length=MAX_EVIDENCE,
        description="Keys of the objects to show as evidence (default: what the store links).",
    )


class PromptRequest(PromptOptions):
    key: str = Field(max_length=400, description="The object's stable key (kind:path).")


class ObjectPromptOptions(PromptOptions):
    # Accepted so that a POST /api/prompts redirected here (308) keeps working; the path wins.
    key: str | None = Field(default=None, max_length=400)


def _response(body: str | dict[str, Any], fmt: Format) -> Response:
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=MEDIA_TYPES[fmt])


def prompt_cache_key(
    key: str, mode: str, fmt: str, question: str | None, learner: str, note: Hashable
) -> tuple[Hashable, ...]:
    """Everything a GET prompt depends on besides the store revision."""
    return ("prompt", key, mode, fmt, question, learner, note)


def _prompt_bytes(
    request: Request, key: str, mode: Mode, fmt: Format, question: str | None, learner: str
) -> tuple[bytes, str]:
    with unit_of_work(request.app.state.engine, write=False) as session:
        if _names_an_object(key + "/prompt") and not _names_an_object(key):
            # A claim or other child whose id is "prompt": this is the plain object route.
            found: str | dict[str, Any] = get_object(session, key + "/prompt")
            fmt = "json"
        else:
            found = prompt_for_key(
                session, request.app.state.settings, key, mode=mode, fmt=fmt,
                question=question, learner=learner,
            )  # fmt: skip
    if isinstance(found, dict):
        body = json.dumps(found, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return body, "application/json"
    return found.encode("utf-8"), MEDIA_TYPES[fmt]


@router.get(
    "/objects/{key:path}/prompt",
    summary="The tutor-handoff prompt for one object",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}, "text/markdown": {}, "application/json": {}}}},
)
async def object_prompt(
    key: str,
    request: Request,
    person: CurrentPerson,
    mode: Mode = "grounded",
    format: Format = "text",
    question: Question = None,
) -> Response:
    # Built once per store revision and, for a grounded prompt, per version of the learner's
    # own note on the object; then served as bytes with no database call.
    cache: PageCache = request.app.state.pages
    note = await cache.note_version(person.name, key) if mode == "grounded" else None
    signature = prompt_cache_key(key, mode, format, question, person.name, note)
    body, media_type = await cache.serve(
        signature, lambda: _prompt_bytes(request, key, mode, format, question, person.name)
    )
    return Response(body, media_type=media_type)


@router.post(
    "/objects/{key:path}/prompt",
    summary="The prompt for one object, with a question and chosen evidence",
    response_model=None,
)
def object_prompt_with_options(
    key: str,
    options: ObjectPromptOptions,
    session: SessionDep,
    settings: SettingsDep,
    person: CurrentPerson,
) -> Response:
    body = prompt_for_key(
        session, settings, key, mode=options.mode, fmt=options.format,
        question=options.question, evidence=options.evidence, learner=person.name,
    )  # fmt: skip
    return _response(body, options.format)


@router.post(
    "/prompts",
    summary="The prompt for any object, with a question and chosen evidence",
    response_model=None,
)
def create_prompt(
    request: PromptRequest, session: SessionDep, settings: SettingsDep, person: CurrentPerson
) -> Response:
    try:
        body = prompt_for_key(
            session, settings, request.key, mode=request.mode, fmt=request.format,
            question=request.question, evidence=request.evidence, learner=person.name,
        )  # fmt: skip
    except Moved as moved:
        # Repeating this POST would move again: send it to the new key's own prompt route.
        response = JSONResponse(moved.to_body(), status_code=308)
        response.headers["Location"] = f"/api/objects/{moved.new_key}/prompt"
        return response
    return _response(body, request.format)


def _names_an_object(key: str) -> bool:
    try:
        parse_key(key)
    except ReadingRoomError:
        return False
    return True
