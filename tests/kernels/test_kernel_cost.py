"""The cost model: specs over a limit are refused (413/422) before anything is allocated."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from server.errors import PayloadTooLarge
from server.kernels import SpecError, build
from server.kernels.cost import (
    MAX_FLOATS,
    MAX_FLOPS,
    check_evaluation,
    check_kernel_call,
    estimate_cost,
)
from tests.kernels.cases import CASES, spec_for

AFFINE = {"type": "affine", "A": [[1.0, 0.0], [0.0, 1.0]], "b": [0.0, 0.0]}


def _chain(*layers: Any, dim: int = 2) -> dict[str, Any]:
    return {"type": "chain", "dim": dim, "layers": list(layers)}


def _net(sizes: list[int]) -> dict[str, Any]:
    """A net of zeros (cheap to write, shaped as given): sizes[0] inputs → … → sizes[-1]."""
    weights = [[[0.0] * i for _ in range(o)] for i, o in itertools.pairwise(sizes)]
    return {"weights": weights, "biases": [[0.0] * o for o in sizes[1:]], "activation": "tanh"}


def _spline_coupling(bins: int, hidden: int = 4) -> dict[str, Any]:
    return {
        "type": "rq_spline_coupling",
        "mask": [True, False],
        "bins": bins,
        "net": _net([1, hidden, 3 * bins - 1]),
    }


def _elementwise_spline(bins: int) -> dict[str, Any]:
    return {
        "type": "rq_spline",
        "bound": 3.0,
        "widths": [[1.0] * bins] * 2,
        "heights": [[1.0] * bins] * 2,
        "derivatives": [[1.0] * (bins - 1)] * 2,
    }


@pytest.fixture
def allocations() -> Iterator[Callable[[], int]]:
    """The peak of traced allocations (numpy's included) since the test's input was made, in
    bytes: the test calls it once to start counting, then again to read the peak."""
    tracemalloc.start()

    def peak() -> int:
        _, highest = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        return highest - baseline[0]

    baseline = [0]
    baseline[0] = tracemalloc.get_traced_memory()[0]
    try:
        yield peak
    finally:
        tracemalloc.stop()


TOO_LARGE: list[tuple[str, Any, str]] = [
    ("huge dim", _chain(AFFINE, dim=200_000_000), "spec.dim = 200000000 is over the limit of 256"),
    (
        "huge dim of a normal base",
        {"type": "chain", "dim": 10**12, "base": {"type": "normal"}, "layers": []},
        "spec.dim = 1000000000000 is over the limit of 256",
    ),
    (
        "spline coupling with 30000 bins",
        _chain(AFFINE, {**_spline_coupling(4), "bins": 30_000}),
        "spec.layers[1].bins = 30000 is over the limit of 256",
    ),
    (
        "autoregressive spline with 257 bins",
        _chain({"type": "rq_spline_autoregressive", "bins": 257, "net": _net([2, 4, 2])}),
        "spec.layers[0].bins = 257 is over the limit of 256",
    ),
    (
        "elementwise spline with 300 bins",
        _chain(AFFINE, AFFINE, _elementwise_spline(300)),
        "spec.layers[2].widths has 300 bins per row, over the limit of 256",
    ),
    (
        "a hidden layer of 5000 units",
        _chain(
            {
                "type": "affine_coupling",
                "mask": [True, False],
                "net": {"weights": [[[0.0]] * 5000, [[0.0] * 5000] * 2], "biases": []},
            }
        ),
        "spec.layers[0].net.weights[0] has 5000 hidden units, over the limit of 1024",
    ),
    (
        "a MADE of 2000 units",
        _chain({"type": "maf", "net": {"weights": [[[0.0, 0.0]] * 2000, [[0.0] * 2000] * 4]}}),
        "spec.layers[0].net.weights[0] has 2000 hidden units, over the limit of 1024",
    ),
    (
        "a net of 20 matrices",
        _chain({"type": "maf", "net": {"weights": [[[0.0, 0.0]]] * 20, "biases": []}}),
        "spec.layers[0].net has 20 weight matrices, over the limit of 8",
    ),
    (
        "33 layers",
        _chain(*[{"type": "leaky_relu", "negative_slope": 0.5}] * 33),
        "spec.layers has 33 layers, over the limit of 32",
    ),
    (
        "a quarter million numbers",
        _chain({"type": "affine", "A": [[1.0] * 500] * 500, "b": [0.0] * 500}, dim=500),
        "spec holds 250501 numbers, over the limit of 200000",
    ),
]


@pytest.mark.parametrize(("case", "spec", "message"), TOO_LARGE, ids=[c[0] for c in TOO_LARGE])
def test_a_spec_over_a_limit_is_refused_with_413_naming_the_limit(
    case: str, spec: Any, message: str
) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        build(spec)
    assert caught.value.status_code == 413
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "spec",
    [
        _chain(AFFINE, dim=200_000_000),
        _chain({**_spline_coupling(4), "bins": 30_000}),
        _chain({"type": "rq_spline_autoregressive", "bins": 10**9, "net": _net([2, 4, 2])}),
    ],
)
def test_a_small_spec_with_huge_sizes_is_refused_before_anything_is_allocated(
    spec: Any, allocations: Callable[[], int]
) -> None:
    allocations()
    with pytest.raises(PayloadTooLarge):
        build(spec)
    assert allocations() < 1 << 20


def test_a_spec_nested_900_deep_is_refused_with_422_without_recursing() -> None:
    deep: Any = 0.0
    for _ in range(900):
        deep = [deep]
    spec = _chain({"type": "affine", "A": deep, "b": [0.0, 0.0]})
    with pytest.raises(SpecError) as caught:
        build(spec)
    assert caught.value.status_code == 422
    assert str(caught.value) == "spec nests deeper than the limit of 12 levels"


def test_deep_nesting_beyond_the_recursion_limit_is_refused_too() -> None:
    deep: Any = {}
    for _ in range(100_000):
        deep = {"x": deep}
    with pytest.raises(SpecError):
        estimate_cost({"type": "chain", "dim": 2, "layers": [], "base": deep})


def test_limits_at_their_edge_are_accepted() -> None:
    """256 bins, 1024 hidden units, 32 layers and 8 matrices are all allowed."""
    build(_chain(_elementwise_spline(256)))
    build(_chain(_spline_coupling(256)))
    made = _net([2, 1024, 4])
    made["weights"][1] = [[0.0] * 1024] * 4
    build(_chain({"type": "maf", "net": made}))
    build(_chain(*[AFFINE] * 32))
    build(
        _chain({"type": "affine_coupling", "mask": [True, False], "net": _net([1] + [4] * 7 + [2])})
    )


def test_a_malformed_size_is_left_to_build_and_its_own_message() -> None:
    for dim, message in ((0, "'dim' must be at least 1, got 0"), ("2", "'dim' must be an integer")):
        estimate_cost({"type": "chain", "dim": dim, "layers": []})  # no size to bound
        with pytest.raises(SpecError, match=message):
            build({"type": "chain", "dim": dim, "layers": []})
    with pytest.raises(SpecError, match="'bins' must be an integer"):
        build(_chain({**_spline_coupling(4), "bins": 4.5}))
    with pytest.raises(SpecError, match="'bins' must be at least 1"):
        build(_chain({**_spline_coupling(4), "bins": -30_000}))


def test_true_is_not_a_size() -> None:
    assert estimate_cost({"type": "chain", "dim": True, "layers": []}).dim == 1
    with pytest.raises(SpecError):
        build({"type": "chain", "dim": True, "layers": []})


def test_too_many_points_for_a_small_spec_are_refused_by_their_flops() -> None:
    spec = _chain(_spline_coupling(256, hidden=32))
    check_evaluation(spec, inverse=64 * 64)  # the default demo grid is fine
    with pytest.raises(PayloadTooLarge) as caught:
        check_evaluation(spec, inverse=200_000)
    assert str(caught.value).startswith("spec on 200000 points needs about ")
    assert str(caught.value).endswith(f"flops, over the limit of {MAX_FLOPS:.3g}")


def test_too_many_points_in_many_dimensions_are_refused_by_their_memory() -> None:
    spec = _chain({"type": "permutation", "perm": list(range(256))}, dim=256)
    with pytest.raises(PayloadTooLarge) as caught:
        check_evaluation(spec, forward=100_000)
    message = str(caught.value)
    assert message.startswith("spec on 100000 points needs about 1.56e+08 floats in memory")
    assert message.endswith(f"over the limit of {MAX_FLOATS:.3g}")


def test_the_generative_direction_of_an_autoregressive_layer_costs_d_passes() -> None:
    spec = spec_for("maf", 16)
    cost = estimate_cost(spec)
    assert cost.forward_flops_per_point > 8 * cost.inverse_flops_per_point


def test_a_kernel_call_is_budgeted_in_the_direction_of_its_op() -> None:
    spec = spec_for("maf", 16)
    points = [[0.0] * 16] * 3000
    assert check_kernel_call(spec, "log_prob", points).inverse_points == 3000
    assert check_kernel_call(spec, "forward", points[:10]).forward_points == 10
    with pytest.raises(PayloadTooLarge, match="spec on 30000 points needs about"):
        check_kernel_call(spec, "forward", points * 10)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_test_case_fits_the_budget_on_a_full_demo_grid(name: str) -> None:
    cost = check_evaluation(spec_for(name, 2), inverse=200 * 200, forward=5000 + 2 * 41 * 400)
    assert 0 < cost.flops <= MAX_FLOPS
    assert 0 < cost.floats <= MAX_FLOATS


@pytest.mark.parametrize("name", sorted(set(CASES) - {"planar"}))
def test_every_test_case_fits_the_budget_in_8_d_on_ten_thousand_points(name: str) -> None:
    cost = check_evaluation(spec_for(name, 8), inverse=10_000)
    assert 0 < cost.flops <= MAX_FLOPS


def test_the_estimate_grows_with_what_makes_a_spec_slow() -> None:
    small = estimate_cost(_chain(_spline_coupling(8)), inverse=1000)
    more_bins = estimate_cost(_chain(_spline_coupling(200)), inverse=1000)
    wider = estimate_cost(_chain(_spline_coupling(8, hidden=512)), inverse=1000)
    more_points = estimate_cost(_chain(_spline_coupling(8)), inverse=100_000)
    assert small.flops < more_bins.flops and small.floats < more_bins.floats
    assert small.flops < wider.flops
    assert more_points.flops > 50 * small.flops


def test_the_30000_bin_spline_of_the_review_costs_nothing_to_refuse(
    allocations: Callable[[], int],
) -> None:
    """The review's spline (6.5 s and 1 GB per request) is refused without building it."""
    spec = _chain(_elementwise_spline(4))
    spec["layers"][0]["widths"] = [[1.0] * 30_000] * 2
    allocations()
    with pytest.raises(PayloadTooLarge, match="30000 bins per row, over the limit of 256"):
        check_evaluation(spec, inverse=64 * 64)
    assert allocations() < 1 << 20
    assert np.isfinite(estimate_cost(_chain(_elementwise_spline(4))).flops)


def test_a_checks_kernel_call_over_the_budget_is_refused_before_the_kernel_runs(
    allocations: Callable[[], int],
) -> None:
    """The budget call in the judge (server/witnesses/judge.py): a check's expected value."""
    from schemas.content import VariableCheck
    from server.witnesses.judge import kernel_value

    check = VariableCheck.model_validate(
        {
            "kind": "variable",
            "name": "y",
            "kernel": {"spec": _chain(dim=200_000_000), "op": "log_prob", "input": [[0.0, 0.0]]},
        }
    ).model_dump(mode="json")
    allocations()
    with pytest.raises(PayloadTooLarge) as caught:
        kernel_value(check)
    assert str(caught.value) == "spec.dim = 200000000 is over the limit of 256"
    assert allocations() < 1 << 20
