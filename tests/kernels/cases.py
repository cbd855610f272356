"""Random layer specs for every transform, for the property loop and the benchmark-free tests.

Parameters are drawn at moderate scales (maps within a factor of a few of the identity) so
that densities stay smooth enough for grid integration at a few hundred points per axis.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from server.kernels import made_masks, planar_u_hat, radial_beta

Layer = dict[str, Any]
Maker = Callable[[int, np.random.Generator], list[Layer]]


def _net(rng: np.random.Generator, sizes: list[int], scale: float = 0.5) -> dict[str, Any]:
    weights = [
        (rng.standard_normal((out, inp)) * scale / np.sqrt(inp)).tolist()
        for inp, out in itertools.pairwise(sizes)
    ]
    biases = [(rng.standard_normal(out) * 0.1).tolist() for out in sizes[1:]]
    return {"weights": weights, "biases": biases, "activation": "tanh"}


def _made(rng: np.random.Generator, order: list[int], per_feature: int) -> dict[str, Any]:
    dim = len(order)
    hidden = [8, 8]
    net = _net(rng, [dim, *hidden, dim * per_feature])
    masks = made_masks(order, hidden, per_feature)
    net["weights"] = [
        (np.array(w) * m).tolist() for w, m in zip(net["weights"], masks, strict=True)
    ]
    return net


def _mask(dim: int) -> list[bool]:
    return [i % 2 == 1 for i in range(dim)]


def affine(dim: int, rng: np.random.Generator) -> list[Layer]:
    A = np.eye(dim) + 0.3 * rng.standard_normal((dim, dim))
    return [{"type": "affine", "A": A.tolist(), "b": (0.3 * rng.standard_normal(dim)).tolist()}]


def lu_linear(dim: int, rng: np.random.Generator) -> list[Layer]:
    L = np.tril(0.3 * rng.standard_normal((dim, dim)), -1) + np.eye(dim)
    U = np.triu(0.3 * rng.standard_normal((dim, dim)), 1)
    U += np.diag(np.exp(0.3 * rng.standard_normal(dim)) * rng.choice([-1.0, 1.0], dim))
    return [
        {
            "type": "lu_linear",
            "perm": rng.permutation(dim).tolist(),
            "L": L.tolist(),
            "U": U.tolist(),
            "b": (0.3 * rng.standard_normal(dim)).tolist(),
        }
    ]


def actnorm(dim: int, rng: np.random.Generator) -> list[Layer]:
    scale = np.exp(0.3 * rng.standard_normal(dim)) * rng.choice([-1.0, 1.0], dim)
    return [
        {
            "type": "actnorm",
            "scale": scale.tolist(),
            "bias": (0.3 * rng.standard_normal(dim)).tolist(),
        }
    ]


def permutation(dim: int, rng: np.random.Generator) -> list[Layer]:
    return [*affine(dim, rng), {"type": "permutation", "perm": rng.permutation(dim).tolist()}]


def leaky_relu(dim: int, rng: np.random.Generator) -> list[Layer]:
    return [{"type": "leaky_relu", "negative_slope": float(rng.uniform(0.3, 0.8))}]


def sigmoid(dim: int, rng: np.random.Generator) -> list[Layer]:
    return [{"type": "sigmoid"}]


def sigmoid_logit(dim: int, rng: np.random.Generator) -> list[Layer]:
    return [{"type": "sigmoid"}, {"type": "logit"}]


def tanh(dim: int, rng: np.random.Generator) -> list[Layer]:
    return [{"type": "tanh"}]


def tanh_atanh(dim: int, rng: np.random.Generator) -> list[Layer]:
    return [
        {"type": "tanh"},
        {"type": "permutation", "perm": rng.permutation(dim).tolist()},
        {"type": "atanh"},
    ]


def planar(dim: int, rng: np.random.Generator) -> list[Layer]:
    w = rng.standard_normal(dim)
    u = planar_u_hat(rng.standard_normal(dim), w)
    return [{"type": "planar", "u": u.tolist(), "w": w.tolist(), "b": float(rng.normal())}]


def radial(dim: int, rng: np.random.Generator) -> list[Layer]:
    alpha = float(np.exp(rng.normal(scale=0.3)))
    return [
        {
            "type": "radial",
            "z0": (0.5 * rng.standard_normal(dim)).tolist(),
            "alpha": alpha,
            "beta": radial_beta(float(rng.normal()), alpha),
        }
    ]


def rq_spline(dim: int, rng: np.random.Generator) -> list[Layer]:
    bins = 5

    def positive(*shape: int) -> list[Any]:
        values: list[Any] = np.exp(0.5 * rng.standard_normal(shape)).tolist()
        return values

    return [
        {
            "type": "rq_spline",
            "bound": 2.5,
            "widths": positive(dim, bins),
            "heights": positive(dim, bins),
            "derivatives": positive(dim, bins - 1),
        }
    ]


def affine_coupling(dim: int, rng: np.random.Generator) -> list[Layer]:
    mask = _mask(dim)
    d = sum(mask)
    return [
        {
            "type": "affine_coupling",
            "mask": mask,
            "net": _net(rng, [d, 8, 8, 2 * (dim - d)]),
            "log_scale_bound": 3.0,
        }
    ]


def rq_spline_coupling(dim: int, rng: np.random.Generator) -> list[Layer]:
    mask = _mask(dim)
    d, bins = sum(mask), 5
    net = _net(rng, [d, 8, 8, (dim - d) * (3 * bins - 1)], scale=1.0)
    return [{"type": "rq_spline_coupling", "mask": mask, "net": net, "bins": bins, "bound": 2.5}]


def maf(dim: int, rng: np.random.Generator) -> list[Layer]:
    order = rng.permutation(dim).tolist()
    return [{"type": "maf", "order": order, "net": _made(rng, order, 2)}]


def rq_spline_autoregressive(dim: int, rng: np.random.Generator) -> list[Layer]:
    order, bins = rng.permutation(dim).tolist(), 4
    return [
        {
            "type": "rq_spline_autoregressive",
            "order": order,
            "bins": bins,
            "bound": 2.5,
            "net": _made(rng, order, 3 * bins - 1),
        }
    ]


TRANSFORMS: dict[str, Maker] = {
    maker.__name__: maker
    for maker in (
        affine,
        lu_linear,
        actnorm,
        permutation,
        leaky_relu,
        sigmoid,
        sigmoid_logit,
        tanh,
        tanh_atanh,
        planar,
        radial,
        rq_spline,
        affine_coupling,
        rq_spline_coupling,
        maf,
        rq_spline_autoregressive,
    )
}

REAL_TO_REAL = [name for name in TRANSFORMS if name not in {"sigmoid", "tanh"}]


def random_chain(seed: int) -> Maker:
    """A chain of 3–5 layers drawn from the real-to-real transforms."""

    def make(dim: int, rng: np.random.Generator) -> list[Layer]:
        picker = np.random.default_rng(1000 + seed)
        names = picker.choice(REAL_TO_REAL, size=int(picker.integers(3, 6)))
        return [layer for name in names for layer in TRANSFORMS[str(name)](dim, rng)]

    make.__name__ = f"chain{seed}"
    return make


CASES: dict[str, Maker] = {**TRANSFORMS, **{f"chain{i}": random_chain(i) for i in range(5)}}


def spec_for(name: str, dim: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "type": "chain",
        "dim": dim,
        "base": {"type": "normal"},
        "layers": CASES[name](dim, rng),
    }
