"""The login page and session cookie: flags, cross-site writes, throttling, logout, revoke."""

from __future__ import annotations

from fastapi.testclient import TestClient

from server.db import unit_of_work
from server.pages.render import CSP
from server.people import throttle
from server.people.accounts import revoke_account
from server.people.sessions import COOKIE_NAME
from tests.conftest import LOOPBACK
from tests.people.helpers import add_people, team_app

CLAIM = "claim:demo-context/alpha/scaling-claim"
REVIEW = {"verdict": "bounded", "summary": "Read the abstract only."}
SAME_SITE = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


def log_in(client: TestClient, name: str, token: str, **kw: object):  # type: ignore[no-untyped-def]
    data = {"name": name, "token": token, "next": "/concepts/demo-context/alpha"}
    return client.post("/login", data=data, follow_redirects=False, **kw)  # type: ignore[arg-type]


def test_the_login_page_is_strict(database_url: str) -> None:
    with TestClient(team_app(database_url), client=LOOPBACK) as client:
        page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "<script" not in page.text
    assert '<form method="post" action="/login">' in page.text
    assert 'name="token" type="password"' in page.text


def test_a_login_sets_a_strict_session_cookie_that_works_for_pages(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("rita", "reviewer"))
        response = log_in(client, "rita", tokens["rita"])
        assert response.status_code == 303
        assert response.headers["location"] == "/concepts/demo-context/alpha"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on loopback
        assert tokens["rita"] not in cookie
        me = client.get("/api/me").json()
        assert me["name"] == "rita" and me["role"] == "reviewer"
        written = client.post(f"/api/claims/{CLAIM}/reviews", json=REVIEW, headers=SAME_SITE)
        assert written.status_code == 201 and written.json()["reviewer"] == "rita"
        assert "signed in as" in client.get("/login").text.lower()


def test_the_cookie_is_secure_over_https(database_url: str) -> None:
    app = team_app(database_url, allowed_hosts="rr.example")
    with TestClient(app, base_url="https://rr.example", client=LOOPBACK) as client:
        tokens = add_people(app, ("rita", "reviewer"))
        response = log_in(client, "rita", tokens["rita"])
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_cross_site_cookie_writes_are_refused(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("rita", "reviewer"))
        assert log_in(client, "rita", tokens["rita"]).status_code == 303
        url = f"/api/claims/{CLAIM}/reviews"
        for headers in (
            {"Origin": "https://evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
            {"Origin": "null"},
            {"Origin": "http://testserver.evil.example"},
            {"Origin": "http://testserver:8443"},
            {"Origin": "file://testserver"},
            {},  # a cookie write that names neither header
        ):
            response = client.post(url, json=REVIEW, headers=headers)
            assert response.status_code == 403, headers
            error = response.json()["error"]
            assert error["code"] == "forbidden" and "cross-site" in error["message"]
        assert [r["reviewer"] for r in client.get(f"/api/objects/{CLAIM}").json()["reviews"]] == [
            "fixture reviewer"
        ]
        # an https proxy in front: the browser's Origin is https, the server sees http
        behind_proxy = {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"}
        assert client.post(url, json=REVIEW, headers=behind_proxy).status_code == 201
        # a bearer token is not sent by browsers on their own: no Origin needed
        client.cookies.clear()
        bearer = {"Authorization": f"Bearer {tokens['rita']}", "Origin": "https://evil.example"}
        assert client.post(url, json=REVIEW, headers=bearer).status_code == 201


def test_local_mode_refuses_writes_from_another_site(client: TestClient) -> None:
    url = f"/api/claims/{CLAIM}/reviews"
    refused = client.post(url, json=REVIEW, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    refused = client.post(url, json=REVIEW, headers={"Origin": "http://attacker.example"})
    assert refused.status_code == 403
    assert client.post(url, json=REVIEW, headers=SAME_SITE).status_code == 201
    assert client.post(url, json=REVIEW).status_code == 201  # the CLI, curl: no browser headers


def test_revoking_an_account_ends_its_sessions(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("rita", "reviewer"))
        assert log_in(client, "rita", tokens["rita"]).status_code == 303
        assert client.get("/api/me").status_code == 200
        with unit_of_work(app.state.engine) as session:
            revoke_account(session, "rita")
        assert client.get("/api/me").status_code == 401
        assert log_in(client, "rita", tokens["rita"]).status_code == 401


def test_logout_ends_the_session(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("lea", "learner"))
        log_in(client, "lea", tokens["lea"])
        cookie = client.cookies[COOKIE_NAME]
        assert "Log out" in client.get("/logout").text
        refused = client.post("/logout", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        out = client.post("/logout", headers=SAME_SITE, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        client.cookies.set(COOKIE_NAME, cookie)  # replaying the old cookie does not work
        assert client.get("/api/me").status_code == 401


def test_login_refuses_open_redirects_and_cross_site_posts(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("lea", "learner"))
        for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
            data = {"name": "lea", "token": tokens["lea"], "next": target}
            response = client.post("/login", data=data, follow_redirects=False)
            assert response.headers["location"] == "/", target
        cross = log_in(client, "lea", tokens["lea"], headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403


def test_repeated_failed_logins_are_slowed_down_across_workers(database_url: str) -> None:
    first, second = team_app(database_url), team_app(database_url)
    with (
        TestClient(first, client=LOOPBACK) as one,
        TestClient(second, client=("198.51.100.7", 4000)) as other,
    ):
        tokens = add_people(first, ("rita", "reviewer"), ("ed", "editor"))
        for _ in range(throttle.FREE_FAILURES):  # a few mistakes are free
            assert log_in(one, "rita", "wrong").status_code == 401
        assert log_in(one, "rita", tokens["rita"]).status_code == 303  # not slowed yet
        # the success cleared the name's failures, not the client's; eight more guesses make
        # the name wait 16 s (1, 2, 4, 8, 16 after the free ones) and this client 128 s
        with unit_of_work(first.state.engine) as session:
            for _ in range(8):
                throttle.record_failure(session, throttle.scopes("rita", LOOPBACK[0]))
        blocked = log_in(one, "rita", tokens["rita"])
        assert blocked.status_code == 429  # even the right token must wait it out
        assert 16 < int(blocked.headers["retry-after"]) <= 128
        assert "Too many failed logins" in blocked.text
        # the guessing client is slowed down for every name
        assert log_in(one, "ed", tokens["ed"]).status_code == 429
        # the name is slowed down on another worker and from another client (a shared store)
        elsewhere = log_in(other, "rita", tokens["rita"])
        assert elsewhere.status_code == 429 and "retry-after" in elsewhere.headers
        # while another name from that other client is not
        assert log_in(other, "ed", tokens["ed"]).status_code == 303


def test_the_wait_doubles_and_is_capped() -> None:
    free = throttle.FREE_FAILURES
    waits = [throttle.delay_after(n) for n in range(1, free + 6)]
    assert waits == [0.0] * free + [1.0, 2.0, 4.0, 8.0, 16.0]
    assert throttle.delay_after(10_000) == throttle.MAX_DELAY_S


def test_odd_login_names_fail_like_wrong_ones(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        for name in ("rita\x00", "' OR 1=1 --", "x" * 500, ""):
            assert log_in(client, name, "token\x00").status_code == 401, name
