"""Monotonic rational-quadratic splines with identity tails (Durkan et al. 2019).

A spline g maps [−B, B] onto itself through K bins with knots (xₖ, yₖ) and positive knot
derivatives δₖ; outside [−B, B] it is the identity (the "linear tails" of sec. 3.1, with
δ₀ = δ_K = 1 so that the slope is continuous). In bin k, with ξ = (x − xₖ)/(xₖ₊₁ − xₖ)
and sₖ = (yₖ₊₁ − yₖ)/(xₖ₊₁ − xₖ) (eq. 4 and appendix A):

    g(x) = yₖ + (yₖ₊₁ − yₖ) [sₖξ² + δₖξ(1 − ξ)] / [sₖ + (δₖ₊₁ + δₖ − 2sₖ) ξ(1 − ξ)]
    g′(x) = sₖ² [δₖ₊₁ξ² + 2sₖξ(1 − ξ) + δₖ(1 − ξ)²] / [sₖ + (δₖ₊₁ + δₖ − 2sₖ) ξ(1 − ξ)]²

and the inverse solves the quadratic aξ² + bξ + c = 0 (eqs. 6–8) by the stable root
ξ = 2c / (−b − √(b² − 4ac)).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple, Self

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, BoolArray, IntArray, Transform


class Knots(NamedTuple):
    """Knot tables of shape (..., K + 1), broadcastable against the points (...)."""

    x: Array
    y: Array
    derivative: Array


def _gather(table: Array, k: IntArray) -> Array:
    """table[..., k]: per point if table is k.shape + (K+1,), else one (D, K+1) table shared."""
    if table.ndim == k.ndim + 1:
        return np.take_along_axis(table, k[..., None], axis=-1)[..., 0]
    return table[np.arange(table.shape[0]), k]


def _bin(knot_positions: Array, values: Array) -> tuple[IntArray, BoolArray]:
    """Bin index (clipped to 0..K−1) of each value and whether it lies inside (−B, B)."""
    bins = knot_positions.shape[-1] - 1
    interior = knot_positions[..., 1:bins]
    k = np.sum(interior <= values[..., None], axis=-1)  # tables per point or per coordinate
    inside = (values > knot_positions[..., 0]) & (values < knot_positions[..., bins])
    return k.astype(np.intp), inside


def rq_spline(x: Array, knots: Knots) -> tuple[Array, Array]:
    """y = g(x) and log g′(x), elementwise (identity and log-slope 0 outside the bound)."""
    k, inside = _bin(knots.x, x)
    x0, x1 = _gather(knots.x, k), _gather(knots.x, k + 1)
    y0, y1 = _gather(knots.y, k), _gather(knots.y, k + 1)
    d0, d1 = _gather(knots.derivative, k), _gather(knots.derivative, k + 1)
    width, height = x1 - x0, y1 - y0
    s = height / width
    xi = np.where(inside, (x - x0) / width, 0.0)
    xi_1 = xi * (1 - xi)
    denominator = s + (d0 + d1 - 2 * s) * xi_1
    y = y0 + height * (s * xi * xi + d0 * xi_1) / denominator
    numerator = s * s * (d1 * xi * xi + 2 * s * xi_1 + d0 * (1 - xi) * (1 - xi))
    log_slope = np.log(numerator) - 2 * np.log(denominator)
    return np.where(inside, y, x), np.where(inside, log_slope, 0.0)


def rq_spline_inverse(y: Array, knots: Knots) -> tuple[Array, Array]:
    """x = g⁻¹(y) and log g′(x) (the forward log-slope at the preimage)."""
    k, inside = _bin(knots.y, y)
    x0, x1 = _gather(knots.x, k), _gather(knots.x, k + 1)
    y0, y1 = _gather(knots.y, k), _gather(knots.y, k + 1)
    d0, d1 = _gather(knots.derivative, k), _gather(knots.derivative, k + 1)
    width, height = x1 - x0, y1 - y0
    s = height / width
    dy = np.where(inside, y - y0, 0.0)
    curvature = d0 + d1 - 2 * s
    a = height * (s - d0) + dy * curvature
    b = height * d0 - dy * curvature
    c = -s * dy
    xi = 2 * c / (-b - np.sqrt(np.maximum(b * b - 4 * a * c, 0.0)))
    xi_1 = xi * (1 - xi)
    denominator = s + curvature * xi_1
    numerator = s * s * (d1 * xi * xi + 2 * s * xi_1 + d0 * (1 - xi) * (1 - xi))
    log_slope = np.log(numerator) - 2 * np.log(denominator)
    return np.where(inside, x0 + xi * width, y), np.where(inside, log_slope, 0.0)


def knots_from_widths(widths: Array, heights: Array, derivatives: Array, bound: float) -> Knots:
    """Knots from positive bin widths and heights (rescaled to span [−B, B]) and K − 1
    positive interior derivatives; the boundary derivatives are 1 (identity tails)."""
    x = _cumulative_knots(widths / np.sum(widths, axis=-1, keepdims=True), bound)
    y = _cumulative_knots(heights / np.sum(heights, axis=-1, keepdims=True), bound)
    ones = np.ones((*derivatives.shape[:-1], 1), dtype=derivatives.dtype)
    return Knots(x, y, np.concatenate([ones, derivatives, ones], axis=-1))


def _cumulative_knots(fractions: Array, bound: float) -> Array:
    zero = np.zeros((*fractions.shape[:-1], 1), dtype=fractions.dtype)
    positions = bound * (2 * np.cumsum(np.concatenate([zero, fractions], axis=-1), axis=-1) - 1)
    positions[..., -1] = bound  # exact end knot despite rounding in the cumulative sum
    return positions


def knots_from_raw(raw: Array, bins: int, bound: float, min_slope: float) -> Knots:
    """Knots from a conditioner's raw outputs (..., 3K − 1) laid out [widths K, heights K,
    derivatives K − 1], mapped as zuko's MonotonicRQSTransform does.

    Each raw value is first soft-bounded, v / (1 + |v|/c), with c = −log(min_slope) / 2 for
    widths and heights and c = −log(min_slope) for derivatives; then widths and heights go
    through a softmax (Durkan et al. 2019, sec. 3.1) and derivatives through exp, so every
    derivative lies in (min_slope, 1/min_slope).
    """
    c = -math.log(min_slope)  # a Python float, so float32 raw values stay float32
    raw_w, raw_h, raw_d = raw[..., :bins], raw[..., bins : 2 * bins], raw[..., 2 * bins :]
    widths = _softmax(raw_w / (1 + np.abs(raw_w) * (2 / c)))
    heights = _softmax(raw_h / (1 + np.abs(raw_h) * (2 / c)))
    derivatives = np.exp(raw_d / (1 + np.abs(raw_d) * (1 / c)))
    ones = np.ones((*raw.shape[:-1], 1), dtype=raw.dtype)
    return Knots(
        _cumulative_knots(widths, bound),
        _cumulative_knots(heights, bound),
        np.concatenate([ones, derivatives, ones], axis=-1),
    )


def _softmax(v: Array) -> Array:
    e: Array = np.exp(v - np.max(v, axis=-1, keepdims=True))
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


@dataclasses.dataclass(frozen=True, eq=False)
class RQSpline(Transform):
    """Elementwise spline x = g_i(z_i) per coordinate, log|det| = Σᵢ log gᵢ′(zᵢ).

    Durkan et al. 2019 (Neural Spline Flows) with fixed, effective knots. Spec:
    ``{"type": "rq_spline", "bound": B, "widths": D×K positive, "heights": D×K positive,
    "derivatives": D×(K−1) positive}``; widths and heights are relative (each row is rescaled
    to span [−B, B]), derivatives are the slopes at the interior knots.
    """

    kind = "rq_spline"
    knots: Knots

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        bound = spec.number("bound")
        if not bound > 0:
            raise spec.error(f"'bound' must be > 0, got {bound}")
        widths_raw = spec.raw("widths")
        bins = (
            len(widths_raw[0])
            if isinstance(widths_raw, list) and widths_raw and isinstance(widths_raw[0], list)
            else 0
        )
        if bins < 1:
            raise spec.error(f"'widths' must be a {dim}×K list of positive numbers")
        parts = {
            "widths": spec.array("widths", (dim, bins)),
            "heights": spec.array("heights", (dim, bins)),
            "derivatives": spec.array("derivatives", (dim, bins - 1)),
        }
        for name, values in parts.items():
            if np.any(values <= 0):
                i = np.argwhere(values <= 0)[0].tolist()
                raise spec.error(f"'{name}' must be positive, got {values[tuple(i)]} at {i}")
        knots = knots_from_widths(parts["widths"], parts["heights"], parts["derivatives"], bound)
        return cls(knots=knots)

    def forward(self, z: Array) -> tuple[Array, Array]:
        x, log_slope = rq_spline(z, self.knots)
        return x, np.sum(log_slope, axis=1)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        z, log_slope = rq_spline_inverse(x, self.knots)
        return z, -np.sum(log_slope, axis=1)
