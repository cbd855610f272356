"""Evaluating a demo state: the fields and lines the page's flow demo draws."""

from __future__ import annotations

from typing import Any

import numpy as np

from server.demos.limits import check_demo_budget, check_request_limits, check_spec_limits
from server.demos.schemas import DemoRequest, DemoState, Grid, GridLine, Samples
from server.errors import InvalidInput
from server.kernels import build
from server.kernels.checks import grid_points
from server.kernels.flow import Flow
from server.kernels.transform import Array


def evaluate_demo(request: DemoRequest) -> DemoState:
    """Evaluate ``request.spec`` on the request's grid, latent lines and samples.

    Raises PayloadTooLarge (413) beyond the limits of :mod:`server.demos.limits` and the
    budget of :mod:`server.kernels.cost`, before anything is allocated, and
    InvalidInput / SpecError (422) for a spec that is not 2-D or cannot be built.
    """
    check_demo_request(request)
    flow = build(request.spec)
    if request.layers is not None:
        if request.layers > len(flow.layers):
            raise InvalidInput(
                f"layers = {request.layers} but the spec has {len(flow.layers)} layers"
            )
        flow = flow.truncated(request.layers)

    xs, ys, points = grid_points(request.bounds, request.grid_shape())
    z, log_volume = flow.inverse(points)
    with np.errstate(all="ignore"):  # NaN outside the support, inf at zero volume: both null
        base_log_density = flow.base.log_prob(z)
        log_density = base_log_density + log_volume
    shape = (ys.size, xs.size)

    latent, sample_points, sample_log_det, sample_log_density = _samples(flow, request)
    return DemoState(
        layers=len(flow.layers),
        dtype=str(z.dtype),
        grid=Grid(x=xs.tolist(), y=ys.tolist()),
        base_log_density=_nullable(base_log_density.reshape(shape)),
        log_volume=_nullable(log_volume.reshape(shape)),
        log_density=_nullable(log_density.reshape(shape)),
        grid_lines=_grid_lines(flow, request),
        samples=Samples(
            latent=latent.tolist(),
            points=_nullable(sample_points),
            log_det=_nullable(sample_log_det),
            log_density=_nullable(sample_log_density),
        ),
    )


def check_demo_request(request: DemoRequest) -> None:
    """Refuse, before anything is allocated, a request that is not 2-D (422) or whose sizes or
    total cost are over the limits (413): what ingest also checks for a stored demo state on
    the default grid, so that ``GET /api/demos/{key}`` cannot be over the budget."""
    check_spec_limits(request.spec)
    nx, ny = request.grid_shape()
    check_request_limits((nx, ny), request.samples, request.grid_lines, request.line_points)
    check_demo_budget(
        request.spec, nx * ny, request.samples, 2 * request.grid_lines * request.line_points
    )


def _samples(flow: Flow, request: DemoRequest) -> tuple[Array, Array, Array, Array]:
    rng = np.random.default_rng(request.seed)
    latent = flow.base.sample(request.samples, rng, flow.dtype or np.dtype(np.float64))
    points, log_det = flow.forward(latent)
    with np.errstate(all="ignore"):
        log_density = flow.base.log_prob(latent) - log_det
    return latent, points, log_det, log_density


def _grid_lines(flow: Flow, request: DemoRequest) -> list[GridLine]:
    if request.grid_lines == 0:
        return []
    (x_low, x_high), (y_low, y_high) = request.latent_bounds
    along = np.linspace(0.0, 1.0, request.line_points)
    lines: list[GridLine] = []
    for axis, (low, high), (other_low, other_high) in (
        ("x", (x_low, x_high), (y_low, y_high)),
        ("y", (y_low, y_high), (x_low, x_high)),
    ):
        for value in np.linspace(low, high, request.grid_lines):
            varying = other_low + along * (other_high - other_low)
            fixed = np.full_like(varying, value)
            columns = (fixed, varying) if axis == "x" else (varying, fixed)
            image, _ = flow.forward(np.column_stack(columns))
            lines.append(GridLine(axis=axis, value=float(value), points=_nullable(image)))
    return lines


def _nullable(values: Array) -> Any:
    """Nested lists of floats, with None where a value is NaN or infinite (JSON has neither)."""
    as_objects = values.astype(np.float64).astype(object)
    as_objects[~np.isfinite(values)] = None
    return as_objects.tolist()
