"""How much one demo evaluation may compute; beyond these the API answers 413 (or 422)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from server.errors import InvalidInput, PayloadTooLarge

DEMO_DIM = 2
"""Demo states are drawn on the plane."""
MAX_GRID_SIDE = 200
"""Grid points per axis (so at most 200 × 200 density values)."""
MAX_LAYERS = 32
MAX_SAMPLES = 5_000
MAX_GRID_LINES = 41
"""Latent grid lines per axis."""
MAX_LINE_POINTS = 400
"""Points along each grid line."""
MAX_SPEC_NUMBERS = 200_000
"""Numbers in the whole spec (weights included)."""


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
    """Refuse a spec that is not 2-D (422) or too big to evaluate on request (413)."""
    dim = spec.get("dim")
    if dim != DEMO_DIM:
        raise InvalidInput(f"demo states are {DEMO_DIM}-D; spec 'dim' is {dim!r}")
    layers = spec.get("layers")
    if isinstance(layers, Sequence) and len(layers) > MAX_LAYERS:
        raise PayloadTooLarge(f"{len(layers)} layers exceed MAX_LAYERS = {MAX_LAYERS}")
    numbers = _count_numbers(spec)
    if numbers > MAX_SPEC_NUMBERS:
        raise PayloadTooLarge(
            f"the spec holds {numbers} numbers, more than MAX_SPEC_NUMBERS = {MAX_SPEC_NUMBERS}"
        )


def _count_numbers(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_count_numbers(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(_count_numbers(item) for item in value)
    return 1 if isinstance(value, int | float) else 0
