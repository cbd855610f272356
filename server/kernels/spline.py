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
    x0, y0 = _gather(knots.x, k), _gather(knots.y, k)
    width, height = _gather(knots.x, k + 1) - x0, _gather(knots.y, k + 1) - y0
    d0, d1 = _gather(knots.derivative, k), _gather(knots.derivative, k + 1)
    return _bin_forward(x, inside, x0, y0, width, height, d0, d1)


def rq_spline_inverse(y: Array, knots: Knots) -> tuple[Array, Array]:
    """x = g⁻¹(y) and log g′(x) (the forward log-slope at the preimage)."""
    k, inside = _bin(knots.y, y)
    x0, y0 = _gather(knots.x, k), _gather(knots.y, k)
    width, height = _gather(knots.x, k + 1) - x0, _gather(knots.y, k + 1) - y0
    d0, d1 = _gather(knots.derivative, k), _gather(knots.derivative, k + 1)
    return _bin_inverse(y, inside, x0, y0, width, height, d0, d1)


def _bin_forward(
    x: Array,
    inside: BoolArray,
    x0: Array,
    y0: Array,
    width: Array,
    height: Array,
    d0: Array,
    d1: Array,
) -> tuple[Array, Array]:
    """Durkan et al. eq. 4 in the bin whose lower knot is (x0, y0); identity outside."""
    s = height / width
    xi = np.where(inside, (x - x0) / width, 0.0)
    xi_1 = xi * (1 - xi)
    denominator = s + (d0 + d1 - 2 * s) * xi_1
    y = y0 + height * (s * xi * xi + d0 * xi_1) / denominator
    return np.where(inside, y, x), np.where(
        inside, _log_slope(xi, xi_1, s, d0, d1, denominator), 0.0
    )


def _bin_inverse(
    y: Array,
    inside: BoolArray,
    x0: Array,
    y0: Array,
    width: Array,
    height: Array,
    d0: Array,
    d1: Array,
) -> tuple[Array, Array]:
    """The root ξ ∈ [0, 1] of Durkan et al. eqs. 6–8 in the bin; identity outside."""
    s = height / width
    dy = np.where(inside, y - y0, 0.0)
    curvature = d0 + d1 - 2 * s
    a = height * (s - d0) + dy * curvature
    b = height * d0 - dy * curvature
    c = -s * dy
    xi = 2 * c / (-b - np.sqrt(np.maximum(b * b - 4 * a * c, 0.0)))
    xi_1 = xi * (1 - xi)
    denominator = s + curvature * xi_1
    log_slope = _log_slope(xi, xi_1, s, d0, d1, denominator)
    return np.where(inside, x0 + xi * width, y), np.where(inside, log_slope, 0.0)


def _log_slope(xi: Array, xi_1: Array, s: Array, d0: Array, d1: Array, denominator: Array) -> Array:
    """log g′ = log(s² [δ₁ξ² + 2sξ(1 − ξ) + δ₀(1 − ξ)²]) − 2 log(denominator)."""
    one_minus = 1 - xi
    numerator = s * s * (d1 * xi * xi + 2 * s * xi_1 + d0 * one_minus * one_minus)
    result: Array = np.log(numerator) - 2 * np.log(denominator)
    return result


def rq_spline_from_raw(
    values: Array, raw: Array, bins: int, bound: float, min_slope: float, inverse: bool
) -> tuple[Array, Array]:
    """g(values), or g⁻¹(values) with ``inverse``, and log g′ at the preimage, for per-point
    raw parameters ``raw`` (n, m, 3K − 1) and values (n, m).

    The same map as :func:`knots_from_raw` then :func:`rq_spline`, computed without full knot
    tables: soft-bounded raw widths and heights lie in (−c/2, c/2), so their exponentials
    cannot overflow and the softmax needs no max-shift; the bin search compares against
    unnormalised cumulative sums; only the two derivatives of each point's bin are
    exponentiated.
    """
    n, m, per_feature = raw.shape
    c = -math.log(min_slope)
    flat = raw.reshape(n * m, per_feature)
    cum_w = _cumsum_from_zero(np.exp(_soft_bound(flat[:, :bins], c / 2)))
    cum_h = _cumsum_from_zero(np.exp(_soft_bound(flat[:, bins : 2 * bins], c / 2)))
    total_w, total_h = cum_w[:, bins], cum_h[:, bins]
    v = values.reshape(n * m)
    search, total = (cum_h, total_h) if inverse else (cum_w, total_w)
    scaled = (v + bound) * (total / (2 * bound))
    k = np.count_nonzero(search[:, 1:bins] <= scaled[:, None], axis=1)
    inside = (v > -bound) & (v < bound)
    lower = np.arange(n * m) * (bins + 1) + k
    w_lo, w_hi = cum_w.ravel()[lower], cum_w.ravel()[lower + 1]
    h_lo, h_hi = cum_h.ravel()[lower], cum_h.ravel()[lower + 1]
    scale_w, scale_h = (2 * bound) / total_w, (2 * bound) / total_h
    x0, width = w_lo * scale_w - bound, (w_hi - w_lo) * scale_w
    y0, height = h_lo * scale_h - bound, (h_hi - h_lo) * scale_h
    d0, d1 = _knot_derivatives(flat, k, bins, c)
    step = _bin_inverse if inverse else _bin_forward
    result, log_slope = step(v, inside, x0, y0, width, height, d0, d1)
    return result.reshape(n, m), log_slope.reshape(n, m)


def _soft_bound(v: Array, bound: float) -> Array:
    """v / (1 + |v|/bound), in (−bound, bound)."""
    result: Array = v / (1 + np.abs(v) * (1 / bound))
    return result


def _cumsum_from_zero(values: Array) -> Array:
    out = np.empty((values.shape[0], values.shape[1] + 1), dtype=values.dtype)
    out[:, 0] = 0
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def _knot_derivatives(flat: Array, k: IntArray, bins: int, c: float) -> tuple[Array, Array]:
    """δ at knots k and k + 1 from the raw interior derivatives (δ₀ = δ_K = 1)."""
    rows = np.arange(flat.shape[0])
    first = 2 * bins  # column of the raw derivative of knot 1
    d0 = np.where(k > 0, flat[rows, first + np.maximum(k - 1, 0)], 0.0)
    d1 = np.where(k < bins - 1, flat[rows, first + np.minimum(k, bins - 2)], 0.0)
    return np.exp(_soft_bound(d0, c)), np.exp(_soft_bound(d1, c))


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

    def scratch_width(self) -> int:
        """The bin search compares each coordinate with every knot: D × (K + 1) per row."""
        return int(self.knots.x.size)

    def forward(self, z: Array) -> tuple[Array, Array]:
        x, log_slope = rq_spline(z, self.knots)
        return x, np.sum(log_slope, axis=1)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        z, log_slope = rq_spline_inverse(x, self.knots)
        return z, -np.sum(log_slope, axis=1)
