"""The transform interface every layer implements, and the array type they share."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating[Any]]
"""A float64 or float32 array; batched points have shape (n, D)."""

IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


class Domain(enum.Enum):
    """Where a layer's inputs (or outputs) live, coordinate-wise."""

    REAL = "the whole real line"
    UNIT = "(0, 1)"
    SYMMETRIC_UNIT = "(-1, 1)"


@dataclasses.dataclass(frozen=True, eq=False)
class Transform:
    """A bijection x = f(z) in the generative direction, batched over rows.

    ``forward(z)`` returns ``(x, log|det df/dz|)`` and ``inverse(x)`` returns
    ``(z, log|det df⁻¹/dx|)``; both log-dets have shape (n,). Parameters are numpy arrays
    (float64 as built); :meth:`astype` gives the same transform with float parameters cast.
    """

    kind: ClassVar[str] = ""
    domain: ClassVar[Domain] = Domain.REAL
    codomain: ClassVar[Domain | None] = Domain.REAL  # None: same as the input's domain

    def forward(self, z: Array) -> tuple[Array, Array]:
        raise NotImplementedError

    def inverse(self, x: Array) -> tuple[Array, Array]:
        raise NotImplementedError

    def scratch_width(self) -> int:
        """The widest per-row intermediate the layer allocates (e.g. a hidden layer), or 0."""
        return 0

    def astype(self, dtype: np.dtype[Any]) -> Self:
        """This transform with every float array parameter cast to ``dtype``."""
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            changes[field.name] = _cast(value, dtype)
        return dataclasses.replace(self, **changes)


def _cast(value: Any, dtype: np.dtype[Any]) -> Any:
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return np.ascontiguousarray(value, dtype=dtype)
    if isinstance(value, np.floating):
        return dtype.type(value)
    if isinstance(value, tuple):
        items = [_cast(item, dtype) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value,
            **{f.name: _cast(getattr(value, f.name), dtype) for f in dataclasses.fields(value)},
        )
    return value


def zeros_logdet(points: Array) -> Array:
    """The log-det of a volume-preserving map: zeros of shape (n,)."""
    return np.zeros(points.shape[0], dtype=points.dtype)
