"""Every stored demo state of the bundled content evaluates through the API."""

from __future__ import annotations

import math

from fastapi.testclient import TestClient


def test_every_bundled_demo_state_evaluates(bundled_client: TestClient) -> None:
    keys = [
        demo["key"]
        for concept in bundled_client.get("/api/concepts").json()["data"]
        for demo in bundled_client.get(concept["api_url"]).json()["demos"]
    ]
    assert len(keys) >= 10
    for key in keys:
        response = bundled_client.get(f"/api/demos/{key}")
        assert response.status_code == 200, (key, response.text[:300])
        body = response.json()
        assert body["key"] == key and body["caption"]
        evaluation = body["evaluation"]
        assert evaluation["samples"]["points"], key
        densities = [v for row in evaluation["log_density"] for v in row if v is not None]
        assert densities and all(math.isfinite(v) for v in densities), key


def test_a_non_demo_key_is_not_found(bundled_client: TestClient) -> None:
    response = bundled_client.get("/api/demos/source:rezende-2015-normalizing-flows")
    assert response.status_code == 404
    assert response.json()["error"]["message"].endswith("not a demo state")
