"""Object routes: any object by key, and the sources list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server.deps import SessionDep
from server.objects import service

router = APIRouter(prefix="/api", tags=["objects"])


@router.get("/objects/{key:path}", summary="Any object by its stable key (kind:path)")
def get_object(key: str, session: SessionDep) -> dict[str, Any]:
    return service.get_object(session, key)


@router.get("/sources", summary="Every source with what it grounds on each concept")
def list_sources(session: SessionDep) -> dict[str, Any]:
    data = service.list_sources(session)
    return {"data": data, "count": len(data)}
