"""Demo-state evaluation: the fields agree with the kernels, nulls mark non-finite values,
and the limits refuse oversized requests."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from server.demos.limits import MAX_GRID_SIDE, MAX_SAMPLES
from server.demos.schemas import DemoRequest
from server.demos.service import evaluate_demo
from server.errors import InvalidInput, PayloadTooLarge
from server.kernels import SpecError, build
from server.kernels.cost import MAX_LAYERS

SPEC: dict[str, Any] = {
    "type": "chain",
    "dim": 2,
    "base": {"type": "normal"},
    "layers": [
        {"type": "affine", "A": [[1.2, 0.3], [0.1, 0.9]], "b": [0.5, -0.2]},
        {"type": "planar", "u": [1.0, 0.5], "w": [0.3, -1.0], "b": 0.1},
        {"type": "radial", "z0": [0.0, 1.0], "alpha": 0.5, "beta": 1.0},
    ],
}


def _request(**changes: Any) -> DemoRequest:
    fields: dict[str, Any] = {
        "spec": SPEC,
        "resolution": [7, 5],
        "samples": 20,
        "grid_lines": 3,
        "line_points": 4,
    }
    return DemoRequest(**{**fields, **changes})


def test_density_fields_agree_with_the_flow() -> None:
    state = evaluate_demo(_request(bounds=[[-3, 3], [-2, 2]]))
    flow = build(SPEC)
    assert state.grid.x == pytest.approx(np.linspace(-3, 3, 7).tolist())
    assert state.grid.y == pytest.approx(np.linspace(-2, 2, 5).tolist())
    log_density = np.array(state.log_density)
    assert log_density.shape == (5, 7)
    x, y = state.grid.x[4], state.grid.y[1]
    assert log_density[1, 4] == pytest.approx(flow.log_prob(np.array([[x, y]]))[0])
    np.testing.assert_allclose(
        log_density, np.array(state.base_log_density) + np.array(state.log_volume), rtol=1e-12
    )


def test_grid_lines_are_images_of_latent_lines() -> None:
    state = evaluate_demo(_request(latent_bounds=[[-1, 1], [-2, 2]]))
    assert [(line.axis, line.value) for line in state.grid_lines] == [
        ("x", -1.0),
        ("x", 0.0),
        ("x", 1.0),
        ("y", -2.0),
        ("y", 0.0),
        ("y", 2.0),
    ]
    flow = build(SPEC)
    vertical = state.grid_lines[2]  # latent x = 1, y from -2 to 2
    latent = np.column_stack([np.ones(4), np.linspace(-2, 2, 4)])
    np.testing.assert_allclose(vertical.points, flow.forward(latent)[0], rtol=1e-12)


def test_samples_match_flow_sample_and_their_log_dets() -> None:
    state = evaluate_demo(_request(samples=30, seed=4))
    flow = build(SPEC)
    np.testing.assert_allclose(state.samples.points, flow.sample(30, seed=4), rtol=1e-12)
    _, log_det = flow.forward(np.array(state.samples.latent))
    np.testing.assert_allclose(state.samples.log_det, log_det, rtol=1e-12)
    np.testing.assert_allclose(
        state.samples.log_density, flow.log_prob(np.array(state.samples.points)), atol=1e-9
    )


def test_non_finite_values_become_null_and_the_state_is_json() -> None:
    spec = {"type": "chain", "dim": 2, "layers": [{"type": "sigmoid"}]}
    state = evaluate_demo(_request(spec=spec, bounds=[[-0.5, 1.5], [0.25, 0.75]]))
    row = state.log_density[0]
    assert row[0] is None and row[-1] is None  # x = -0.5 and x = 1.5 are outside (0, 1)
    assert isinstance(row[3], float)
    text = json.dumps(state.model_dump())
    assert "NaN" not in text and "Infinity" not in text


def test_layers_selects_a_prefix_of_the_chain() -> None:
    state = evaluate_demo(_request(layers=1, samples=5))
    flow = build({**SPEC, "layers": SPEC["layers"][:1]})
    assert state.layers == 1
    np.testing.assert_allclose(state.samples.points, flow.sample(5, seed=0))


def test_a_float32_spec_is_evaluated_in_float32() -> None:
    assert evaluate_demo(_request(spec={**SPEC, "dtype": "float32"})).dtype == "float32"


TOO_LARGE = [
    (
        {"resolution": [MAX_GRID_SIDE + 1, 10]},
        "resolution 201 along x exceeds MAX_GRID_SIDE = 200 points",
    ),
    ({"resolution": 250}, "resolution 250 along x exceeds MAX_GRID_SIDE = 200 points"),
    ({"samples": MAX_SAMPLES + 1}, "samples = 5001 exceeds MAX_SAMPLES = 5000"),
    ({"grid_lines": 42}, "grid_lines = 42 exceeds MAX_GRID_LINES = 41 per axis"),
    ({"line_points": 401}, "line_points = 401 exceeds MAX_LINE_POINTS = 400"),
    (
        {"spec": {**SPEC, "layers": [{"type": "sigmoid"}] * (MAX_LAYERS + 1)}},
        "spec.layers has 33 layers, over the limit of 32",
    ),
    (
        {
            "spec": {
                **SPEC,
                "layers": [{"type": "affine", "A": [[1.0] * 500] * 500, "b": [0] * 500}],
            }
        },
        "spec holds 250501 numbers, over the limit of 200000",
    ),
]


@pytest.mark.parametrize(("changes", "message"), TOO_LARGE)
def test_requests_beyond_the_limits_are_refused_with_413(changes: Any, message: str) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        evaluate_demo(_request(**changes))
    assert caught.value.status_code == 413
    assert str(caught.value) == message


def test_a_3d_spec_is_refused_with_422() -> None:
    with pytest.raises(InvalidInput, match=r"^demo states are 2-D; spec 'dim' is 3$"):
        evaluate_demo(_request(spec={**SPEC, "dim": 3, "layers": []}))


def test_an_invalid_spec_is_refused_with_the_kernel_message() -> None:
    bad = {**SPEC, "layers": [{"type": "radial", "z0": [0, 0], "alpha": -1.0, "beta": 0.0}]}
    with pytest.raises(SpecError, match=r"^layers\[0\] \(radial\): 'alpha' must be > 0"):
        evaluate_demo(_request(spec=bad))


def test_more_layers_than_the_spec_has_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^layers = 4 but the spec has 3 layers$"):
        evaluate_demo(_request(layers=4))


def test_zero_volume_points_are_null_not_errors() -> None:
    # Planar with wᵀu = −1 squashes the line wᵀz + b = 0 (through (−0.5, 0)) to zero volume.
    spec = {
        "type": "chain",
        "dim": 2,
        "layers": [{"type": "planar", "u": [-0.2, -0.4], "w": [1.0, 2.0], "b": 0.5}],
    }
    state = evaluate_demo(_request(spec=spec, bounds=[[-0.5, 0.5], [0, 1]], resolution=3))
    assert state.log_volume[0][0] is None and state.log_density[0][0] is None
    assert isinstance(state.log_density[1][1], float)
