"""Numerical checks for flows: log-density on a grid, finite-difference Jacobians, mass on a box."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from server.kernels.flow import Flow
from server.kernels.transform import Array

Bounds = Sequence[Sequence[float]]  # [[xmin, xmax], [ymin, ymax]]


def grid_points(bounds: Bounds, resolution: int | Sequence[int]) -> tuple[Array, Array, Array]:
    """Axes xs (nx,), ys (ny,) spanning the bounds inclusively and the points (ny·nx, 2),
    row-major with x varying fastest."""
    nx, ny = (resolution, resolution) if isinstance(resolution, int) else resolution
    xs = np.linspace(bounds[0][0], bounds[0][1], nx)
    ys = np.linspace(bounds[1][0], bounds[1][1], ny)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([grid_x.ravel(), grid_y.ravel()])


def grid_log_prob(
    flow: Flow, bounds: Bounds, resolution: int | Sequence[int]
) -> tuple[Array, Array, Array]:
    """xs, ys and log p on the grid, shaped (ny, nx) so that [j, i] is at (xs[i], ys[j])."""
    xs, ys, points = grid_points(bounds, resolution)
    return xs, ys, flow.log_prob(points).reshape(ys.size, xs.size)


def cell_centres(bounds: Bounds, resolution: int) -> tuple[Array, float]:
    """Midpoints of a resolution^D grid of equal cells on a D-dimensional box, and cell volume."""
    axes = [lo + (np.arange(resolution) + 0.5) * (hi - lo) / resolution for lo, hi in bounds]
    volume = float(np.prod([(hi - lo) / resolution for lo, hi in bounds]))
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([m.ravel() for m in mesh]), volume


def mass_on_box(
    log_density: Callable[[Array], Array], bounds: Bounds, resolution: int = 400
) -> float:
    """∫_box exp(log_density) by the midpoint rule on resolution^D cells.

    For a smooth density the error is O(h²); a normalised density whose mass lies inside the
    box gives ≈ 1, the check that log-dets are right up to a constant.
    """
    points, volume = cell_centres(bounds, resolution)
    values = np.exp(log_density(points))
    return float(np.sum(values[np.isfinite(values)]) * volume)


def numeric_jacobian(fn: Callable[[Array], Array], points: Array, step: float = 1e-6) -> Array:
    """J[k, i, j] = ∂fᵢ/∂xⱼ at points[k] by central differences, (f(x + hεⱼ) − f(x − hεⱼ))/2h.

    The error is O(h²) from truncation plus O(ε/h) from rounding; h = 1e-6 in float64 gives
    about 1e-9 relative for smooth maps. ``fn`` maps (n, D) to (n, D').
    """
    n, dim = points.shape
    columns = []
    for j in range(dim):
        offset = np.zeros(dim, dtype=points.dtype)
        offset[j] = step
        columns.append((fn(points + offset) - fn(points - offset)) / (2 * step))
    jacobian = np.stack(columns, axis=-1)
    assert jacobian.shape[0] == n
    return jacobian
