"""A demo control's binding into its flow spec: reading, setting and checking its paths.

A path such as ``layers[0].A[0][0]`` names one number of the spec; a control sets the number at
each of its paths to ``factor * value``. The page's script (``server/static/demo.js``) applies
the same rule; ingest checks here that every path names a number, that the default lies in the
range and that the spec builds within the cost model anywhere in the range.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from schemas.content import DemoControl

STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")
CHECKED_POINTS = 9
"""Values of a control's range at which its spec must build: min, max and evenly between."""


class BindingError(ValueError):
    """A path that does not name a number of the spec, or a default outside the range."""


def parse_path(path: str) -> list[str | int]:
    """``layers[0].A[0][0]`` -> ``["layers", 0, "A", 0, 0]`` (the schema checks the form)."""
    steps: list[str | int] = []
    position = 0
    while position < len(path):
        match = STEP.match(path, position)
        if match is None or (match.group(0).startswith(".") and not steps):
            raise BindingError(f"path '{path}' is not of the form layers[0].A[0][0]")
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return steps


def _parent(spec: Any, steps: list[str | int], path: str) -> Any:
    node = spec
    for depth, step in enumerate(steps):
        if isinstance(step, int):
            ok = isinstance(node, list) and step < len(node)
        else:
            ok = isinstance(node, dict) and step in node
        if not ok:
            where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps[: depth + 1])
            raise BindingError(f"path '{path}' does not exist in the spec (no {where.lstrip('.')})")
        if depth == len(steps) - 1:
            return node
        node = node[step]
    raise BindingError(f"path '{path}' is empty")


def read_number(spec: Any, path: str) -> float:
    """The number at ``path``; a missing place or a non-number is a :class:`BindingError`."""
    steps = parse_path(path)
    value = _parent(spec, steps, path)[steps[-1]]
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = type(value).__name__
        raise BindingError(f"path '{path}' points at {kind} {value!r}, not a number")
    return float(value)


def default_value(spec: Any, control: DemoControl) -> float:
    """The control's value in the spec as authored; its tied paths must agree on it."""
    values = [read_number(spec, p) / control.factor(i) for i, p in enumerate(control.paths)]
    for path, value in zip(control.paths[1:], values[1:], strict=True):
        if not math.isclose(value, values[0], rel_tol=1e-9, abs_tol=1e-12):
            raise BindingError(
                f"tied path '{path}' holds {value:g} where '{control.paths[0]}' holds "
                f"{values[0]:g} (after factors)"
            )
    if not control.min <= values[0] <= control.max:
        raise BindingError(
            f"default {values[0]:g} is outside the range [{control.min:g}, {control.max:g}]"
        )
    return values[0]


def with_value(spec: dict[str, Any], control: DemoControl, value: float) -> dict[str, Any]:
    """A copy of ``spec`` with the control moved to ``value``."""
    moved = copy.deepcopy(spec)
    for index, path in enumerate(control.paths):
        steps = parse_path(path)
        _parent(moved, steps, path)[steps[-1]] = control.factor(index) * value
    return moved


def checked_values(control: DemoControl, default: float) -> Iterable[float]:
    """Min, max, the default and evenly spaced values between: where the spec must build."""
    span = control.max - control.min
    inside = (control.min + span * k / (CHECKED_POINTS - 1) for k in range(CHECKED_POINTS))
    return sorted({control.min, control.max, default, *inside})


def linear_signs(spec: Any) -> list[tuple[int, float]]:
    """The sign of det of each linear layer's matrix (affine ``A``, LU ``U``), by layer index.

    A single spec entry enters a determinant linearly, so a sign that differs between two
    checked values means the matrix is singular somewhere between them, though both build.
    """
    signs: list[tuple[int, float]] = []
    layers = spec.get("layers") if isinstance(spec, dict) else None
    for index, layer in enumerate(layers if isinstance(layers, list) else []):
        matrix = None
        if isinstance(layer, dict) and layer.get("type") == "affine":
            matrix = layer.get("A")
        elif isinstance(layer, dict) and layer.get("type") == "lu_linear":
            matrix = layer.get("U")
        try:
            signs.append((index, float(np.sign(np.linalg.det(np.asarray(matrix, dtype=float))))))
        except (TypeError, ValueError, np.linalg.LinAlgError):
            continue
    return signs


def page_controls(spec: dict[str, Any], controls: Iterable[DemoControl]) -> list[dict[str, Any]]:
    """The controls as the page and the API carry them: the binding plus its default value."""
    shown = []
    for control in controls:
        record = control.model_dump(exclude_none=True)
        record["value"] = default_value(spec, control)
        shown.append(record)
    return shown
