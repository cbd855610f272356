"""Claim reviews through the API: who may add one, append-only history, the queue."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from server.app import create_app
from server.db import unit_of_work
from server.objects.serialize import BOUNDED_REVIEW, NO_SUBSTANTIVE_REVIEW
from tests.conftest import LOOPBACK, NEW_CLAIM, make_settings, remove_claim, rename_claim
from tests.people.helpers import add_people, bearer, team_app

ALPHA = "claim:demo-context/alpha/scaling-claim"
BETA = "claim:demo-context/beta/scaling-claim"
SOURCE = "source:smith-2020-example"
SUPPORTED = {
    "verdict": "supported",
    "summary": "Section 2 states the 1/|a| factor for a scalar scaling.",
    "caveats": "Shown for one dimension only.",
    "support": [{"source": "smith-2020-example", "checked": True, "stance": "supports"}],
}


def post_review(client: TestClient, key: str, body: dict[str, object], **kw: object):  # type: ignore[no-untyped-def]
    return client.post(f"/api/claims/{key}/reviews", json=body, **kw)  # type: ignore[arg-type]


def test_a_learner_may_not_review_and_a_reviewer_may(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("lea", "learner"), ("rita", "reviewer"), ("ed", "editor"))
        refused = post_review(client, ALPHA, SUPPORTED, headers=bearer(tokens["lea"]))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert post_review(client, ALPHA, SUPPORTED).status_code == 401
        # the reviewer and time come from the account, whatever the body says
        body = {**SUPPORTED, "reviewer": "mallory", "date": "1999-01-01"}
        created = post_review(client, ALPHA, body, headers=bearer(tokens["rita"]))
        assert created.status_code == 201, created.text
        review = created.json()
        assert created.headers["location"] == f"/api/claims/{ALPHA}/reviews/{review['id']}"
        assert review["reviewer"] == "rita" and review["date"] != "1999-01-01"
        assert review["origin"] == "api" and review["reviewed_at"]
        assert review["support"] == [
            {"source": SOURCE, "link": None, "checked": True, "stance": "supports"}
        ]
        assert post_review(client, BETA, SUPPORTED, headers=bearer(tokens["ed"])).status_code == 201
        claim = client.get(f"/api/objects/{ALPHA}").json()
    assert claim["verdict"] == "supported" and claim["substantive"] is True
    assert claim["latest_review"]["id"] == review["id"]
    assert [r["verdict"] for r in claim["reviews"]] == ["bounded", "supported"]
    assert claim["badge"]["notice"] is None
    assert claim["support"][0]["latest_review_check"]["checked"] is True


def test_badge_wording_follows_the_latest_review(client: TestClient) -> None:
    alpha = client.get(f"/api/objects/{ALPHA}").json()
    assert alpha["verdict"] == "bounded" and alpha["substantive"] is False
    assert alpha["badge"]["notice"] == BOUNDED_REVIEW
    assert BOUNDED_REVIEW == (
        "A bounded review summary is present; still check caveats and exact source scope"
    )
    assert BOUNDED_REVIEW in client.get("/concepts/demo-context/alpha").text
    post_review(client, ALPHA, SUPPORTED)
    assert client.get(f"/api/objects/{ALPHA}").json()["badge"]["notice"] is None


def test_an_unreviewed_claim_says_it_still_needs_review(
    database_url: str, content_copy: Path
) -> None:
    beta = content_copy / "demo-context" / "beta.md"
    text = beta.read_text()
    beta.write_text(text[: text.index("    reviews:")] + text[text.index("misconceptions:") :])
    app = create_app(make_settings(database_url, content_copy))
    with TestClient(app, client=LOOPBACK) as client:
        claim = client.get(f"/api/objects/{BETA}").json()
    assert claim["verdict"] == "unreviewed" and claim["latest_review"] is None
    assert claim["badge"]["notice"] == NO_SUBSTANTIVE_REVIEW
    assert NO_SUBSTANTIVE_REVIEW == (
        "Claims without a substantive review badge still need exact source-support review"
    )


def test_reviews_are_append_only(client: TestClient) -> None:
    created = post_review(client, ALPHA, SUPPORTED).json()
    base = f"/api/claims/{ALPHA}/reviews"
    for method in ("PUT", "DELETE", "PATCH"):
        assert client.request(method, f"{base}/{created['id']}").status_code == 405
        assert client.request(method, base).status_code == 405
    assert client.get(f"{base}/{created['id']}").json()["summary"] == SUPPORTED["summary"]
    history = client.get(base).json()
    assert history["count"] == 2


def test_a_correction_supersedes_a_review_of_the_same_claim_only(client: TestClient) -> None:
    first = post_review(client, ALPHA, SUPPORTED).json()
    other = post_review(client, BETA, SUPPORTED).json()
    wrong = post_review(client, ALPHA, {**SUPPORTED, "supersedes": other["id"]})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"][0]["loc"] == ["body", "supersedes"]
    missing = post_review(client, ALPHA, {**SUPPORTED, "supersedes": 99999})
    assert missing.status_code == 422
    correction = {**SUPPORTED, "verdict": "partial", "summary": "Only the 1-D case is stated."}
    fixed = post_review(client, ALPHA, {**correction, "supersedes": first["id"]})
    assert fixed.status_code == 201
    again = post_review(client, ALPHA, {**correction, "supersedes": first["id"]})
    assert again.status_code == 409
    claim = client.get(f"/api/objects/{ALPHA}").json()
    assert claim["verdict"] == "partial"
    by_id = {r["id"]: r for r in claim["reviews"]}
    assert by_id[first["id"]]["superseded_by"] == fixed.json()["id"]
    assert by_id[fixed.json()["id"]]["supersedes"] == first["id"]
    assert len(claim["reviews"]) == 3  # nothing rewritten


def test_review_bodies_are_bounded_and_checked(client: TestClient) -> None:
    too_long = post_review(client, ALPHA, {**SUPPORTED, "summary": "x" * 1201})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"][0]["loc"] == ["body", "summary"]
    caveats = post_review(client, ALPHA, {**SUPPORTED, "caveats": "x" * 1201})
    assert caveats.json()["error"]["details"][0]["loc"] == ["body", "caveats"]
    assert post_review(client, ALPHA, {**SUPPORTED, "summary": "   "}).status_code == 422
    for verdict in ("unreviewed", "great", ""):
        assert post_review(client, ALPHA, {**SUPPORTED, "verdict": verdict}).status_code == 422
    stranger = {**SUPPORTED, "support": [{"source": "no-such-source", "checked": True}]}
    error = post_review(client, ALPHA, stranger)
    assert error.status_code == 422 and "no-such-source" in error.json()["error"]["message"]
    twice = {**SUPPORTED, "support": [{"source": SOURCE}, {"source": "smith-2020-example"}]}
    assert post_review(client, ALPHA, twice).status_code == 422
    huge = client.post(
        f"/api/claims/{ALPHA}/reviews", content=b"x" * (2 << 20),
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert huge.status_code == 413
    assert post_review(client, "claim:demo-context/alpha/nope", SUPPORTED).status_code == 404
    assert post_review(client, "concept:demo-context/alpha", SUPPORTED).status_code == 422
    # nothing above was written
    assert len(client.get(f"/api/objects/{ALPHA}").json()["reviews"]) == 1


def test_renamed_claims_redirect_and_removed_claims_are_gone(
    client: TestClient, content_copy: Path
) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    rename_claim(engine, content_copy)
    new = NEW_CLAIM
    moved = post_review(client, ALPHA, SUPPORTED, follow_redirects=False)
    assert moved.status_code == 308
    assert moved.headers["location"] == f"/api/claims/{new}/reviews"
    assert post_review(client, new, SUPPORTED).status_code == 201
    remove_claim(engine, content_copy)
    gone = post_review(client, new, SUPPORTED)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "gone"


def test_the_queue_shrinks_after_a_substantive_review(client: TestClient) -> None:
    queue = client.get("/api/claims", params={"needs": "review"}).json()
    assert [c["key"] for c in queue["data"]] == [ALPHA, BETA] and queue["count"] == 2
    post_review(client, BETA, {**SUPPORTED, "verdict": "bounded"})
    assert client.get("/api/claims?needs=review").json()["count"] == 2  # bounded is not enough
    post_review(client, ALPHA, {**SUPPORTED, "verdict": "unsupported"})
    queue = client.get("/api/claims?needs=review").json()
    assert [c["key"] for c in queue["data"]] == [BETA]


def test_claim_lists_filter_and_paginate(client: TestClient) -> None:
    post_review(client, ALPHA, SUPPORTED)
    every = client.get("/api/claims").json()
    assert every["count"] == 2 and every["next"] is None
    answer = client.get("/api/claims", params={"limit": 1})
    first = answer.json()
    assert len(first["data"]) == 1 and first["count"] == 2
    assert first["next"].startswith("/api/claims?limit=1&cursor=")
    assert answer.headers["Link"] == f'<{first["next"]}>; rel="next"'
    second = client.get(first["next"]).json()
    assert second["next"] is None
    assert {first["data"][0]["key"], second["data"][0]["key"]} == {ALPHA, BETA}
    assert [c["key"] for c in client.get("/api/claims?verdict=supported").json()["data"]] == [ALPHA]
    assert [c["key"] for c in client.get("/api/claims?verdict=bounded").json()["data"]] == [BETA]
    assert client.get("/api/claims?verdict=unreviewed").json()["count"] == 0
    by_concept = client.get("/api/claims", params={"concept": "concept:demo-context/beta"}).json()
    assert [c["key"] for c in by_concept["data"]] == [BETA]
    assert client.get("/api/claims", params={"source": "smith-2020-example"}).json()["count"] == 2
    assert client.get("/api/claims", params={"source": "nobody-2000"}).json()["count"] == 0
    assert client.get("/api/claims?verdict=great").status_code == 422
    assert client.get("/api/claims?needs=everything").status_code == 422
    assert client.get("/api/claims?limit=0").status_code == 422
    assert client.get("/api/claims?limit=5000").status_code == 422
    for hostile in ({"source": "x\x00y"}, {"concept": "nope"}, {"source": "Bad Id"}):
        assert client.get("/api/claims", params=hostile).status_code == 422, hostile
    too_big = client.get(f"/api/claims/{ALPHA}/reviews/{2**63}")
    assert too_big.status_code == 422
    assert client.get(f"/api/claims/{ALPHA}/reviews/99999").status_code == 404
    assert post_review(client, ALPHA, {**SUPPORTED, "supersedes": 2**40}).status_code == 422


def test_a_source_lists_the_claims_citing_it_by_stance(client: TestClient) -> None:
    source = client.get("/api/sources/smith-2020-example").json()
    assert source["key"] == SOURCE and source["title"] == "An Example Source"
    assert set(source["claims"]) == {"supports", "contrasts", "mentions"}
    supports = source["claims"]["supports"]
    assert {c["key"] for c in supports} == {ALPHA, BETA}
    assert supports[0]["locator"] == {"section": "2 Scaling", "page": 3}
    assert source["grounds"][0]["concept"] == "concept:demo-context/alpha"
    assert client.get(f"/api/sources/{SOURCE}").json()["key"] == SOURCE
    assert client.get("/api/sources/nobody-2000").status_code == 404


def test_a_review_shows_on_pages_and_moves_the_claim_to_verified_in_prompts(
    client: TestClient,
) -> None:
    page = client.get("/api/concepts/demo-context/beta").json()  # cached from here on
    assert page["claims"][0]["verdict"] == "bounded"
    prompt = client.get(f"/api/objects/{BETA}/prompt", params={"format": "json"}).json()
    assert verified_part(prompt) == []
    revision = client.get("/api/health").json()["revision"]
    post_review(client, BETA, {**SUPPORTED, "verdict": "contested"})
    assert client.get("/api/health").json()["revision"] == revision + 1
    page = client.get("/api/concepts/demo-context/beta").json()
    assert page["claims"][0]["verdict"] == "contested"
    html = client.get("/concepts/demo-context/beta").text
    assert "contested" in html and "Review history (2)" in html
    prompt = client.get(f"/api/objects/{BETA}/prompt", params={"format": "json"}).json()
    whys = verified_part(prompt)
    assert any(w.startswith("substantive review, verdict contested") for w in whys), whys
    text = client.get(f"/api/objects/{BETA}/prompt").text
    assert "substantive review, verdict contested" in text
    assert "(locator checked)" in text  # the review read the locator at that place
    # a correction back to bounded takes it out of the verified evidence again
    latest = page["claims"][0]["latest_review"]["id"]
    post_review(client, BETA, {**SUPPORTED, "verdict": "bounded", "supersedes": latest})
    prompt = client.get(f"/api/objects/{BETA}/prompt", params={"format": "json"}).json()
    assert not any("substantive" in w for w in verified_part(prompt))


def verified_part(prompt: dict[str, object]) -> list[str]:
    """The ``why`` of each verified entry about the claim itself."""
    verified = prompt["verified"]
    assert isinstance(verified, list)
    return [e["why"] for e in verified if e["key"] == BETA]


def test_a_source_cited_twice_is_checked_per_link(bundled_client: TestClient) -> None:
    client = bundled_client
    key = "claim:generative-models/normalizing-flows/rezende-definition"
    source = "rezende-2015-normalizing-flows"
    before = client.get(f"/api/objects/{key}").json()["support"]
    assert [s["checked"] for s in before] == [False, True]  # section 3 not yet read, abstract read
    body = {"verdict": "supported", "summary": "Eq. (5)-(7) state it."}
    one = {**body, "support": [{"source": source, "link": 0, "checked": True}]}
    assert post_review(client, key, one).status_code == 201
    support = client.get(f"/api/objects/{key}").json()["support"]
    assert [s["checked"] for s in support] == [True, True]
    assert support[0]["latest_review_check"]["link"] == 0
    assert support[1]["latest_review_check"] is None
    wrong = post_review(client, key, {**body, "support": [{"source": source, "link": 7}]})
    assert wrong.status_code == 422
    twice = [{"source": source}, {"source": source, "link": 1}]
    assert post_review(client, key, {**body, "support": twice}).status_code == 422
    both = [{"source": source, "link": 0, "checked": False}, {"source": source, "link": 1}]
    assert (
        post_review(client, key, {**body, "verdict": "bounded", "support": both}).status_code == 201
    )
    support = client.get(f"/api/objects/{key}").json()["support"]
    assert [s["checked"] for s in support] == [False, True]  # as authored again


def test_the_queue_puts_the_claim_waiting_longest_first(client: TestClient) -> None:
    from datetime import UTC, datetime

    from server.models import ObjectKey

    engine = client.app.state.engine  # type: ignore[attr-defined]
    with unit_of_work(engine) as session:
        row = session.get(ObjectKey, BETA)
        assert row is not None
        row.updated_at = datetime(2025, 1, 1, tzinfo=UTC)
        session.add(row)
    queue = client.get("/api/claims", params={"needs": "review"}).json()
    assert [c["key"] for c in queue["data"]] == [BETA, ALPHA]
    page = client.get("/api/claims", params={"needs": "review", "limit": 1, "offset": 1}).json()
    assert [c["key"] for c in page["data"]] == [ALPHA] and page["next"] is None
