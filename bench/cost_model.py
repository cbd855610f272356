"""How well the cost model of server/kernels/cost.py predicts time: seconds per estimated flop.

For each transform (from the kernel test cases) and for specs at the limits, times one inverse
and one forward pass and prints the measured time over the estimated flops, and what a call at
the MAX_FLOPS budget would take at that rate. A ratio that varies by less than ~10× across
layers means the one flops budget bounds every kind of spec to about the same wall time.

    .venv/bin/python bench/cost_model.py
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

from server.kernels import build, made_masks
from server.kernels.cost import MAX_BINS, MAX_FLOPS, MAX_HIDDEN_UNITS, estimate_cost
from tests.kernels.cases import TRANSFORMS, spec_for


def _net(sizes: list[int], rng: np.random.Generator) -> dict[str, Any]:
    weights = [
        (rng.standard_normal((o, i)) * 0.3 / np.sqrt(i)).tolist()
        for i, o in itertools.pairwise(sizes)
    ]
    biases = [np.zeros(o).tolist() for o in sizes[1:]]
    return {"weights": weights, "biases": biases, "activation": "tanh"}


def at_the_limits() -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(0)
    bins = MAX_BINS
    made = _net([2, 64, 64, 2 * (3 * bins - 1)], rng)
    masks = made_masks([0, 1], [64, 64], 3 * bins - 1)
    made["weights"] = [
        (np.array(w) * m).tolist() for w, m in zip(made["weights"], masks, strict=True)
    ]
    return {
        "spline-coupling K=256": {
            "type": "chain",
            "dim": 2,
            "layers": [
                {
                    "type": "rq_spline_coupling",
                    "mask": [True, False],
                    "bins": bins,
                    "net": _net([1, 32, 3 * bins - 1], rng),
                }
            ],
        },
        "elementwise spline K=256": {
            "type": "chain",
            "dim": 2,
            "layers": [
                {
                    "type": "rq_spline",
                    "bound": 3.0,
                    "widths": np.ones((2, bins)).tolist(),
                    "heights": np.ones((2, bins)).tolist(),
                    "derivatives": np.ones((2, bins - 1)).tolist(),
                }
            ],
        },
        "spline-autoregressive K=256": {
            "type": "chain",
            "dim": 2,
            "layers": [{"type": "rq_spline_autoregressive", "bins": bins, "net": made}],
        },
        "affine coupling hidden=1024": {
            "type": "chain",
            "dim": 8,
            "layers": [
                {
                    "type": "affine_coupling",
                    "mask": [True] * 4 + [False] * 4,
                    "net": _net([4, MAX_HIDDEN_UNITS, 8], rng),
                }
            ],
        },
    }


def seconds(call: Any) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    specs = {f"{name} D=2": spec_for(name, 2) for name in TRANSFORMS}
    specs |= {f"{name} D=16": spec_for(name, 16) for name in TRANSFORMS if name != "planar"}
    specs |= at_the_limits()
    print(f"{'spec':34} {'direction':9} {'ns/flop':>8} {'s at MAX_FLOPS':>15}")
    rates: list[float] = []
    for name, spec in specs.items():
        flow = build(spec)
        per_point = estimate_cost(spec, forward=1, inverse=1).without_build().flops
        n = int(min(4096, MAX_FLOPS // (4 * per_point)))
        points = np.random.default_rng(1).standard_normal((n, flow.dim)) * 0.5
        if any(layer.get("type") in ("sigmoid", "tanh") for layer in spec["layers"]):
            points = (
                1 / (1 + np.exp(-points))
                if spec["layers"][-1]["type"] == "sigmoid"
                else (np.tanh(points))
            )
        for direction, call in (("inverse", flow.inverse), ("forward", flow.forward)):
            cost = estimate_cost(spec, **{direction: n}).without_build()
            taken = min(seconds(lambda c=call, p=points: c(p)) for _ in range(2))
            rate = taken / cost.flops
            rates.append(rate)
            print(f"{name:34} {direction:9} {rate * 1e9:8.3f} {rate * MAX_FLOPS:15.2f}")
    print(
        f"a call at MAX_FLOPS = {MAX_FLOPS:.0e}: {min(rates) * MAX_FLOPS:.2f} to "
        f"{max(rates) * MAX_FLOPS:.2f} s; spread of s/flop {max(rates) / min(rates):.1f}x"
    )


if __name__ == "__main__":
    main()
