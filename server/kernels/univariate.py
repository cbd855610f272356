"""The per-feature maps that coupling and autoregressive layers apply with conditioned parameters.

Each is written in the density direction, z = g(x; θ), as in the papers, and reports log g′(x)
per feature; the layer's generative forward applies g⁻¹ and negates the sum.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.spline import rq_spline_from_raw
from server.kernels.transform import Array


@dataclasses.dataclass(frozen=True, eq=False)
class MonotonicAffine:
    """z = x·exp(s) + t from raw parameters (t, ŝ) per feature, log g′ = s.

    This is RealNVP's coupling step y = x ⊙ exp(s) + t (Dinh et al. 2017, eq. 6) and, applied
    autoregressively, MAF's zᵢ = (xᵢ − μᵢ) exp(−αᵢ) (Papamakarios et al. 2017, eq. 3) with
    αᵢ = −sᵢ and μᵢ = −tᵢ exp(−sᵢ). With ``log_scale_bound`` c, s = ŝ / (1 + |ŝ|/c) keeps
    |s| < c (zuko's MonotonicAffineTransform uses c = −log 10⁻³); without it, s = ŝ.
    """

    log_scale_bound: np.floating[Any] | None
    params_per_feature = 2

    def _log_scale(self, raw: Array) -> Array:
        s = raw[..., 1]
        if self.log_scale_bound is None:
            return s
        bounded: Array = s / (1 + np.abs(s) * (1 / self.log_scale_bound))
        return bounded

    def density(self, x: Array, raw: Array) -> tuple[Array, Array]:
        s = self._log_scale(raw)
        z = x * np.exp(s)
        z += raw[..., 0]
        return z, s

    def generate(self, z: Array, raw: Array) -> tuple[Array, Array]:
        s = self._log_scale(raw)
        return (z - raw[..., 0]) * np.exp(-s), s


@dataclasses.dataclass(frozen=True, eq=False)
class MonotonicRQS:
    """z = g(x) for a rational-quadratic spline with K bins on [−B, B] and identity tails,
    whose knots come from 3K − 1 raw parameters per feature (see
    :func:`~server.kernels.spline.knots_from_raw`); Durkan et al. 2019."""

    bins: int
    bound: np.floating[Any]
    min_slope: np.floating[Any]

    @property
    def params_per_feature(self) -> int:
        return 3 * self.bins - 1

    def density(self, x: Array, raw: Array) -> tuple[Array, Array]:
        return rq_spline_from_raw(
            x, raw, self.bins, float(self.bound), float(self.min_slope), inverse=False
        )

    def generate(self, z: Array, raw: Array) -> tuple[Array, Array]:
        return rq_spline_from_raw(
            z, raw, self.bins, float(self.bound), float(self.min_slope), inverse=True
        )


Univariate = MonotonicAffine | MonotonicRQS


def read_affine(spec: SpecReader) -> MonotonicAffine:
    bound = spec.optional_number("log_scale_bound")
    if bound is not None and not bound > 0:
        raise spec.error(f"'log_scale_bound' must be > 0, got {bound}")
    return MonotonicAffine(None if bound is None else np.float64(bound))


def read_spline(spec: SpecReader) -> MonotonicRQS:
    bins = spec.integer("bins", minimum=1)
    bound = spec.number("bound", default=5.0)
    if not bound > 0:
        raise spec.error(f"'bound' must be > 0, got {bound}")
    min_slope = spec.number("min_slope", default=1e-3)
    if not 0 < min_slope < 1:
        raise spec.error(f"'min_slope' must be in (0, 1), got {min_slope}")
    return MonotonicRQS(bins, np.float64(bound), np.float64(min_slope))
