"""Linear-type layers: affine, LU-parameterised linear, ActNorm and permutation."""

from __future__ import annotations

import dataclasses
from typing import Any, Self

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, IntArray, Transform, zeros_logdet

MAX_CONDITION = 1e12
"""Affine maps worse conditioned than this are refused as singular to working precision."""


def _condition_number(matrix: Array) -> float:
    """σ_max / σ_min, and inf for an exactly singular matrix (without a division warning)."""
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    smallest = float(singular_values[-1])
    return float(singular_values[0]) / smallest if smallest > 0 else float("inf")


@dataclasses.dataclass(frozen=True, eq=False)
class Affine(Transform):
    """Affine map x = A z + b with log|det| = log|det A|, a constant.

    The linear building block of every flow (e.g. Rezende & Mohamed 2015, sec. 2); the inverse
    z = A⁻¹(x − b) uses A⁻¹ computed once, in float64, at build time.
    Spec: ``{"type": "affine", "A": D×D, "b": D}``; A must be non-singular.
    """

    kind = "affine"
    A_t: Array  # Aᵀ, so that rows transform as z @ Aᵀ
    A_inv_t: Array
    b: Array
    logabsdet: np.floating[Any]

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        A = spec.array("A", (dim, dim))
        b = spec.vector("b", dim)
        condition = _condition_number(A)
        if not condition <= MAX_CONDITION:
            raise spec.error(
                f"'A' is singular (condition number {condition:.3g} > {MAX_CONDITION:.0e}); "
                "an affine layer must be invertible"
            )
        _, logabsdet = np.linalg.slogdet(A)
        return cls(
            A_t=A.T.copy(), A_inv_t=np.linalg.inv(A).T.copy(), b=b, logabsdet=np.float64(logabsdet)
        )

    def forward(self, z: Array) -> tuple[Array, Array]:
        x = z @ self.A_t
        x += self.b
        return x, np.full(z.shape[0], self.logabsdet, dtype=z.dtype)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        z = (x - self.b) @ self.A_inv_t
        return z, np.full(x.shape[0], -self.logabsdet, dtype=x.dtype)


@dataclasses.dataclass(frozen=True, eq=False)
class LULinear(Affine):
    """LU-parameterised linear map x = P L U z + b, log|det| = Σᵢ log|Uᵢᵢ|.

    Kingma & Dhariwal 2018 (Glow, sec. 3.2): the determinant is read off U's diagonal, so it
    costs O(D). Spec: ``{"type": "lu_linear", "perm": [π…], "L": D×D unit lower triangular,
    "U": D×D upper triangular with non-zero diagonal, "b": D}``, where (P y)ᵢ = y_{π(i)}.
    """

    kind = "lu_linear"

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        perm = spec.permutation("perm", dim)
        L = spec.array("L", (dim, dim))
        U = spec.array("U", (dim, dim))
        b = spec.vector("b", dim)
        if np.any(np.triu(L, 1)) or np.any(np.diag(L) != 1):
            raise spec.error(
                "'L' must be unit lower triangular (ones on its diagonal, zeros above)"
            )
        if np.any(np.tril(U, -1)):
            raise spec.error("'U' must be upper triangular (zeros below the diagonal)")
        diagonal = np.abs(np.diag(U))
        if np.any(diagonal == 0):
            i = int(np.argmin(diagonal))
            raise spec.error(f"'U' has a zero on its diagonal at index {i}; the map is singular")
        P = np.eye(dim)[perm]
        W = P @ L @ U
        condition = _condition_number(W)
        if not condition <= MAX_CONDITION:
            raise spec.error(
                f"P L U is singular (condition number {condition:.3g} > {MAX_CONDITION:.0e})"
            )
        W_inv = np.linalg.solve(U, np.linalg.solve(L, P.T))
        return cls(
            A_t=W.T.copy(),
            A_inv_t=W_inv.T.copy(),
            b=b,
            logabsdet=np.float64(np.sum(np.log(diagonal))),
        )


@dataclasses.dataclass(frozen=True, eq=False)
class ActNorm(Transform):
    """Per-feature affine x = s ⊙ z + t, log|det| = Σᵢ log|sᵢ|.

    Kingma & Dhariwal 2018 (Glow, sec. 3.1) initialise s and t from data so that the data's
    preimage has zero mean and unit variance: see :func:`actnorm_from_data`.
    Spec: ``{"type": "actnorm", "scale": D non-zero, "bias": D}``.
    """

    kind = "actnorm"
    scale: Array
    bias: Array
    logabsdet: np.floating[Any]

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        scale = spec.vector("scale", dim)
        bias = spec.vector("bias", dim)
        if np.any(scale == 0):
            i = int(np.flatnonzero(scale == 0)[0])
            raise spec.error(f"'scale' must be non-zero, got 0 at index {i}")
        return cls(scale=scale, bias=bias, logabsdet=np.float64(np.sum(np.log(np.abs(scale)))))

    def forward(self, z: Array) -> tuple[Array, Array]:
        return z * self.scale + self.bias, np.full(z.shape[0], self.logabsdet, dtype=z.dtype)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        return (x - self.bias) / self.scale, np.full(x.shape[0], -self.logabsdet, dtype=x.dtype)


def actnorm_from_data(x: Array) -> dict[str, Any]:
    """The data-dependent ActNorm initialisation of Glow as a layer spec.

    With t = mean(x) and s = std(x), the layer's inverse maps the batch ``x`` (n, D) to zero
    mean and unit variance per feature.
    """
    std = np.std(x, axis=0)
    return {
        "type": "actnorm",
        "scale": np.where(std > 0, std, 1.0).tolist(),
        "bias": np.mean(x, axis=0).tolist(),
    }


@dataclasses.dataclass(frozen=True, eq=False)
class Permutation(Transform):
    """Coordinate permutation xᵢ = z_{π(i)}, log|det| = 0.

    Used between coupling layers so that every feature gets transformed (Dinh et al. 2017).
    Spec: ``{"type": "permutation", "perm": [π(0), …, π(D−1)]}``.
    """

    kind = "permutation"
    codomain = None
    perm: IntArray
    inverse_perm: IntArray

    @classmethod
    def from_spec(cls, spec: SpecReader, dim: int) -> Self:
        perm = spec.permutation("perm", dim)
        return cls(perm=perm, inverse_perm=np.argsort(perm))

    def forward(self, z: Array) -> tuple[Array, Array]:
        return z[:, self.perm], zeros_logdet(z)

    def inverse(self, x: Array) -> tuple[Array, Array]:
        return x[:, self.inverse_perm], zeros_logdet(x)
