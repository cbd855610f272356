"""Planar flow (Rezende & Mohamed 2015) with its guarded inverse."""

from __future__ import annotations

import dataclasses
from typing import Any, Self

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, Transform

MAX_ROOT_ITERATIONS = 200


@dataclasses.dataclass(frozen=True, eq=False)
class Planar(Transform):
    """x = z + u tanh(wᵀz + b); log|det| = log|1 + wᵀu (1 − tanh²(wᵀz + b))|.

    Rezende & Mohamed 2015, eqs. 10–12 (arXiv 1505.05770). With h = tanh the map is invertible
    iff wᵀu ≥ −1 (appendix A.1); the spec's u is the effective one and is refused otherwise
    (reparameterise an unconstrained u with :func:`planar_u_hat`). There is no closed-form
    inverse: along w the map reduces to the scalar equation a + wᵀu tanh(a) = wᵀx + b for
    a = wᵀz + b, solved by :func:`solve_planar_preimage`, and then z = x − u tanh(a).
    Spec: ``{"type": "planar", "u": D, "w": D, "b": number}``.
    """

    kind = "planar"
    u: Array
    w: Array
    b: np.floating[Any]
    wu: np.floating[Any]

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        u = spec.vector("u", dim)
        w = spec.vector("w", dim)
        b = spec.number("b")
        wu = float(w @ u)
        if wu < -1:
            raise spec.error(
                f"wᵀu = {wu:.6g} < -1, so the map is not invertible; "
                "use planar_u_hat(u, w) for the effective u"
            )
        return cls(u=u, w=w, b=np.float64(b), wu=np.float64(wu))

    def forward(self, z: Array) -> tuple[Array, Array]:
        h = np.tanh(z @ self.w + self.b)
        x = z + h[:, None] * self.u
        return x, np.log(np.abs(1 + self.wu * (1 - h * h)))

    def inverse(self, x: Array) -> tuple[Array, Array]:
        a = solve_planar_preimage(x @ self.w + self.b, self.wu)
        h = np.tanh(a)
        z = x - h[:, None] * self.u
        return z, -np.log(np.abs(1 + self.wu * (1 - h * h)))


def solve_planar_preimage(c: Array, wu: np.floating[Any]) -> Array:
    """Solve a + wu·tanh(a) = c for a, elementwise, with wu ≥ −1.

    g(a) = a + wu tanh(a) − c is non-decreasing, and |tanh| < 1 puts the root in
    [c − |wu|, c + |wu|]. Newton steps are taken while they stay inside the shrinking bracket
    and at least halve the step before last; otherwise the bracket is bisected (the guard of
    "rtsafe", Press et al., Numerical Recipes sec. 9.4). So it converges even at wu = −1,
    where g'(0) = 0 and plain Newton crawls or divides by zero.
    """
    eps = np.finfo(c.dtype).eps
    spread = np.abs(wu)
    lo, hi = c - spread, c + spread
    a = np.clip(c - wu * np.tanh(c), lo, hi)
    a_typed: Array
    step = np.full_like(c, np.inf)
    older_step = np.full_like(c, np.inf)
    for _ in range(MAX_ROOT_ITERATIONS):
        t = np.tanh(a)
        g = a + wu * t - c
        lo = np.where(g < 0, a, lo)
        hi = np.where(g > 0, a, hi)
        newton_step = g / (1 + wu * (1 - t * t))
        newton = a - newton_step
        usable = (newton > lo) & (newton < hi) & (np.abs(newton_step) <= 0.5 * np.abs(older_step))
        new_a = np.where(usable, newton, 0.5 * (lo + hi))
        new_a = np.where(g == 0, a, new_a)
        older_step, step = step, new_a - a
        a = new_a
        tolerance = 2 * eps * (1 + np.abs(a))
        if np.all((np.abs(step) <= tolerance) | (hi - lo <= tolerance)):
            break
    a_typed = a
    return a_typed


def planar_u_hat(u: Array, w: Array) -> Array:
    """The paper's reparameterisation û = u + (m(wᵀu) − wᵀu) w / ‖w‖², m(s) = −1 + log(1 + eˢ).

    Rezende & Mohamed 2015, appendix A.1: for any unconstrained u it gives wᵀû = m(wᵀu) > −1,
    so the planar map with û is invertible.
    """
    wu = float(np.dot(w, u))
    m = -1.0 + float(np.logaddexp(0.0, wu))
    return np.asarray(u + (m - wu) * w / float(np.dot(w, w)), dtype=np.float64)
