"""``POST /api/demos/evaluate``: parse, evaluate, answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server.demos.schemas import DemoRequest, DemoState
from server.demos.service import evaluate_demo
from server.deps import SessionDep
from server.errors import NotFound
from server.objects.service import get_object

router = APIRouter(prefix="/api/demos", tags=["demos"])


@router.post("/evaluate", response_model=DemoState)
def evaluate(request: DemoRequest) -> DemoState:
    """Evaluate a 2-D flow spec on a grid: densities, warped grid lines and samples.

    A plain ``def``: the numpy work runs in the threadpool, off the event loop.
    """
    return evaluate_demo(request)


@router.get("/{key:path}", summary="A stored demo state with its evaluation on the default grid")
def stored_demo(key: str, session: SessionDep) -> dict[str, Any]:
    demo = get_object(session, key)
    if demo["kind"] != "demo":
        raise NotFound(f"'{key}' is a {demo['kind']}, not a demo state")
    evaluation = evaluate_demo(DemoRequest(spec=demo["spec"]))
    return {**demo, "evaluation": evaluation.model_dump(mode="json")}
