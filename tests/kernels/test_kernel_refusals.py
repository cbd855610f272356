"""Specs and inputs the kernels refuse, with the exact message a user sees (HTTP 422)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.errors import InvalidInput
from server.kernels import SpecError, build
from tests.kernels.cases import spec_for


def _chain(*layers: Any, dim: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "type": "chain",
        "dim": dim,
        "base": {"type": "normal"},
        "layers": list(layers),
        **extra,
    }


AFFINE = {"type": "affine", "A": [[1.0, 0.0], [0.0, 1.0]], "b": [0.0, 0.0]}

REFUSED: list[tuple[str, Any, str]] = [
    (
        "planar w·u < -1",
        _chain({"type": "planar", "u": [-1.0, -1.0], "w": [1.0, 1.0], "b": 0.0}),
        "layers[0] (planar): wᵀu = -2 < -1, so the map is not invertible; "
        "use planar_u_hat(u, w) for the effective u",
    ),
    (
        "radial alpha 0",
        _chain({"type": "radial", "z0": [0, 0], "alpha": 0.0, "beta": 1.0}),
        "layers[0] (radial): 'alpha' must be > 0, got 0.0",
    ),
    (
        "radial beta < -alpha",
        _chain(AFFINE, {"type": "radial", "z0": [0, 0], "alpha": 1.0, "beta": -1.5}),
        "layers[1] (radial): 'beta' = -1.5 < -alpha = -1.0, so the map is not invertible; "
        "use radial_beta(beta, alpha) for the effective beta",
    ),
    (
        "singular affine",
        _chain({"type": "affine", "A": [[1.0, 2.0], [0.0, 0.0]], "b": [0, 0]}),
        "layers[0] (affine): 'A' is singular (condition number inf > 1e+12); "
        "an affine layer must be invertible",
    ),
    (
        "affine wrong shape",
        _chain({"type": "affine", "A": [1.0, 2.0, 3.0], "b": [0, 0]}),
        "layers[0] (affine): 'A' must have shape (2, 2), got (3,)",
    ),
    (
        "nan parameter",
        _chain({"type": "affine", "A": [[1, 0], [0, 1]], "b": [0.0, float("nan")]}),
        "layers[0] (affine): 'b' has a non-finite value nan at index [1]",
    ),
    (
        "unknown type",
        _chain({"type": "planer"}),
        "layers[0]: unknown type 'planer'; expected one of: actnorm, affine, affine_coupling, "
        "atanh, leaky_relu, logit, lu_linear, maf, permutation, planar, radial, rq_spline, "
        "rq_spline_autoregressive, rq_spline_coupling, sigmoid, tanh",
    ),
    ("unknown key", _chain({**AFFINE, "bias": [0, 0]}), "layers[0] (affine): unknown key 'bias'"),
    (
        "missing key",
        _chain({"type": "radial", "z0": [0, 0], "alpha": 1.0}),
        "layers[0] (radial): missing 'beta'",
    ),
    (
        "logit on the real line",
        _chain({"type": "logit"}),
        "layers[0] (logit): needs inputs in (0, 1), but the base distribution gives values "
        "on the whole real line",
    ),
    (
        "atanh after sigmoid",
        _chain({"type": "sigmoid"}, {"type": "atanh"}),
        "layers[1] (atanh): needs inputs in (-1, 1), but layers[0] (sigmoid) gives values "
        "on (0, 1)",
    ),
    (
        "leaky slope 0",
        _chain({"type": "leaky_relu", "negative_slope": 0}),
        "layers[0] (leaky_relu): 'negative_slope' must be > 0 to be invertible, got 0.0",
    ),
    (
        "actnorm zero scale",
        _chain({"type": "actnorm", "scale": [1.0, 0.0], "bias": [0, 0]}),
        "layers[0] (actnorm): 'scale' must be non-zero, got 0 at index 1",
    ),
    (
        "lu zero pivot",
        _chain(
            {
                "type": "lu_linear",
                "perm": [1, 0],
                "L": [[1, 0], [0.5, 1]],
                "U": [[2, 1], [0, 0]],
                "b": [0, 0],
            }
        ),
        "layers[0] (lu_linear): 'U' has a zero on its diagonal at index 1; the map is singular",
    ),
    (
        "bad permutation",
        _chain({"type": "permutation", "perm": [0, 0]}),
        "layers[0] (permutation): 'perm' must be a permutation of 0..1, got [0, 0]",
    ),
    (
        "spline negative width",
        _chain(
            {
                "type": "rq_spline",
                "bound": 1.0,
                "widths": [[1, -1], [1, 1]],
                "heights": [[1, 1], [1, 1]],
                "derivatives": [[1], [1]],
            }
        ),
        "layers[0] (rq_spline): 'widths' must be positive, got -1.0 at [0, 1]",
    ),
    (
        "coupling mask all true",
        _chain({"type": "affine_coupling", "mask": [True, True], "net": {}}),
        "layers[0] (affine_coupling): 'mask' must mark some features true and some false, "
        "got [True, True]",
    ),
    (
        "coupling net output size",
        _chain(
            {
                "type": "affine_coupling",
                "mask": [1, 0],
                "net": {"weights": [[[1.0]]], "biases": [[0.0]]},
            }
        ),
        "layers[0] (affine_coupling).net: 'weights[0]' must have 2 rows, got shape (1, 1)",
    ),
    (
        "maf not autoregressive",
        _chain(
            {"type": "maf", "net": {"weights": [np.ones((4, 2)).tolist()], "biases": [[0.0] * 4]}}
        ),
        "layers[0] (maf): net output 0 (feature 0) depends on input 0, which does not come "
        "earlier in 'order'; zero such weights, e.g. with made_masks",
    ),
    (
        "base scale",
        {
            "type": "chain",
            "dim": 2,
            "base": {"type": "diag_normal", "loc": [0, 0], "scale": [1, -1]},
            "layers": [],
        },
        "spec.base: 'scale' must be positive, got -1.0 at index 1",
    ),
    (
        "not a chain",
        {"type": "stack", "dim": 2, "layers": []},
        "spec: 'type' must be one of chain; got 'stack'",
    ),
    ("bad dim", {"type": "chain", "dim": 0, "layers": []}, "spec: 'dim' must be at least 1, got 0"),
    (
        "bad dtype",
        {"type": "chain", "dim": 2, "layers": [], "dtype": "float16"},
        "spec: 'dtype' must be one of float64, float32; got 'float16'",
    ),
    (
        "layers not a list",
        {"type": "chain", "dim": 2, "layers": {"type": "affine"}},
        "spec: 'layers' must be a list, got dict",
    ),
    ("spec not an object", [1, 2], "spec: expected an object, got list"),
]


@pytest.mark.parametrize(
    ("spec", "message"), [(s, m) for _, s, m in REFUSED], ids=[name for name, _, _ in REFUSED]
)
def test_build_refuses_with_a_message_naming_the_layer_and_value(spec: Any, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        build(spec)
    assert str(caught.value) == message


def test_spec_errors_are_invalid_input_answered_with_422() -> None:
    assert issubclass(SpecError, InvalidInput)
    assert SpecError("x").status_code == 422


REFUSED_INPUTS: list[tuple[str, Any, str]] = [
    ("nan", [[0.0, 0.0], [np.nan, 1.0]], "x has a non-finite value nan at [1, 0]"),
    ("inf", [[np.inf, 0.0]], "x has a non-finite value inf at [0, 0]"),
    ("wrong width", np.zeros((4, 3)), "x must have shape (n, 2), got (4, 3)"),
    ("one point as a vector", [0.0, 0.0], "x must have shape (n, 2), got (2,)"),
    ("strings", [["a", "b"]], "x must hold numbers, got dtype <U1"),
]


@pytest.mark.parametrize(
    ("points", "message"),
    [(p, m) for _, p, m in REFUSED_INPUTS],
    ids=[name for name, _, _ in REFUSED_INPUTS],
)
def test_log_prob_refuses_bad_points(points: Any, message: str) -> None:
    flow = build(spec_for("affine", dim=2))
    with pytest.raises(SpecError) as caught:
        flow.log_prob(points)
    assert str(caught.value) == message


def test_forward_names_its_input_z() -> None:
    flow = build(spec_for("affine", dim=2))
    with pytest.raises(SpecError, match=r"^z must have shape \(n, 2\), got \(3,\)$"):
        flow.forward(np.zeros(3))


def test_sample_refuses_a_negative_count() -> None:
    with pytest.raises(SpecError, match=r"^n must be a non-negative integer, got -1$"):
        build(spec_for("affine", dim=2)).sample(-1)
