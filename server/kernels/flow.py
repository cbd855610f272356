"""A flow: a base distribution pushed through a chain of transforms, x = f_K ∘ … ∘ f_1(z)."""

from __future__ import annotations

from typing import Any

import numpy as np

from server.kernels.base import DiagonalNormal
from server.kernels.blocks import block_rows
from server.kernels.errors import SpecError
from server.kernels.transform import Array, Transform

FLOAT_TYPES: dict[str, np.dtype[Any]] = {
    "float64": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
}


class Flow:
    """Density p(x) = p_Z(f⁻¹(x)) |det df⁻¹/dx| of x = f(z), z ~ base.

    The forward direction is generative. Every method takes points of shape (n, D) and
    computes in the flow's ``dtype`` when the spec fixes one, else in float32 for float32
    input and float64 otherwise. Points outside the flow's support (where an inverse is
    undefined, e.g. beyond a sigmoid's (0, 1)) get log-density −inf.
    """

    def __init__(
        self,
        dim: int,
        base: DiagonalNormal,
        layers: tuple[Transform, ...],
        dtype: np.dtype[Any] | None = None,
    ) -> None:
        self.dim = dim
        self.base = base
        self.layers = layers
        self.dtype = dtype
        self._cast: dict[np.dtype[Any], tuple[Transform, ...]] = {np.dtype(np.float64): layers}

    def __repr__(self) -> str:
        kinds = ", ".join(layer.kind for layer in self.layers)
        return f"Flow(dim={self.dim}, layers=[{kinds}])"

    def truncated(self, count: int) -> Flow:
        """The flow made of the first ``count`` layers (for showing a chain step by step)."""
        return Flow(self.dim, self.base, self.layers[:count], self.dtype)

    def _layers(self, dtype: np.dtype[Any]) -> tuple[Transform, ...]:
        if dtype not in self._cast:
            self._cast[dtype] = tuple(layer.astype(dtype) for layer in self.layers)
        return self._cast[dtype]

    def _points(self, points: Any, name: str) -> Array:
        array = np.asarray(points)
        if self.dtype is not None:
            dtype = self.dtype
        elif array.dtype == np.float32:
            dtype = np.dtype(np.float32)
        else:
            dtype = np.dtype(np.float64)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise SpecError(f"{name} must have shape (n, {self.dim}), got {array.shape}")
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise SpecError(f"{name} must hold numbers, got dtype {array.dtype}")
        array = np.ascontiguousarray(array, dtype=dtype)
        finite = np.isfinite(array)
        if not finite.all():
            row, col = (int(i) for i in np.argwhere(~finite)[0])
            raise SpecError(f"{name} has a non-finite value {array[row, col]} at [{row}, {col}]")
        return array

    @np.errstate(all="ignore")
    def forward(self, z: Any) -> tuple[Array, Array]:
        """x = f(z) and log|det df/dz| per row."""
        points = self._points(z, "z")
        return self._in_blocks(points, self._layers(points.dtype), inverse=False)

    @np.errstate(all="ignore")
    def inverse(self, x: Any) -> tuple[Array, Array]:
        """z = f⁻¹(x) and log|det df⁻¹/dx| per row."""
        points = self._points(x, "x")
        return self._in_blocks(points, self._layers(points.dtype)[::-1], inverse=True)

    @staticmethod
    def _in_blocks(
        points: Array, layers: tuple[Transform, ...], inverse: bool
    ) -> tuple[Array, Array]:
        """Push ``points`` through ``layers`` a block of rows at a time.

        Each block's intermediates (e.g. a (rows, 65) hidden layer) stay in the CPU caches
        through the whole chain, instead of streaming (n, 65) arrays through memory per layer;
        the block holds about blocks.CACHE_BYTES of the widest intermediate.
        """
        n, dim = points.shape
        width = max([dim, *(layer.scratch_width() for layer in layers)])
        rows = block_rows(width, points.dtype.itemsize)
        out = np.empty_like(points)
        logdet = np.zeros(n, dtype=points.dtype)
        for start in range(0, n, rows):
            block = points[start : start + rows]
            block_logdet = logdet[start : start + rows]
            for layer in layers:
                block, step = layer.inverse(block) if inverse else layer.forward(block)
                block_logdet += step
            out[start : start + rows] = block
        return out, logdet

    @np.errstate(all="ignore")
    def log_prob(self, x: Any) -> Array:
        """log p(x) = log p_Z(f⁻¹(x)) + log|det df⁻¹/dx| (change of variables)."""
        z, logdet = self.inverse(x)
        log_density = self.base.log_prob(z) + logdet
        return np.where(np.isnan(log_density), -np.inf, log_density).astype(z.dtype)

    @np.errstate(all="ignore")
    def forward_log_prob(self, z: Any) -> tuple[Array, Array]:
        """x = f(z) and log p(x) = log p_Z(z) − log|det df/dz|, with no inverse needed.

        This is how planar and radial flows are evaluated in variational inference
        (Rezende & Mohamed 2015, eq. 7): the density along the flow's own samples.
        """
        z_points = self._points(z, "z")
        x, logdet = self.forward(z_points)
        return x, self.base.log_prob(z_points) - logdet

    def sample(self, n: int, seed: int = 0) -> Array:
        """n draws x = f(z), z ~ base, reproducible from ``seed``."""
        x, _ = self.sample_with_log_prob(n, seed)
        return x

    def sample_with_log_prob(self, n: int, seed: int = 0) -> tuple[Array, Array]:
        """n draws and their log-densities, computed along the forward path."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise SpecError(f"n must be a non-negative integer, got {n!r}")
        rng = np.random.default_rng(seed)
        z = self.base.sample(n, rng, self.dtype or np.dtype(np.float64))
        return self.forward_log_prob(z)
