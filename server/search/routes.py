"""``GET /api/search?q=``: ranked results with escaped snippets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from server.deps import SessionDep
from server.search import service

router = APIRouter(prefix="/api", tags=["search"])

SearchText = Annotated[str, Query(max_length=4000, description="words to find")]
Limit = Annotated[int, Query(ge=1, le=service.MAX_RESULTS)]


@router.get("/search", summary="Full-text search across concepts, claims and sources")
def search(session: SessionDep, q: SearchText = "", limit: Limit = 20) -> dict[str, Any]:
    return service.search(session, q, limit)
