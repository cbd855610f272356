"""Reading one JSON-able spec object with errors that name the place and the value."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from server.kernels.errors import SpecError
from server.kernels.transform import Array, BoolArray, IntArray


class SpecReader:
    """Typed access to the keys of one spec object (a layer, the base or the chain).

    ``where`` prefixes every message, e.g. ``layers[1] (planar)``. Call :meth:`finish` after
    reading so that a misspelt or unexpected key is refused instead of silently ignored.
    """

    def __init__(self, spec: object, where: str) -> None:
        if not isinstance(spec, Mapping):
            raise SpecError(f"{where}: expected an object, got {type(spec).__name__}")
        self.spec: Mapping[str, Any] = spec
        self.where = where
        self._read: set[str] = {"type"}

    def error(self, message: str) -> SpecError:
        return SpecError(f"{self.where}: {message}")

    def has(self, key: str) -> bool:
        return key in self.spec and self.spec[key] is not None

    def raw(self, key: str) -> Any:
        self._read.add(key)
        if key not in self.spec:
            raise self.error(f"missing '{key}'")
        return self.spec[key]

    def array(self, key: str, shape: tuple[int, ...]) -> Array:
        """A finite float64 array of exactly ``shape``."""
        value = self.raw(key)
        try:
            array = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.error(f"'{key}' must be numbers of shape {shape}") from None
        if array.shape != shape:
            raise self.error(f"'{key}' must have shape {shape}, got {array.shape}")
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            index = np.unravel_index(int(bad[0]), shape) if shape else ()
            raise self.error(
                f"'{key}' has a non-finite value {array[index]} at index {[int(i) for i in index]}"
            )
        return array

    def vector(self, key: str, size: int) -> Array:
        return self.array(key, (size,))

    def number(self, key: str, default: float | None = None) -> float:
        if default is not None and not self.has(key):
            self._read.add(key)
            return default
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"'{key}' must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.error(f"'{key}' must be finite, got {value}")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        if not self.has(key):
            self._read.add(key)
            return None
        return self.number(key)

    def integer(self, key: str, minimum: int) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"'{key}' must be an integer, got {value!r}")
        if value < minimum:
            raise self.error(f"'{key}' must be at least {minimum}, got {value}")
        return value

    def string(self, key: str, choices: Sequence[str], default: str | None = None) -> str:
        if default is not None and not self.has(key):
            self._read.add(key)
            return default
        value = self.raw(key)
        if value not in choices:
            raise self.error(f"'{key}' must be one of {', '.join(choices)}; got {value!r}")
        return str(value)

    def permutation(self, key: str, size: int, default_identity: bool = False) -> IntArray:
        if default_identity and not self.has(key):
            self._read.add(key)
            return np.arange(size, dtype=np.intp)
        value = self.raw(key)
        try:
            array = np.array(value)
        except (TypeError, ValueError):
            raise self.error(f"'{key}' must be a permutation of 0..{size - 1}") from None
        if (
            array.shape != (size,)
            or not np.issubdtype(array.dtype, np.integer)
            or sorted(array.tolist()) != list(range(size))
        ):
            raise self.error(f"'{key}' must be a permutation of 0..{size - 1}, got {value!r}")
        return array.astype(np.intp)

    def mask(self, key: str, size: int) -> BoolArray:
        """A coupling mask: ``size`` booleans (or 0/1) with at least one of each value."""
        value = self.raw(key)
        array = np.array(value)
        ok_type = array.dtype == np.bool_ or (
            np.issubdtype(array.dtype, np.integer) and set(array.tolist()) <= {0, 1}
        )
        if array.shape != (size,) or not ok_type:
            raise self.error(f"'{key}' must be {size} booleans (or 0/1), got {value!r}")
        mask = array.astype(bool)
        if mask.all() or not mask.any():
            raise self.error(f"'{key}' must mark some features true and some false, got {value!r}")
        return mask

    def child(self, key: str) -> SpecReader:
        return SpecReader(self.raw(key), f"{self.where}.{key}")

    def finish(self) -> None:
        unknown = sorted(set(self.spec) - self._read)
        if unknown:
            raise self.error(f"unknown key '{unknown[0]}'")
