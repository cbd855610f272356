"""Radial flow (Rezende & Mohamed 2015) with its closed-form inverse."""

from __future__ import annotations

import dataclasses
from typing import Any, Self

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, Transform


@dataclasses.dataclass(frozen=True, eq=False)
class Radial(Transform):
    """x = z + β h(α, r)(z − z₀), h = 1 / (α + r), r = ‖z − z₀‖.

    Rezende & Mohamed 2015, eqs. 14–15: log|det| = (D − 1) log(1 + βh) + log(1 + βh + βh′r),
    which simplifies to (D − 1) log(1 + βh) + log(1 + αβh²). Invertible iff α > 0 and β ≥ −α
    (appendix A.2); reparameterise an unconstrained β with :func:`radial_beta`.

    Inverse in closed form: the map keeps directions from z₀ and sends radius r to
    r′ = r (α + β + r) / (α + r), so r is the positive root of r² + (α + β − r′) r − α r′ = 0
    and z − z₀ = (x − z₀) (α + r) / (α + β + r).
    Spec: ``{"type": "radial", "z0": D, "alpha": α, "beta": β}``.
    """

    kind = "radial"
    z0: Array
    alpha: np.floating[Any]
    beta: np.floating[Any]

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        z0 = spec.vector("z0", dim)
        alpha = spec.number("alpha")
        beta = spec.number("beta")
        if not alpha > 0:
            raise spec.error(f"'alpha' must be > 0, got {alpha}")
        if beta < -alpha:
            raise spec.error(
                f"'beta' = {beta} < -alpha = {-alpha}, so the map is not invertible; "
                "use radial_beta(beta, alpha) for the effective beta"
            )
        return cls(z0=z0, alpha=np.float64(alpha), beta=np.float64(beta))

    def _logdet(self, r: Array, dim: int) -> tuple[Array, Array]:
        """βh and log|det| at radius r."""
        h = 1 / (self.alpha + r)
        beta_h = self.beta * h
        radial_stretch = 1 + beta_h  # > 0 since β ≥ −α
        normal_stretch = 1 + self.alpha * h * beta_h
        if dim == 2:  # one logarithm instead of two
            return beta_h, np.log(radial_stretch * normal_stretch)
        return beta_h, (dim - 1) * np.log(radial_stretch) + np.log(normal_stretch)

    def forward(self, z: Array) -> tuple[Array, Array]:
        dz = z - self.z0
        beta_h, logdet = self._logdet(_row_norms(dz), z.shape[1])
        x = dz * beta_h[:, None]
        x += z
        return x, logdet

    def inverse(self, x: Array) -> tuple[Array, Array]:
        dx = x - self.z0
        r_image = _row_norms(dx)
        p = self.alpha + self.beta - r_image
        root = np.sqrt(p * p + 4 * self.alpha * r_image)
        # The two algebraically equal forms avoid cancellation for either sign of p.
        r = np.where(p >= 0, 2 * self.alpha * r_image / (p + root), 0.5 * (root - p))
        r = np.where(r_image > 0, r, 0.0)  # x = z0 comes only from z = z0, even when p = 0
        ratio = np.where(r_image > 0, (self.alpha + r) / (self.alpha + self.beta + r), 1.0)
        z = self.z0 + ratio[:, None] * dx
        return z, -self._logdet(r, x.shape[1])[1]


def _row_norms(points: Array) -> Array:
    """‖row‖ for each row; a matrix-vector product sums the squares faster than a reduction
    along a short axis."""
    ones = np.ones(points.shape[1], dtype=points.dtype)
    result: Array = np.sqrt(np.square(points) @ ones)
    return result


def radial_beta(beta: float, alpha: float) -> float:
    """The paper's reparameterisation β̂ = −α + m(β), m(s) = log(1 + eˢ), so β̂ > −α.

    Rezende & Mohamed 2015, appendix A.2.
    """
    return -alpha + float(np.logaddexp(0.0, beta))
