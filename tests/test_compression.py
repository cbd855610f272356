"""Pages, JSON and CSS are gzipped for a client that accepts it, never for one that does not,
never for tiny bodies, and always with ``Vary: Accept-Encoding`` so caches keep them apart."""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

LARGE = [
    ("/concepts/demo-context/alpha", "text/html"),
    ("/api/concepts/demo-context/alpha", "application/json"),
    ("/static/site.css", "text/css"),
    ("/openapi.json", "application/json"),
]


@pytest.mark.parametrize(("path", "media_type"), LARGE)
def test_large_answers_are_gzipped_when_accepted(
    client: TestClient, path: str, media_type: str
) -> None:
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert packed.headers["content-type"].startswith(media_type)
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert packed.content == plain.content  # httpx decodes: the same document
    assert "content-encoding" not in plain.headers
    # Security headers survive the compression layer.
    assert packed.headers["content-security-policy"] == plain.headers["content-security-policy"]


def test_the_bytes_on_the_wire_are_gzip(client: TestClient) -> None:
    with client.stream(
        "GET", "/concepts/demo-context/alpha", headers={"Accept-Encoding": "gzip"}
    ) as response:
        raw = b"".join(response.iter_raw())
    document = gzip.decompress(raw)
    assert document.startswith(b"<!doctype html>")
    assert len(raw) < len(document) / 2


def test_tiny_answers_are_not_compressed(client: TestClient) -> None:
    response = client.get("/api/health", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert len(response.content) < 1024
    assert "content-encoding" not in response.headers


def test_fonts_are_sent_as_they_are(client: TestClient) -> None:
    response = client.get(
        "/static/fonts/latinmodern-math.woff2", headers={"Accept-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "font/woff2"
    assert "content-encoding" not in response.headers  # woff2 is compressed already


def test_errors_in_the_one_shape_survive_compression(client: TestClient) -> None:
    response = client.get("/api/objects/concept:nope/nope", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.fixture
def small_threshold(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, VALID_CONTENT, compress_min_bytes=10)
    with TestClient(create_app(settings), client=LOOPBACK) as test_client:
        yield test_client


def test_the_threshold_is_a_setting(small_threshold: TestClient) -> None:
    response = small_threshold.get("/api/health", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"


@pytest.mark.slow
def test_http_client_without_accept_encoding_gets_plain_bytes(tmp_path: Path) -> None:
    from tests.serving import serving

    with serving(tmp_path, "--content", str(VALID_CONTENT)) as base:
        host, port = base.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.putrequest("GET", "/concepts/demo-context/alpha", skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        connection.close()
    assert response.status == 200
    assert response.getheader("content-encoding") is None
    assert body.startswith(b"<!doctype html>")
