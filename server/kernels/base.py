"""Base distributions of a flow: the standard normal and a diagonal normal."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array

LOG_2PI = float(np.log(2 * np.pi))


@dataclasses.dataclass(frozen=True, eq=False)
class DiagonalNormal:
    """p(z) = Πᵢ N(zᵢ; locᵢ, scaleᵢ²); the standard normal has loc = 0 and scale = 1.

    log p(z) = −½ Σᵢ ((zᵢ − locᵢ)/scaleᵢ)² − Σᵢ log scaleᵢ − (D/2) log 2π.
    Spec: ``{"type": "normal"}`` or ``{"type": "diag_normal", "loc": D, "scale": D > 0}``.
    """

    loc: Array
    scale: Array
    log_normaliser: float
    standard: bool

    def log_prob(self, z: Array) -> Array:
        u = z if self.standard else (z - self.loc) / self.scale
        log_p: Array = -0.5 * np.einsum("ij,ij->i", u, u) - self.log_normaliser
        return log_p.astype(z.dtype, copy=False)

    def sample(self, n: int, rng: np.random.Generator, dtype: np.dtype[Any]) -> Array:
        z = rng.standard_normal((n, self.loc.size))
        if not self.standard:
            z = z * self.scale + self.loc
        return z.astype(dtype, copy=False)


def read_base(spec: SpecReader, dim: int) -> DiagonalNormal:
    kind = spec.string("type", ("normal", "diag_normal"))
    if kind == "normal":
        loc: Array = np.zeros(dim)
        scale: Array = np.ones(dim)
    else:
        loc, scale = spec.vector("loc", dim), spec.vector("scale", dim)
        if np.any(scale <= 0):
            i = int(np.flatnonzero(scale <= 0)[0])
            raise spec.error(f"'scale' must be positive, got {scale[i]} at index {i}")
    spec.finish()
    log_normaliser = float(np.sum(np.log(scale)) + 0.5 * dim * LOG_2PI)
    return DiagonalNormal(loc, scale, log_normaliser, standard=kind == "normal")
