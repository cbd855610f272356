"""``GET /api/health``: the service answers and its database is reachable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from server import __version__
from server.deps import SessionDep
from server.store import current_revision

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", summary="Liveness and database reachability")
def health(request: Request, session: SessionDep) -> dict[str, Any]:
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {
        "status": "ok",
        "version": __version__,
        "database": session.get_bind().dialect.name,
        "revision": current_revision(session),
        "sandbox": request.app.state.sandbox,
    }
