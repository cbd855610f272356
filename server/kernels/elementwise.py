"""Coordinate-wise layers: leaky ReLU, sigmoid / logit and tanh / atanh.

Each acts on every coordinate with the same scalar map, so its Jacobian is diagonal and
log|det| is the sum of the log-derivatives. Points outside a layer's domain (e.g. a value
≥ 1 given to ``logit``) map to NaN, which :class:`~server.kernels.flow.Flow` reports as zero
density.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Self

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, Domain, Transform

LOG2 = np.log(2.0)


def _log_sigmoid_derivative(z: Array) -> Array:
    """log σ'(z) = log σ(z) + log σ(−z) = −|z| − 2 log(1 + e^{−|z|}), stable for any z."""
    a = np.abs(z)
    result: Array = -a - 2.0 * np.log1p(np.exp(-a))
    return result


def _sigmoid(z: Array) -> Array:
    result: Array = 0.5 * np.tanh(0.5 * z) + 0.5
    return result


def _logit(x: Array) -> Array:
    result: Array = np.log(x) - np.log1p(-x)
    return result


def _log_tanh_derivative(z: Array) -> Array:
    """log(1 − tanh² z) = 2 (log 2 − |z| − log(1 + e^{−2|z|})), stable for any z."""
    a = np.abs(z)
    result: Array = 2.0 * (LOG2 - a - np.log1p(np.exp(-2.0 * a)))
    return result


@dataclasses.dataclass(frozen=True, eq=False)
class LeakyReLU(Transform):
    """x = z for z ≥ 0 and x = a z for z < 0, with slope a > 0; log|det| = Σ [zᵢ < 0] log a.

    The invertible leaky-ReLU nonlinearity (Maas et al. 2013) as used in flows, e.g. the
    leaky-ReLU planar flow of Rezende & Mohamed 2015. Spec:
    ``{"type": "leaky_relu", "negative_slope": a}``.
    """

    kind = "leaky_relu"
    slope: np.floating[Any]
    log_slope: np.floating[Any]

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        slope = spec.number("negative_slope")
        if not slope > 0:
            raise spec.error(f"'negative_slope' must be > 0 to be invertible, got {slope}")
        return cls(slope=np.float64(slope), log_slope=np.float64(np.log(slope)))

    def forward(self, z: Array) -> tuple[Array, Array]:
        negative = z < 0
        x = np.where(negative, z * self.slope, z)
        logdet: Array = np.asarray(np.sum(negative, axis=1, dtype=z.dtype)) * self.log_slope
        return x, logdet

    def inverse(self, x: Array) -> tuple[Array, Array]:
        negative = x < 0
        z = np.where(negative, x / self.slope, x)
        logdet: Array = np.asarray(np.sum(negative, axis=1, dtype=x.dtype)) * -self.log_slope
        return z, logdet


@dataclasses.dataclass(frozen=True, eq=False)
class Sigmoid(Transform):
    """x = σ(z) = 1 / (1 + e^{−z}) into (0, 1); log|det| = Σ log σ(zᵢ)(1 − σ(zᵢ)).

    The squashing map Dinh et al. 2017 (sec. 4.1) use between bounded data and the real line.
    In float64 σ(z) rounds to 1 for z ≳ 37 (float32: z ≳ 17), beyond which it is not
    numerically invertible. Spec: ``{"type": "sigmoid"}``.
    """

    kind = "sigmoid"
    codomain = Domain.UNIT

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls()

    def forward(self, z: Array) -> tuple[Array, Array]:
        return _sigmoid(z), np.sum(_log_sigmoid_derivative(z), axis=1)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        inside = (x > 0) & (x < 1)
        safe = np.where(inside, x, 0.5)
        z = np.where(inside, _logit(safe), np.nan)
        log_derivative = np.where(inside, np.log(safe) + np.log1p(-safe), np.nan)
        return z, -np.sum(log_derivative, axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Logit(Transform):
    """x = logit(z) = log z − log(1 − z) from (0, 1); the inverse of :class:`Sigmoid`.

    log|det| = −Σ log zᵢ(1 − zᵢ). Dinh et al. 2017 (sec. 4.1) model logit-transformed pixels.
    Its inputs must lie in (0, 1), so it follows a ``sigmoid`` layer. Spec: ``{"type": "logit"}``.
    """

    kind = "logit"
    domain = Domain.UNIT

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls()

    def forward(self, z: Array) -> tuple[Array, Array]:
        z_back, logdet = Sigmoid().inverse(z)
        return z_back, logdet

    def inverse(self, x: Array) -> tuple[Array, Array]:
        return Sigmoid().forward(x)


@dataclasses.dataclass(frozen=True, eq=False)
class Tanh(Transform):
    """x = tanh(z) into (−1, 1); log|det| = Σ log(1 − tanh² zᵢ).

    A bounded squashing map (e.g. for bounded actions, Haarnoja et al. 2018). tanh(z) rounds
    to ±1 for |z| ≳ 19 in float64 (≳ 9 in float32). Spec: ``{"type": "tanh"}``.
    """

    kind = "tanh"
    codomain = Domain.SYMMETRIC_UNIT

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls()

    def forward(self, z: Array) -> tuple[Array, Array]:
        return np.tanh(z), np.sum(_log_tanh_derivative(z), axis=1)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        inside = np.abs(x) < 1
        safe = np.where(inside, x, 0.0)
        z = np.where(inside, np.arctanh(safe), np.nan)
        log_derivative = np.where(inside, np.log1p(-safe) + np.log1p(safe), np.nan)
        return z, -np.sum(log_derivative, axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Atanh(Transform):
    """x = atanh(z) from (−1, 1); the inverse of :class:`Tanh`, log|det| = −Σ log(1 − zᵢ²).

    Its inputs must lie in (−1, 1), so it follows a ``tanh`` layer. Spec: ``{"type": "atanh"}``.
    """

    kind = "atanh"
    domain = Domain.SYMMETRIC_UNIT

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        return cls()

    def forward(self, z: Array) -> tuple[Array, Array]:
        return Tanh().inverse(z)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        return Tanh().forward(x)
