"""Coupling layers: an MLP of the unchanged features conditions a map of the others."""

from __future__ import annotations

import dataclasses
from typing import Self

import numpy as np

from server.kernels.conditioner import MLP, read_mlp
from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, IntArray, Transform
from server.kernels.univariate import MonotonicAffine, MonotonicRQS, read_affine, read_spline


@dataclasses.dataclass(frozen=True, eq=False)
class _Coupling(Transform):
    """x_a = z_a for the features the mask marks; the rest go through g(·; θ(x_a)).

    Density direction (Dinh et al. 2017, eq. 4–6): z_b = g(x_b; θ(x_a)), so
    log|det df⁻¹/dx| = Σ log g′(x_b); the generative forward is x_b = g⁻¹(z_b; θ(z_a)).
    θ(x_a) is ``net`` applied to x_a (the masked features, in index order), its output
    viewed as (m, P): P parameters for each of the m transformed features, in index order.
    """

    conditioning: IntArray
    transformed: IntArray
    net: MLP
    univariate: MonotonicAffine | MonotonicRQS

    @classmethod
    def _read(cls, spec: SpecReader, dim: int, univariate: MonotonicAffine | MonotonicRQS) -> Self:
        mask = spec.mask("mask", dim)
        conditioning, transformed = np.flatnonzero(mask), np.flatnonzero(~mask)
        net = read_mlp(
            spec.child("net"), conditioning.size, transformed.size * univariate.params_per_feature
        )
        return cls(
            conditioning=conditioning, transformed=transformed, net=net, univariate=univariate
        )

    def _raw(self, x_a: Array) -> Array:
        raw = self.net(x_a)
        return raw.reshape(x_a.shape[0], self.transformed.size, self.univariate.params_per_feature)

    def scratch_width(self) -> int:
        return self.net.widest

    def inverse(self, x: Array) -> tuple[Array, Array]:
        raw = self._raw(x[:, self.conditioning])
        z_b, log_slope = self.univariate.density(x[:, self.transformed], raw)
        z = x.copy()
        z[:, self.transformed] = z_b
        return z, np.sum(log_slope, axis=1)

    def forward(self, z: Array) -> tuple[Array, Array]:
        raw = self._raw(z[:, self.conditioning])
        x_b, log_slope = self.univariate.generate(z[:, self.transformed], raw)
        x = z.copy()
        x[:, self.transformed] = x_b
        return x, -np.sum(log_slope, axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class AffineCoupling(_Coupling):
    """RealNVP affine coupling (Dinh et al. 2017): z_b = x_b ⊙ exp(s(x_a)) + t(x_a).

    Spec: ``{"type": "affine_coupling", "mask": D booleans (true = passes through and
    conditions), "net": {"weights", "biases", "activation"} mapping d → … → 2m with outputs
    (t₁, ŝ₁, t₂, ŝ₂, …), "log_scale_bound": c or null}`` (see
    :class:`~server.kernels.univariate.MonotonicAffine`).
    """

    kind = "affine_coupling"

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls._read(spec, dim, read_affine(spec))


@dataclasses.dataclass(frozen=True, eq=False)
class RQSplineCoupling(_Coupling):
    """Rational-quadratic spline coupling (Durkan et al. 2019, sec. 3.2): z_b = g(x_b; θ(x_a)).

    Spec: ``{"type": "rq_spline_coupling", "mask", "net" (d → … → m(3K − 1)), "bins": K,
    "bound": B (default 5), "min_slope": default 1e-3}``; each feature's 3K − 1 outputs are
    [widths K, heights K, interior derivatives K − 1] before the mapping of
    :func:`~server.kernels.spline.knots_from_raw`.
    """

    kind = "rq_spline_coupling"

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls._read(spec, dim, read_spline(spec))
