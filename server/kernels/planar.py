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

    def _logdet(self, h: Array) -> Array:
        # 1 + wu (1 − h²) = (1 + wu) − wu h², which is ≥ 0 because wu ≥ −1
        result: Array = np.log((1 + self.wu) - self.wu * (h * h))
        return result

    def forward(self, z: Array) -> tuple[Array, Array]:
        h = np.tanh(z @ self.w + self.b)
        x = h[:, None] * self.u
        x += z
        return x, self._logdet(h)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        h = np.tanh(solve_planar_preimage(x @ self.w + self.b, self.wu))
        z = x - h[:, None] * self.u
        return z, -self._logdet(h)


def solve_planar_preimage(c: Array, wu: np.floating[Any]) -> Array:
    """Solve a + wu·tanh(a) = c for a, elementwise, with wu ≥ −1.

    g(a) = a + wu tanh(a) − c is increasing, and |tanh| < 1 puts the root in the bracket
    [c − |wu|, c + |wu|]. Each point takes Newton steps while they land inside its shrinking
    bracket and bisects otherwise (a safeguarded Newton method, as "rtsafe" in Numerical
    Recipes sec. 9.4), so it converges even at wu = −1, where g′(0) = 0. A point stops when
    its residual is at rounding level, 4ε(|a| + |wu| + |c|), or its bracket has collapsed;
    finished points are dropped from the working arrays once they are half of them.
    """
    eps = np.finfo(c.dtype).eps
    spread = np.abs(wu)
    result: Array = np.clip(c - wu * np.tanh(c), c - spread, c + spread)
    active = np.arange(c.size)
    a, target = result, c
    lo, hi = c - spread, c + spread
    for _ in range(MAX_ROOT_ITERATIONS):
        t = np.tanh(a)
        g = a + wu * t - target
        scale = np.abs(a) + spread + np.abs(target)
        lo = np.where(g < 0, a, lo)
        hi = np.where(g > 0, a, hi)
        newton = a - g / (1 + wu * (1 - t * t))
        inside = (newton > lo) & (newton < hi)
        done = (np.abs(g) <= 4 * eps * scale) | (hi - lo <= 4 * eps * scale)
        a = np.where(done, a, np.where(inside, newton, 0.5 * (lo + hi)))
        result[active] = a
        if done.all():
            break
        if np.count_nonzero(done) * 2 >= done.size:  # compact the working arrays
            keep = ~done
            active, a, target, lo, hi = active[keep], a[keep], target[keep], lo[keep], hi[keep]
    return result


def planar_u_hat(u: Array, w: Array) -> Array:
    """The paper's reparameterisation û = u + (m(wᵀu) − wᵀu) w / ‖w‖², m(s) = −1 + log(1 + eˢ).

    Rezende & Mohamed 2015, appendix A.1: for any unconstrained u it gives wᵀû = m(wᵀu) > −1,
    so the planar map with û is invertible.
    """
    wu = float(np.dot(w, u))
    m = -1.0 + float(np.logaddexp(0.0, wu))
    return np.asarray(u + (m - wu) * w / float(np.dot(w, w)), dtype=np.float64)
