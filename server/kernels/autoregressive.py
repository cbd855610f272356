"""Masked autoregressive layers (MAF and its spline variant)."""

from __future__ import annotations

import dataclasses
from typing import Self

import numpy as np

from server.kernels.conditioner import MLP, check_autoregressive, read_mlp
from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, IntArray, Transform
from server.kernels.univariate import MonotonicAffine, MonotonicRQS, read_affine, read_spline


@dataclasses.dataclass(frozen=True, eq=False)
class _Autoregressive(Transform):
    """zᵢ = g(xᵢ; θᵢ(x_{<i})), where "<" follows ``order`` (feature j precedes i iff
    order[j] < order[i]) and θ comes from one MADE net (Germain et al. 2015) whose output,
    viewed as (D, P), holds P parameters per feature.

    Density direction (Papamakarios et al. 2017, sec. 3.1): one pass of the net, and
    log|det df⁻¹/dx| = Σ log g′(xᵢ). Generative forward: D sequential passes, feature by
    feature in ``order``, each reusing the features already generated.
    """

    order: IntArray
    sequence: IntArray  # features in generation order
    net: MLP
    univariate: MonotonicAffine | MonotonicRQS

    @classmethod
    def _read(cls, spec: SpecReader, dim: int, univariate: MonotonicAffine | MonotonicRQS) -> Self:
        order = spec.permutation("order", dim, default_identity=True)
        net = read_mlp(spec.child("net"), dim, dim * univariate.params_per_feature)
        check_autoregressive(spec, net, order, univariate.params_per_feature)
        return cls(order=order, sequence=np.argsort(order), net=net, univariate=univariate)

    def _raw(self, x: Array) -> Array:
        return self.net(x).reshape(x.shape[0], x.shape[1], self.univariate.params_per_feature)

    def scratch_width(self) -> int:
        return self.net.widest

    def inverse(self, x: Array) -> tuple[Array, Array]:
        z, log_slope = self.univariate.density(x, self._raw(x))
        return z, np.sum(log_slope, axis=1)

    def forward(self, z: Array) -> tuple[Array, Array]:
        x = np.zeros_like(z)
        logdet = np.zeros(z.shape[0], dtype=z.dtype)
        for i in self.sequence:
            raw = self._raw(x)[:, i : i + 1]
            x_i, log_slope = self.univariate.generate(z[:, i : i + 1], raw)
            x[:, i] = x_i[:, 0]
            logdet -= log_slope[:, 0]
        return x, logdet


@dataclasses.dataclass(frozen=True, eq=False)
class MAF(_Autoregressive):
    """Masked autoregressive flow layer (Papamakarios et al. 2017), affine per feature.

    Spec: ``{"type": "maf", "order": permutation of 0..D−1 (default identity), "net": MADE
    weights D → … → 2D, outputs (t₁, ŝ₁, t₂, ŝ₂, …), "log_scale_bound": c or null}``. The
    weights must respect ``order`` (a zero where MADE's mask is zero, see
    :func:`~server.kernels.conditioner.made_masks`); a net that does not is refused.
    """

    kind = "maf"

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls._read(spec, dim, read_affine(spec))


@dataclasses.dataclass(frozen=True, eq=False)
class RQSplineAutoregressive(_Autoregressive):
    """Autoregressive rational-quadratic spline layer (Durkan et al. 2019, sec. 3.2).

    Spec: ``{"type": "rq_spline_autoregressive", "order", "net" (D → … → D(3K − 1)),
    "bins": K, "bound": B (default 5), "min_slope": default 1e-3}``.
    """

    kind = "rq_spline_autoregressive"

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls._read(spec, dim, read_spline(spec))
