"""How much one demo evaluation may compute; beyond these the API answers 413 (or 422).

The spec itself (dimension, layers, bins, hidden units, numbers) and the whole evaluation's
floats and flops are bounded by the kernels' cost model, :mod:`server.kernels.cost`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.errors import InvalidInput, PayloadTooLarge
from server.kernels.cost import Cost, check_evaluation

DEMO_DIM = 2
"""Demo states are drawn on the plane."""
MAX_GRID_SIDE = 200
"""Grid points per axis (so at most 200 × 200 density values)."""
MAX_SAMPLES = 5_000
MAX_GRID_LINES = 41
"""Latent grid lines per axis."""
MAX_LINE_POINTS = 400
"""Points along each grid line."""


def check_request_limits(
    resolution: tuple[int, int], samples: int, grid_lines: int, line_points: int
) -> None:
    """Refuse a request whose sizes exceed the limits (PayloadTooLarge, 413)."""
    for axis, count in zip("xy", resolution, strict=True):
        if count > MAX_GRID_SIDE:
            raise PayloadTooLarge(
                f"resolution {count} along {axis} exceeds MAX_GRID_SIDE = {MAX_GRID_SIDE} points"
            )
    if samples > MAX_SAMPLES:
        raise PayloadTooLarge(f"samples = {samples} exceeds MAX_SAMPLES = {MAX_SAMPLES}")
    if grid_lines > MAX_GRID_LINES:
        raise PayloadTooLarge(
            f"grid_lines = {grid_lines} exceeds MAX_GRID_LINES = {MAX_GRID_LINES} per axis"
        )
    if line_points > MAX_LINE_POINTS:
        raise PayloadTooLarge(
            f"line_points = {line_points} exceeds MAX_LINE_POINTS = {MAX_LINE_POINTS}"
        )


def check_spec_limits(spec: Mapping[str, Any]) -> None:
    """Refuse a spec that is not 2-D (422); its size is the cost model's to bound."""
    dim = spec.get("dim")
    if dim != DEMO_DIM:
        raise InvalidInput(f"demo states are {DEMO_DIM}-D; spec 'dim' is {dim!r}")


def check_demo_budget(
    spec: Mapping[str, Any], grid_points: int, samples: int, line_points: int
) -> Cost:
    """Refuse (413) an evaluation whose total cost is over the kernels' budget: the inverse
    on every grid point, the forward on every sample and every point of the grid lines."""
    return check_evaluation(spec, inverse=grid_points, forward=samples + line_points)
