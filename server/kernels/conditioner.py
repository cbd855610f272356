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
    """

    weights_t: tuple[Array, ...]  # each Wₖᵀ, so rows go through as h @ Wₖᵀ
    biases: tuple[Array, ...]
    activation: str

    @property
    def in_features(self) -> int:
        return int(self.weights_t[0].shape[0])

    @property
    def out_features(self) -> int:
        return int(self.weights_t[-1].shape[1])

    def __call__(self, inputs: Array) -> Array:
        h = inputs
        last = len(self.weights_t) - 1
        for k, (weight_t, bias) in enumerate(zip(self.weights_t, self.biases, strict=True)):
            h = h @ weight_t
            h += bias
            if k < last:
                _activate(h, self.activation)
        return h

    def connectivity(self) -> BoolArray:
        """C[o, i] is True when output o can depend on input i (a path of non-zero weights)."""
        reach = np.eye(self.in_features, dtype=bool)
        for weight_t in self.weights_t:
            reach = (reach.astype(np.int64) @ (weight_t != 0).astype(np.int64)) > 0
        return np.asarray(reach.T)


def _activate(h: Array, activation: str) -> None:
    """Apply the activation in place (saves one (n, hidden) allocation per layer)."""
    if activation == "relu":
        np.maximum(h, 0, out=h)
    elif activation == "tanh":
        np.tanh(h, out=h)
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
    weights_t: list[Array] = []
    bias_arrays: list[Array] = []
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
        weights_t.append(np.ascontiguousarray(w.T))
        bias_arrays.append(bias_array)
        width = out
    return MLP(weights_t=tuple(weights_t), biases=tuple(bias_arrays), activation=activation)


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
