"""Concept routes: thin — parse, call the service, return."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from server.concepts import service
from server.deps import SessionDep

router = APIRouter(prefix="/api", tags=["concepts"])


@router.get("/concepts", summary="List concepts, optionally of one context")
def list_concepts(
    session: SessionDep, context: str | None = Query(default=None, max_length=100)
) -> dict[str, Any]:
    data = service.list_concepts(session, context)
    return {"data": data, "count": len(data)}


@router.get("/concepts/{context}/{slug}", summary="The whole concept page as JSON")
def get_concept(context: str, slug: str, session: SessionDep) -> dict[str, Any]:
    return service.concept_page(session, context, slug)


@router.get("/graph", summary="Every concept and every typed link between concepts")
def graph(session: SessionDep) -> dict[str, Any]:
    return service.concept_graph(session)
