"""Schemathesis over the whole OpenAPI document, in-process against the app on a fresh store.

Every operation gets its own freshly migrated database with the fixture content, a fixed
seed and at most 30 generated examples; no operation is deselected. A response must never
be a 5xx, and must match the status codes, content type and body schema the document gives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.app import create_app
from server.config import Settings
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, VALID_CONTENT))
    with TestClient(app, client=LOOPBACK) as client:
        yield client


# The document is the app's own; building it touches no database.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@seed(20261201)
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_own_contract(case: Case, api: TestClient) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), bytes | str):  # a raw body is content to httpx
        kwargs["content"] = kwargs.pop("data")
    response = api.request(**kwargs)
    case.validate_response(response, checks=CHECKS)
