"""The small numpy MLPs that give coupling and autoregressive layers their parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from server.kernels.spec_reader import SpecReader
from server.kernels.transform import Array, BoolArray, IntArray

ACTIVATIONS = ("relu", "tanh", "elu")


@dataclasses.dataclass(frozen=True, eq=False)
class MLP:
    """h₀ = input, hₖ = a(hₖ₋₁ Wₖᵀ + bₖ) for hidden layers, output = h_{L−1} W_Lᵀ + b_L.

    Spec (the ``"net"`` of a layer): ``{"weights": [W₁, …, W_L], "biases": [b₁, …, b_L],
    "activation": "relu" | "tanh" | "elu"}`` with Wₖ of shape (outₖ, inₖ), as torch's Linear.
    Each layer is stored as the (inₖ + 1, outₖ) matrix [Wₖᵀ; bₖ] and hidden activations carry
    a trailing column of ones, so one matmul applies weights and bias together.
    """

    layers: tuple[Array, ...]  # [Wₖᵀ; bₖ]
    activation: str

    @property
    def in_features(self) -> int:
        return int(self.layers[0].shape[0]) - 1

    @property
    def out_features(self) -> int:
        return int(self.layers[-1].shape[1])

    def __call__(self, inputs: Array) -> Array:
        rows = inputs.shape[0]
        first = self.layers[0]
        h = _with_ones_column(rows, first.shape[1], inputs.dtype)
        if self.in_features == 1:  # an outer product: broadcasting beats a k = 1 matmul
            np.multiply(inputs, first[0], out=h[:, :-1])
            h[:, :-1] += first[1]
        else:
            np.matmul(inputs, first[:-1], out=h[:, :-1])
            h[:, :-1] += first[-1]
        for layer in self.layers[1:]:
            _activate(h, self.activation)
            if layer is self.layers[-1]:
                result: Array = h @ layer
                return result
            following = _with_ones_column(rows, layer.shape[1], h.dtype)
            np.matmul(h, layer, out=following[:, :-1])
            h = following
        # A single-layer net: no activation, drop the ones column.
        return h[:, :-1]

    @property
    def widest(self) -> int:
        """The widest activation per row, ones column included."""
        return max(int(layer.shape[1]) + 1 for layer in self.layers)

    def connectivity(self) -> BoolArray:
        """C[o, i] is True when output o can depend on input i (a path of non-zero weights)."""
        reach = np.eye(self.in_features, dtype=np.int64)
        for layer in self.layers:
            reach = ((reach @ (layer[:-1] != 0).astype(np.int64)) > 0).astype(np.int64)
        return np.asarray(reach.T > 0)


def _with_ones_column(rows: int, width: int, dtype: np.dtype[Any]) -> Array:
    h = np.empty((rows, width + 1), dtype=dtype)
    h[:, width] = 1
    return h


def _activate(h: Array, activation: str) -> None:
    """Apply the activation in place; relu and elu keep the ones column at 1, tanh skips it."""
    if activation == "relu":
        np.maximum(h, 0, out=h)
    elif activation == "tanh":
        np.tanh(h[:, :-1], out=h[:, :-1])
    else:  # elu
        negative = h < 0
        h[negative] = np.expm1(h[negative])


def read_mlp(spec: SpecReader, in_features: int, out_features: int) -> MLP:
    """Read and shape-check a ``"net"`` spec: in_features → … → out_features."""
    weights = spec.raw("weights")
    biases = spec.raw("biases")
    if not isinstance(weights, list) or not weights:
        raise spec.error("'weights' must be a non-empty list of matrices")
    if not isinstance(biases, list) or len(biases) != len(weights):
        raise spec.error(f"'biases' must be a list of {len(weights)} vectors, one per weight")
    activation = spec.string("activation", ACTIVATIONS, default="relu")
    layers: list[Array] = []
    width = in_features
    for k, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        w = _matrix(spec, f"weights[{k}]", weight)
        if w.shape[1] != width:
            raise spec.error(f"'weights[{k}]' must have {width} columns, got shape {w.shape}")
        out = w.shape[0]
        if k == len(weights) - 1 and out != out_features:
            raise spec.error(f"'weights[{k}]' must have {out_features} rows, got shape {w.shape}")
        bias_array = _matrix(spec, f"biases[{k}]", bias, ndim=1)
        if bias_array.shape != (out,):
            raise spec.error(f"'biases[{k}]' must have shape ({out},), got {bias_array.shape}")
        layers.append(np.ascontiguousarray(np.vstack([w.T, bias_array[None, :]])))
        width = out
    return MLP(layers=tuple(layers), activation=activation)


def _matrix(spec: SpecReader, name: str, value: Any, ndim: int = 2) -> Array:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise spec.error(f"'{name}' must be a {ndim}-d array of numbers") from None
    if array.ndim != ndim:
        raise spec.error(f"'{name}' must be a {ndim}-d array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise spec.error(f"'{name}' has a non-finite value")
    return array


def made_masks(
    order: Sequence[int], hidden: Sequence[int], params_per_feature: int
) -> list[BoolArray]:
    """MADE masks (Germain et al. 2015) for a net D → hidden… → D·P, outputs feature-major.

    Input j has degree order[j]; hidden unit k of each layer has degree k mod (D − 1) and sees
    units of lower or equal degree; output (i, p) at index i·P + p sees hidden units of degree
    < order[i]. So every output of feature i depends only on features j with
    order[j] < order[i]. Multiply random weights by these masks to get a valid ``maf`` net.
    """
    degrees_in = np.asarray(order, dtype=np.int64)
    dim = degrees_in.size
    masks: list[BoolArray] = []
    previous = degrees_in
    for width in hidden:
        degrees = np.arange(width) % max(dim - 1, 1)
        masks.append(degrees[:, None] >= previous[None, :])
        previous = degrees
    degrees_out = np.repeat(degrees_in, params_per_feature)
    masks.append(degrees_out[:, None] > previous[None, :])
    return masks


def check_autoregressive(spec: SpecReader, net: MLP, order: IntArray, per_feature: int) -> None:
    """Refuse a net whose output for feature i reaches an input j with order[j] ≥ order[i]."""
    connectivity = net.connectivity()
    allowed = np.repeat(order, per_feature)[:, None] > order[None, :]
    violations = np.argwhere(connectivity & ~allowed)
    if violations.size:
        output, feature_in = (int(v) for v in violations[0])
        raise spec.error(
            f"net output {output} (feature {output // per_feature}) depends on input "
            f"{feature_in}, which does not come earlier in 'order'; "
            "zero such weights, e.g. with made_masks"
        )
