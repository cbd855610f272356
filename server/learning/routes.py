"""Learning routes: progress, plan, fringe and downstream. Thin: parse, call, return.

Every route acts for the person of the request (local mode: the one local learner); writes
follow the same rules as notes (team mode needs credentials; cross-site writes answer 403).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from server.deps import SessionDep, SettingsDep
from server.errors import error_responses as _errors
from server.learning import service
from server.learning.graph import MAX_DEPTH
from server.learning.prompt import plan_prompt as build_plan_prompt
from server.learning.service import MAX_LIST, ProgressWrite
from server.people.deps import CurrentPerson

router = APIRouter(prefix="/api", tags=["learning"])
KeyQuery = Annotated[str, Query(max_length=400, description="A concept key.")]


@router.get("/progress", summary="Your learned and starred concepts", responses=_errors(401))
def list_progress(session: SessionDep, person: CurrentPerson) -> dict[str, Any]:
    return service.list_progress(session, person.name)


@router.put(
    "/progress/{key:path}",
    summary="Mark a concept learned or starred (the fields sent are set)",
    responses=_errors(401, 403, 404, 410, 422),
)
def put_progress(
    key: str, body: ProgressWrite, session: SessionDep, person: CurrentPerson
) -> dict[str, Any]:
    return service.put_progress(session, person.name, key, body)


@router.get(
    "/plan",
    summary="The learning plan to a target: unlearned prerequisites in learning order",
    responses=_errors(401, 404, 422),
)
def plan(target: KeyQuery, session: SessionDep, person: CurrentPerson) -> dict[str, Any]:
    return service.plan(session, person.name, target)


@router.get(
    "/plan/prompt",
    summary="A grounded tutor prompt for the learning plan to a target",
    response_model=None,
    responses=_errors(401, 404, 422),
)
def plan_prompt(
    target: KeyQuery,
    session: SessionDep,
    settings: SettingsDep,
    person: CurrentPerson,
    format: Literal["json", "text"] = "json",
) -> dict[str, Any] | PlainTextResponse:
    built = build_plan_prompt(
        session, person.name, target, site_name=settings.site_name,
        budget_chars=settings.prompt_budget_chars,
    )  # fmt: skip
    return PlainTextResponse(built["prompt"]) if format == "text" else built


@router.get(
    "/next",
    summary="What to learn next: concepts whose prerequisites you have all learned",
    responses=_errors(401, 422),
)
def learn_next(
    session: SessionDep,
    person: CurrentPerson,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50,
) -> dict[str, Any]:
    return service.fringe(session, person.name, limit)


@router.get(
    "/concepts/{context}/{slug}/downstream",
    summary="What depends on this concept, transitively, with depth",
    responses=_errors(401, 404, 422),
)
def downstream(
    context: str,
    slug: str,
    session: SessionDep,
    person: CurrentPerson,
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = MAX_DEPTH,
) -> dict[str, Any]:
    return service.downstream(session, person.name, context, slug, depth)
