"""Hostile demo requests end in a refusal in the one error shape, never a 500 or a stall."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

AFFINE = {"type": "affine", "A": [[1.0, 0.0], [0.0, 1.0]], "b": [0.0, 0.0]}


def _spec(*layers: Any, dim: int = 2) -> dict[str, Any]:
    return {"type": "chain", "dim": dim, "layers": list(layers)}


def _spline_coupling(bins: int, hidden: int = 2) -> dict[str, Any]:
    return {
        "type": "rq_spline_coupling",
        "mask": [True, False],
        "bins": bins,
        "net": {
            "weights": [[[0.1]] * hidden, [[0.0] * hidden] * (3 * bins - 1)],
            "biases": [[0.0] * hidden, [0.0] * (3 * bins - 1)],
            "activation": "tanh",
        },
    }


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


REFUSED: list[tuple[str, dict[str, Any], int, str]] = [
    (
        "a 200-million dimensional spec",
        {"spec": _spec(AFFINE, dim=200_000_000)},
        422,  # demo states are 2-D: refused before the cost model is even consulted
        "demo states are 2-D; spec 'dim' is 200000000",
    ),
    (
        "a spline of 30000 bins",
        {"spec": _spec(AFFINE, {**_spline_coupling(2), "bins": 30_000})},
        413,
        "spec.layers[1].bins = 30000 is over the limit of 256",
    ),
    (
        "an elementwise spline of 30000 bins",
        {
            "spec": _spec(
                {
                    "type": "rq_spline",
                    "bound": 3.0,
                    "widths": [[1.0] * 30_000] * 2,
                    "heights": [[1.0] * 30_000] * 2,
                    "derivatives": [[1.0] * 29_999] * 2,
                }
            )
        },
        413,
        "spec.layers[0].widths has 30000 bins per row, over the limit of 256",
    ),
    (
        "a 2000-unit hidden layer",
        {"spec": _spec({**_spline_coupling(2, hidden=2000)})},
        413,
        "spec.layers[0].net.weights[0] has 2000 hidden units, over the limit of 1024",
    ),
    (
        "a legal spline on the largest grid",
        {"spec": _spec(_spline_coupling(256, hidden=64)), "resolution": 200, "samples": 5000},
        413,
        "spec on 47222 points needs about",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "message"), REFUSED, ids=[case[0] for case in REFUSED]
)
def test_a_spec_over_the_budget_is_refused_before_it_is_evaluated(
    client: TestClient, case: str, body: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/api/demos/evaluate", json=body)
    assert response.status_code == status
    assert _error(response)["message"].startswith(message)


def test_the_same_spline_on_the_default_grid_is_evaluated(client: TestClient) -> None:
    response = client.post("/api/demos/evaluate", json={"spec": _spec(_spline_coupling(256))})
    assert response.status_code == 200
    assert len(response.json()["log_density"]) == 64


def test_a_spec_nested_900_deep_is_refused_with_422(client: TestClient) -> None:
    deep = "[" * 900 + "0" + "]" * 900
    body = '{"spec": {"type": "chain", "dim": 2, "layers": [{"type": "affine", "A": ' + deep
    body += ', "b": [0, 0]}]}}'
    response = client.post(
        "/api/demos/evaluate", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert _error(response)["message"] == "spec nests deeper than the limit of 12 levels"


@pytest.mark.parametrize("depth", [5_000, 300_000])
def test_a_request_body_nested_beyond_the_parser_is_a_400_not_a_500(
    client: TestClient, depth: int
) -> None:
    body = '{"spec": ' + "[" * depth + "]" * depth + "}"
    response = client.post(
        "/api/demos/evaluate", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "bad_request"


@pytest.mark.parametrize(
    "params",
    [{"resolution": "100000", "samples": "1000000000"}, {"grid_lines": "99999", "layers": "-1"}],
)
def test_a_stored_demo_ignores_size_parameters_in_its_query(
    client: TestClient, params: dict[str, str]
) -> None:
    """A stored demo is evaluated on the default grid, whatever the query string asks for."""
    response = client.get("/api/demos/demo:demo-context/alpha/stretch", params=params)
    assert response.status_code == 200
    evaluation = response.json()["evaluation"]
    assert len(evaluation["grid"]["x"]) == 64
    assert len(evaluation["samples"]["points"]) == 500
