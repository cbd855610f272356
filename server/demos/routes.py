"""``POST /api/demos/evaluate``: parse, evaluate, answer."""

from __future__ import annotations

from fastapi import APIRouter

from server.demos.schemas import DemoRequest, DemoState
from server.demos.service import evaluate_demo

router = APIRouter(prefix="/api/demos", tags=["demos"])


@router.post("/evaluate", response_model=DemoState)
def evaluate(request: DemoRequest) -> DemoState:
    """Evaluate a 2-D flow spec on a grid: densities, warped grid lines and samples.

    A plain ``def``: the numpy work runs in the threadpool, off the event loop.
    """
    return evaluate_demo(request)
