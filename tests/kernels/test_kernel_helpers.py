"""The reparameterisation helpers, the numerical checks and the U1–U4 test energies."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.kernels import (
    ENERGIES,
    LOG_Z,
    LOG_Z_BOX,
    actnorm_from_data,
    build,
    grid_log_prob,
    knots_from_raw,
    log_normaliser,
    made_masks,
    mass_on_box,
    numeric_jacobian,
    planar_u_hat,
    radial_beta,
)


@pytest.mark.parametrize("seed", range(5))
def test_planar_u_hat_gives_an_invertible_planar_map(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, u = rng.standard_normal(3), 3 * rng.standard_normal(3)
    u_hat = planar_u_hat(u, w)
    wu = float(w @ u)
    assert float(w @ u_hat) == pytest.approx(-1 + np.log1p(np.exp(wu)))  # m(wᵀu)
    assert float(w @ u_hat) > -1
    build(
        {
            "type": "chain",
            "dim": 3,
            "layers": [{"type": "planar", "u": u_hat.tolist(), "w": w.tolist(), "b": 0.0}],
        }
    )


def test_radial_beta_is_above_minus_alpha() -> None:
    assert radial_beta(-30.0, 0.7) > -0.7
    assert radial_beta(0.0, 0.7) == pytest.approx(-0.7 + np.log(2))


def test_made_masks_give_an_autoregressive_net() -> None:
    order = [2, 0, 1]
    masks = made_masks(order, [5, 5], params_per_feature=2)
    assert [m.shape for m in masks] == [(5, 3), (5, 5), (6, 5)]
    reach = np.eye(3, dtype=int)
    for mask in masks:
        reach = (mask.astype(int) @ reach > 0).astype(int)
    allowed = np.repeat(order, 2)[:, None] > np.array(order)[None, :]
    assert np.all(reach <= allowed)
    assert reach[2 * 0].sum() == 2  # feature 0 (last in order) sees both others


def test_knots_from_raw_span_the_bound_and_increase() -> None:
    raw = np.random.default_rng(0).standard_normal((4, 3 * 6 - 1)) * 5
    knots = knots_from_raw(raw, bins=6, bound=3.0, min_slope=1e-3)
    for table in (knots.x, knots.y):
        np.testing.assert_allclose(table[:, [0, -1]], [[-3.0, 3.0]] * 4)
        assert np.all(np.diff(table, axis=1) > 0)
    assert np.all(knots.derivative > 1e-3) and np.all(knots.derivative < 1e3)
    np.testing.assert_array_equal(knots.derivative[:, [0, -1]], 1.0)


def test_actnorm_from_data_standardises_the_batch() -> None:
    data = np.random.default_rng(1).normal([3.0, -1.0], [2.0, 0.5], size=(500, 2))
    flow = build({"type": "chain", "dim": 2, "layers": [actnorm_from_data(data)]})
    z, _ = flow.inverse(data)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)


def test_numeric_jacobian_of_a_linear_map_is_its_matrix() -> None:
    A = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])
    points = np.random.default_rng(2).standard_normal((4, 3))
    jacobian = numeric_jacobian(lambda p: p @ A.T, points)
    np.testing.assert_allclose(jacobian, np.broadcast_to(A, (4, 2, 3)), atol=1e-8)


def test_mass_on_box_of_a_standard_normal_is_one() -> None:
    flow = build({"type": "chain", "dim": 2, "layers": []})
    assert mass_on_box(flow.log_prob, [[-8, 8], [-8, 8]], 200) == pytest.approx(1, abs=1e-6)


def test_grid_log_prob_is_indexed_y_then_x() -> None:
    flow = build(
        {
            "type": "chain",
            "dim": 2,
            "base": {"type": "diag_normal", "loc": [1, 0], "scale": [1, 1]},
            "layers": [],
        }
    )
    xs, ys, log_p = grid_log_prob(flow, [[-2, 2], [-1, 1]], (5, 3))
    assert xs.shape == (5,) and ys.shape == (3,) and log_p.shape == (3, 5)
    peak = tuple(int(i) for i in np.unravel_index(np.argmax(log_p), log_p.shape))
    assert peak == (1, 3)  # y = 0, x = 1


def test_u1_log_normaliser_on_the_box_is_1_8775() -> None:
    assert LOG_Z_BOX == ((-4.0, 4.0), (-4.0, 4.0))
    assert log_normaliser(ENERGIES["U1"], LOG_Z_BOX, resolution=1000) == pytest.approx(
        1.8775, abs=1e-4
    )


@pytest.mark.parametrize("name", ["U1", "U2", "U3", "U4"])
def test_stated_log_normalisers_match_quadrature(name: str) -> None:
    assert log_normaliser(ENERGIES[name], LOG_Z_BOX, resolution=800) == pytest.approx(
        LOG_Z[name], abs=2e-5
    )


def test_energies_match_table_1_at_hand_computed_points() -> None:
    origin = np.zeros((1, 2))
    # U1(0) = ½(2/0.4)² − ln(2 e^{−½(2/0.6)²}); U2(0) = 0; U3(0) = −ln(1 + e^{−½(w₂(0)/0.35)²}).
    expected_u1 = 12.5 - np.log(2 * np.exp(-0.5 * (2 / 0.6) ** 2))
    assert ENERGIES["U1"](origin)[0] == pytest.approx(expected_u1)
    assert ENERGIES["U2"](origin)[0] == 0
    w2 = 3 * np.exp(-0.5 * (1 / 0.6) ** 2)
    assert ENERGIES["U3"](origin)[0] == pytest.approx(-np.log(1 + np.exp(-0.5 * (w2 / 0.35) ** 2)))
    w3 = 3 / (1 + np.exp(1 / 0.3))
    expected_u4 = -np.log(1 + np.exp(-0.5 * (w3 / 0.35) ** 2))
    assert ENERGIES["U4"](origin)[0] == pytest.approx(expected_u4)


@pytest.mark.parametrize(
    ("activation", "function"),
    [
        ("relu", lambda h: np.maximum(h, 0)),
        ("tanh", np.tanh),
        ("elu", lambda h: np.where(h > 0, h, np.expm1(h))),
    ],
)
def test_conditioner_nets_compute_the_stated_mlp(activation: str, function: Any) -> None:
    rng = np.random.default_rng(4)
    weights = [
        rng.standard_normal((5, 1)),
        rng.standard_normal((5, 5)),
        rng.standard_normal((2, 5)),
    ]
    biases = [rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(2)]
    spec = {
        "type": "chain",
        "dim": 2,
        "layers": [
            {
                "type": "affine_coupling",
                "mask": [True, False],
                "net": {
                    "weights": [w.tolist() for w in weights],
                    "biases": [b.tolist() for b in biases],
                    "activation": activation,
                },
            }
        ],
    }
    x = rng.standard_normal((6, 2))
    h = x[:, :1]
    for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ w.T + b
        if k < 2:
            h = function(h)
    z_expected = x[:, 1] * np.exp(h[:, 1]) + h[:, 0]
    z, logdet = build(spec).inverse(x)
    np.testing.assert_allclose(z[:, 1], z_expected, rtol=1e-12)
    np.testing.assert_allclose(logdet, h[:, 1], rtol=1e-12)
