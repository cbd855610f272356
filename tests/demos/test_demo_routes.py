"""``POST /api/demos/evaluate`` on a tiny app with the service's one error handler."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from server.demos.routes import router
from server.errors import ReadingRoomError

SPEC: dict[str, Any] = {
    "type": "chain",
    "dim": 2,
    "layers": [{"type": "planar", "u": [1.0, 0.5], "w": [0.3, -1.0], "b": 0.1}],
}


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(ReadingRoomError)
    def render(_: Request, error: ReadingRoomError) -> JSONResponse:
        return JSONResponse(error.to_body(), status_code=error.status_code)

    return TestClient(app)


def test_evaluate_answers_a_demo_state(client: TestClient) -> None:
    response = client.post(
        "/api/demos/evaluate", json={"spec": SPEC, "resolution": 4, "samples": 3}
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["log_density"]) == 4 and len(body["log_density"][0]) == 4
    assert len(body["samples"]["points"]) == 3
    assert len(body["grid_lines"]) == 22
    assert body["layers"] == 1 and body["dtype"] == "float64"


def test_a_non_invertible_spec_answers_422_with_the_error_shape(client: TestClient) -> None:
    spec = {**SPEC, "layers": [{"type": "planar", "u": [-1.0, -1.0], "w": [1.0, 1.0], "b": 0}]}
    response = client.post("/api/demos/evaluate", json={"spec": spec})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "invalid_input",
            "message": "layers[0] (planar): wᵀu = -2 < -1, so the map is not invertible; "
            "use planar_u_hat(u, w) for the effective u",
            "details": [],
        }
    }


def test_a_grid_beyond_the_limit_answers_413(client: TestClient) -> None:
    response = client.post("/api/demos/evaluate", json={"spec": SPEC, "resolution": 1000})
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "resolution 1000 along x exceeds MAX_GRID_SIDE = 200 points",
        "details": [],
    }


def test_a_malformed_request_answers_422(client: TestClient) -> None:
    response = client.post("/api/demos/evaluate", json={"spec": SPEC, "bounds": [[1, -1], [0, 1]]})
    assert response.status_code == 422


def test_the_route_is_a_plain_def() -> None:
    import inspect

    from server.demos import routes

    assert not inspect.iscoroutinefunction(routes.evaluate)


def test_non_finite_bounds_are_refused_by_the_request_model() -> None:
    # Starlette's JSON parser accepts -Infinity; the model refuses it. (FastAPI's default
    # validation handler cannot echo the non-finite input back as JSON, so this is checked
    # on the model rather than through the tiny app.)
    from pydantic import ValidationError

    from server.demos.schemas import DemoRequest

    with pytest.raises(ValidationError, match="Input should be a finite number"):
        DemoRequest.model_validate_json('{"spec": {}, "bounds": [[-Infinity, 1], [0, 1]]}')
