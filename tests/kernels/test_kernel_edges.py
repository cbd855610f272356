"""Edge cases: spline bounds, planar at wᵀu = −1, near-singular affine maps, large |z|,
saturating squashing layers and the float dtype rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.kernels import build
from tests.kernels.cases import CASES, spec_for


def _chain(*layers: dict[str, Any], dim: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "type": "chain",
        "dim": dim,
        "base": {"type": "normal"},
        "layers": list(layers),
        **extra,
    }


SPLINE = {
    "type": "rq_spline",
    "bound": 2.0,
    "widths": [[1, 2, 1], [2, 1, 1]],
    "heights": [[2, 1, 1], [1, 1, 3]],
    "derivatives": [[0.5, 2.0], [3.0, 0.2]],
}


def test_spline_is_the_identity_at_and_beyond_its_bound() -> None:
    flow = build(_chain(SPLINE))
    z = np.array([[2.0, -2.0], [2.5, -7.0], [1e6, -1e6]])
    x, logdet = flow.forward(z)
    np.testing.assert_array_equal(x, z)
    np.testing.assert_array_equal(logdet, 0.0)
    z_back, logdet_inverse = flow.inverse(z)
    np.testing.assert_array_equal(z_back, z)
    np.testing.assert_array_equal(logdet_inverse, 0.0)


def test_spline_value_and_slope_are_continuous_across_its_bound() -> None:
    flow = build(_chain(SPLINE))
    inside = np.array([[2.0 - 1e-9, -2.0 + 1e-9]])
    x, logdet = flow.forward(inside)
    np.testing.assert_allclose(x, inside, atol=1e-8)
    np.testing.assert_allclose(logdet, 0.0, atol=1e-7)  # end slopes are 1, like the tails


def test_spline_hits_its_knots_exactly() -> None:
    flow = build(_chain(SPLINE))
    knots = flow.layers[0].knots  # type: ignore[attr-defined]
    x, _ = flow.forward(np.column_stack([knots.x[0], knots.x[1]]))
    np.testing.assert_allclose(x, np.column_stack([knots.y[0], knots.y[1]]), atol=1e-12)


def test_spline_coupling_leaves_out_of_bound_features_unchanged() -> None:
    flow = build(spec_for("rq_spline_coupling", dim=2))
    z = np.array([[0.3, 2.5], [0.3, -9.0], [-0.4, 2.5]])  # feature 0 is transformed, bound 2.5
    z[:, 0] = [2.5, -2.5, 40.0]
    x, logdet = flow.forward(z)
    np.testing.assert_array_equal(x, z)
    np.testing.assert_array_equal(logdet, 0.0)


W = [1.0, 2.0]
U_CRITICAL = [-0.2, -0.4]  # wᵀu = −1 exactly


def test_planar_at_wu_minus_one_still_round_trips() -> None:
    flow = build(_chain({"type": "planar", "u": U_CRITICAL, "w": W, "b": 0.5}))
    z = np.random.default_rng(0).standard_normal((1000, 2))
    x, logdet = flow.forward(z)
    z_back, logdet_inverse = flow.inverse(x)
    # Near the hyperplane wᵀz + b = 0 the map flattens (slope 0 on it), so a rounding error
    # in x becomes a cube-root-sized error in z: 1e-9 covers ~1e-27 ** (1/3) effects.
    np.testing.assert_allclose(z_back, z, atol=1e-9)
    away = np.abs(z @ np.array(W) + 0.5) > 0.1
    np.testing.assert_allclose(logdet_inverse[away], -logdet[away], atol=1e-12)


def test_planar_at_wu_minus_one_has_zero_volume_on_its_hyperplane() -> None:
    flow = build(_chain({"type": "planar", "u": U_CRITICAL, "w": W, "b": 0.5}))
    on_plane = np.array([[-0.5, 0.0], [0.1, -0.3]])
    x, logdet = flow.forward(on_plane)
    np.testing.assert_array_equal(logdet, -np.inf)
    z_back, _ = flow.inverse(x)
    np.testing.assert_allclose(z_back, on_plane, atol=1e-12)
    assert np.all(flow.log_prob(x) == np.inf)


def test_near_singular_affine_round_trips_to_its_condition_number() -> None:
    A = [[1.0, 1.0], [1.0, 1.0 + 1e-8]]  # condition number ≈ 4e8, accepted (limit 1e12)
    flow = build(_chain({"type": "affine", "A": A, "b": [0.0, 0.0]}))
    z = np.random.default_rng(1).standard_normal((100, 2))
    z_back, _ = flow.inverse(flow.forward(z)[0])
    # Relative error of a linear solve is bounded by cond(A) · eps ≈ 1e-7.
    np.testing.assert_allclose(z_back, z, atol=4e8 * 2.2e-16 * 10)
    np.testing.assert_allclose(flow.forward(z)[1], np.log(1e-8), rtol=1e-7)


LARGE_Z_CASES = [
    "affine",
    "lu_linear",
    "actnorm",
    "permutation",
    "leaky_relu",
    "planar",
    "radial",
    "rq_spline",
]


@pytest.mark.parametrize("name", LARGE_Z_CASES)
def test_large_inputs_stay_finite_and_round_trip(name: str) -> None:
    flow = build(spec_for(name, dim=2))
    z = np.array([[1e6, -1e6], [-3e8, 2e7], [1e12, 1e12]])
    x, logdet = flow.forward(z)
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(logdet))
    z_back, logdet_inverse = flow.inverse(x)
    np.testing.assert_allclose(z_back, z, rtol=1e-9)
    np.testing.assert_allclose(logdet_inverse, -logdet, atol=1e-9)


def test_sigmoid_saturation_gives_zero_density_not_an_error() -> None:
    flow = build(_chain({"type": "sigmoid"}))
    x, _ = flow.forward(np.array([[40.0, 0.0]]))  # σ(40) rounds to 1.0 in float64
    assert x[0, 0] == 1.0
    assert flow.log_prob(x)[0] == -np.inf


def test_points_outside_the_support_get_minus_infinite_log_prob() -> None:
    flow = build(_chain({"type": "tanh"}))
    log_p = flow.log_prob(np.array([[0.5, 0.5], [1.0, 0.0], [-3.0, 0.2]]))
    assert np.isfinite(log_p[0])
    np.testing.assert_array_equal(log_p[1:], -np.inf)


def test_the_spec_dtype_overrides_the_input_dtype() -> None:
    flow = build({**spec_for("maf", dim=2), "dtype": "float32"})
    x = flow.sample(10, seed=0)
    assert x.dtype == np.float32
    assert flow.log_prob(x.astype(np.float64)).dtype == np.float32


def test_integer_input_is_computed_in_float64() -> None:
    flow = build(spec_for("affine", dim=2))
    assert flow.log_prob(np.array([[1, 2]])).dtype == np.float64


@pytest.mark.parametrize("name", CASES)
def test_empty_batches_give_empty_results(name: str) -> None:
    flow = build(spec_for(name, dim=2))
    x, logdet = flow.forward(np.zeros((0, 2)))
    assert x.shape == (0, 2) and logdet.shape == (0,)
    assert flow.log_prob(np.zeros((0, 2))).shape == (0,)


@pytest.mark.parametrize("name", ["maf", "rq_spline_coupling", "planar"])
def test_large_batches_are_processed_in_blocks_with_the_same_results(name: str) -> None:
    flow = build(spec_for(name, dim=3))
    x = flow.sample(40_000, seed=3)  # more rows than one block holds
    log_p = flow.log_prob(x)
    for rows in (slice(0, 7), slice(20_000, 20_007), slice(-7, None)):
        np.testing.assert_allclose(log_p[rows], flow.log_prob(x[rows]), rtol=1e-12, atol=1e-12)
