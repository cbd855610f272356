"""Admission: the request limit, the database pool behind it, Host names, and headers."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from server.app import create_app, pool_connections
from server.config import Settings
from server.db import make_engine
from server.headers import DEFAULT_CSP
from server.hosts import exposure_warnings, normalise_host_name
from server.limits import ConcurrencyLimit
from server.pages.render import CSP as PAGE_CSP
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

CONCEPT = "concept:demo-context/alpha"


def app_with(database_url: str, **settings: Any) -> Any:
    return create_app(make_settings(database_url, VALID_CONTENT, **settings))


# -- the request limit ------------------------------------------------------------------------


class Held:
    """An ASGI app whose requests wait until released, to fill a lane on purpose."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.inside = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_beyond_the_limit_requests_answer_503_with_retry_after() -> None:
    asyncio.run(fill_the_lanes())


async def fill_the_lanes() -> None:
    held = Held()
    limited = ConcurrencyLimit(held, limit=3, health_limit=1)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        waiting = [asyncio.create_task(client.get("/api/concepts")) for _ in range(3)]
        health = asyncio.create_task(client.get("/api/health"))
        while held.inside < 4:
            await asyncio.sleep(0.01)
        refused = await client.get("/api/concepts")
        refused_health = await client.get("/api/health")
        held.release.set()
        answered = await asyncio.gather(*waiting, health)
    assert [r.status_code for r in answered] == [200, 200, 200, 200]
    for response in (refused, refused_health):
        assert response.status_code == 503
        assert 1 <= int(response.headers["retry-after"]) <= 30
        assert response.json()["error"]["code"] == "busy"
        assert set(response.json()["error"]) == {"code", "message", "details"}
    # the lanes empty again once their requests finish
    assert limited.main.in_flight == 0 and limited.health.in_flight == 0


def test_retry_after_grows_with_the_flood_and_is_capped() -> None:
    limited = ConcurrencyLimit(Held(), limit=10)
    waits = [limited.main.refuse(100.5) for _ in range(100)]
    assert waits[0] == 1 and waits[-1] == 11  # 100 refusals in a second for a lane of 10
    assert limited.main.refuse(101.2) == 11  # the last second still counts
    assert limited.main.refuse(105.0) == 1  # a quiet spell resets it
    assert max(limited.main.refuse(106.0) for _ in range(10_000)) == 30


def test_the_pool_is_sized_to_the_admitted_requests(database_url: str) -> None:
    settings = make_settings(database_url, None, max_concurrent_requests=7)
    engine = make_engine(settings.database_url, connections=pool_connections(settings))
    try:
        assert engine.pool.size() == pool_connections(settings) > 7  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.parametrize("limit", [4, 64])
def test_many_concurrent_requests_degrade_but_never_answer_500(
    database_url: str, limit: int
) -> None:
    """100 at once used to exhaust the pool (size 5, overflow 10) and answer 500."""
    app = app_with(database_url, max_concurrent_requests=limit)
    paths = ["/api/concepts", f"/api/objects/{CONCEPT}", "/api/graph", "/api/health"]
    with TestClient(app, client=LOOPBACK) as client, ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(lambda n: client.get(paths[n % len(paths)]), range(200)))
    statuses = [r.status_code for r in answers]
    assert 500 not in statuses
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= min(limit, 50)  # generous: some always get through
    for response in answers:
        if response.status_code == 503:
            assert response.headers["Retry-After"].isdigit()


# -- Host names (DNS rebinding) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8123", "[::1]:8000", "[::1]", "LocalHost."]
)
def test_loopback_names_are_served(database_url: str, host: str) -> None:
    with TestClient(app_with(database_url), client=LOOPBACK) as client:
        response = client.get("/api/health", headers={"Host": host})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "host", ["rebound.attacker.example", "rebound.attacker.example:8000", "127.0.0.1.nip.io",
             "localhost.attacker.example", "10.0.0.5", ""],
)  # fmt: skip
def test_other_host_names_are_refused(database_url: str, host: str) -> None:
    with TestClient(app_with(database_url), client=LOOPBACK) as client:
        for path in ("/api/health", f"/api/objects/{CONCEPT}", "/concepts/demo-context/alpha"):
            response = client.get(path, headers={"Host": host})
            assert response.status_code == 400, (host, path)
            assert response.json()["error"]["code"] == "bad_host"
        ran = client.post(
            "/api/witnesses/run", json={"code": "print(1)"}, headers={"Host": host}
        )
        assert ran.status_code == 400


def test_configured_names_are_served_in_either_mode(database_url: str) -> None:
    for mode in ("local", "team"):
        app = app_with(database_url, mode=mode, allowed_hosts="reading.example.org, Lab.Local")
        with TestClient(app, client=LOOPBACK) as client:
            for host in ("reading.example.org", "reading.example.org:443", "lab.local"):
                assert client.get("/api/health", headers={"Host": host}).status_code == 200
            other = client.get("/api/health", headers={"Host": "other.example.org"})
            assert other.status_code == 400


def test_host_names_are_normalised() -> None:
    assert normalise_host_name("Example.ORG.:8080") == "example.org"
    assert normalise_host_name("[::1]:80") == "[::1]"
    assert normalise_host_name("::1") == "[::1]"
    assert normalise_host_name("[::1") == "[::1"  # malformed: never equal to a real name


def test_team_mode_beyond_loopback_without_https_warns() -> None:
    exposed = Settings(mode="team", host="0.0.0.0")
    assert any("without https" in w for w in exposure_warnings(exposed))
    assert any("READINGROOM_ALLOWED_HOSTS" in w for w in exposure_warnings(exposed))
    proxied = Settings(
        mode="team", host="0.0.0.0", behind_https_proxy=True, allowed_hosts="reading.example"
    )
    assert exposure_warnings(proxied) == []
    assert exposure_warnings(Settings(mode="team", host="127.0.0.1")) == []
    assert any("no login" in w for w in exposure_warnings(Settings(host="0.0.0.0")))


# -- small faults -----------------------------------------------------------------------------


def test_405_keeps_its_allow_header(client: TestClient) -> None:
    for method, path in (("DELETE", "/api/health"), ("PUT", "/api/concepts"),
                         ("POST", f"/api/objects/{CONCEPT}")):  # fmt: skip
        response = client.request(method, path)
        assert response.status_code == 405, path
        assert "GET" in response.headers["Allow"]
        assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_prompt_answers_carry_nosniff_and_a_csp(client: TestClient, fmt: str) -> None:
    response = client.get(f"/api/objects/{CONCEPT}/prompt", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == DEFAULT_CSP
    posted = client.post("/api/prompts", json={"key": CONCEPT, "format": fmt})
    assert posted.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in posted.headers["Content-Security-Policy"]


def test_every_answer_has_nosniff_and_pages_keep_their_own_csp(client: TestClient) -> None:
    for path in ("/api/health", "/api/objects/concept:x/nope", "/static/site.css"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Content-Security-Policy"] == DEFAULT_CSP, path
    page = client.get("/concepts/demo-context/alpha")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == PAGE_CSP
    assert page.headers["X-Content-Type-Options"] == "nosniff"


URL_ATTRIBUTE = re.compile(r"""\b(?:src|href|spec-url|data-openapi)\s*=\s*["']([^"']*)["']""")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_load_nothing_from_outside(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = URL_ATTRIBUTE.findall(page.text)
    assert urls, "the page references no assets at all"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        if url != "/openapi.json":
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url
    assert "http://" not in page.text and "https://" not in page.text
    assert "<script>" not in page.text  # no inline script: the page's CSP allows only 'self'
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "http" not in csp
    assert client.get("/openapi.json").status_code == 200


def test_swagger_ui_does_not_call_the_outside_validator(client: TestClient) -> None:
    script = client.get("/docs/assets/swagger-init.js")
    assert script.status_code == 200 and "validatorUrl: null" in script.text
    assert client.get("/docs/assets/../../server/config.py").status_code == 404
    assert client.get("/docs/assets/nope.js").status_code == 404
