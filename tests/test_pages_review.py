"""The review form, the review queue, search, source and notes pages as served HTML."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from tests.conftest import LOOPBACK
from tests.people.helpers import add_people, team_app
from tests.test_pages import Collect

CONCEPT = "/concepts/demo-context/alpha"
CLAIM = "claim:demo-context/alpha/scaling-claim"
ANCHOR = "claim/concept-notebook/demo-context/alpha/scaling-claim"
SAME_SITE = {"Origin": "http://testserver"}


def review(client: TestClient, **fields: object) -> object:
    data = {"claim": CLAIM, "verdict": "supported", "summary": "Read section 2.", **fields}
    return client.post(f"{CONCEPT}/reviews", data=data, headers=SAME_SITE, follow_redirects=False)


def queue_keys(client: TestClient) -> list[str]:
    page = client.get("/reviews")
    assert page.status_code == 200
    return re.findall(r'<code class="key">(claim:[^<]+)</code>', page.text)


def strict(html: str) -> None:
    collect = Collect()
    collect.feed(html)
    assert not collect.inline_script
    for tag, attrs in collect.tags:
        assert "style" not in attrs and not [a for a in attrs if a.startswith("on")], tag
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/")


@pytest.mark.parametrize(
    ("path", "twin"),
    [
        ("/", "/api/concepts"),
        ("/search?q=scaling", "/api/search?q=scaling"),
        ("/reviews", "/api/claims?needs=review&limit=200"),  # the page shows as many
        ("/sources/smith-2020-example", "/api/sources/smith-2020-example"),
        ("/notes", "/api/notes"),
        ("/login", "/api/me"),
        (CONCEPT, "/api/concepts/demo-context/alpha"),
    ],
)
def test_every_page_names_its_json_twin(client: TestClient, path: str, twin: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["link"] == f'<{twin}>; rel="alternate"; type="application/json"'
    assert client.get(twin).status_code == 200
    # no-referrer would make a browser's form POST say "Origin: null", refused as cross-site
    assert page.headers["referrer-policy"] == "same-origin"
    strict(page.text)


def test_the_index_groups_concepts_by_context_and_has_a_search_box(client: TestClient) -> None:
    page = client.get("/").text
    assert '<section class="context-group" id="context-demo-context">' in page
    assert '<form class="search-box" method="get" action="/search"' in page
    assert page.index("/concepts/demo-context/alpha") < page.index("/concepts/demo-context/beta")


def test_a_review_from_the_page_form_leaves_the_queue(client: TestClient) -> None:
    assert CLAIM in queue_keys(client)
    page = client.get(CONCEPT).text
    assert f'<form class="review-form" id="review-{ANCHOR}"' in page
    assert '<a href="/sources/smith-2020-example">An Example Source</a>' in page
    assert f'href="{CONCEPT}#review-{ANCHOR}"' in client.get("/reviews").text
    response = review(client, checked="0", caveats="One dimension only.")
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{CONCEPT}?reviewed=")
    assert response.headers["location"].endswith(f"#{ANCHOR}")
    assert CLAIM not in queue_keys(client)
    latest = client.get(f"/api/claims/{CLAIM}/reviews").json()["data"][-1]
    assert (latest["verdict"], latest["reviewer"], latest["caveats"]) == (
        "supported", "local", "One dimension only.",
    )  # fmt: skip
    assert latest["support"] == [
        {"source": "source:smith-2020-example", "link": 0, "checked": True, "stance": "supports"}
    ]
    shown = client.get(CONCEPT).text
    assert "supported: substantive review by local" in shown
    assert "One dimension only." in shown


def test_a_bounded_review_keeps_the_claim_queued_and_shows_the_seed_wording(
    client: TestClient,
) -> None:
    assert review(client, verdict="bounded").status_code == 303
    assert CLAIM in queue_keys(client)
    page = client.get(CONCEPT).text
    assert (
        "A bounded review summary is present; still check caveats and exact source scope." in page
    )
    assert "locator not checked" in page


def test_a_correction_names_the_review_it_supersedes(client: TestClient) -> None:
    first = client.get(f"/api/claims/{CLAIM}/reviews").json()["data"][-1]["id"]
    assert review(client, supersedes=str(first), summary="Corrected.").status_code == 303
    assert f"(corrects review {first})" in client.get(CONCEPT).text
    again = review(client, supersedes=str(first), summary="Twice.")
    assert again.status_code == 409 and "already superseded" in again.text


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"verdict": "great"}, 422),
        ({"summary": "   "}, 422),
        ({"summary": "x" * 1201}, 422),
        ({"stance-0": "endorses"}, 422),
        ({"claim": "claim:demo-context/beta/scaling-claim"}, 422),  # not this page's claim
        ({"claim": "claim:demo-context/alpha/nothing"}, 404),
        ({"claim": "concept:demo-context/alpha"}, 422),
    ],
)
def test_a_bad_review_form_answers_an_error_page_and_writes_nothing(
    client: TestClient, fields: dict[str, str], status: int
) -> None:
    before = client.get(f"/api/claims/{CLAIM}/reviews").json()["count"]
    response = review(client, **fields)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert client.get(f"/api/claims/{CLAIM}/reviews").json()["count"] == before


def test_a_cross_site_review_form_is_refused(client: TestClient) -> None:
    data = {"claim": CLAIM, "verdict": "supported", "summary": "Forged."}
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.post(f"{CONCEPT}/reviews", data=data, headers=headers)
        assert response.status_code == 403
    assert CLAIM in queue_keys(client)


def test_in_team_mode_only_reviewers_see_and_use_the_form(database_url: str) -> None:
    app = team_app(database_url)
    with TestClient(app, client=LOOPBACK) as client:
        tokens = add_people(app, ("lena", "learner"), ("rita", "reviewer"))
        anonymous = client.get(CONCEPT).text
        assert 'class="review-form"' not in anonymous and "as a reviewer" in anonymous
        assert review(client).status_code == 401
        for name in ("lena", "rita"):
            login = {"name": name, "token": tokens[name], "next": CONCEPT}
            assert client.post("/login", data=login, headers=SAME_SITE).status_code == 200
            page = client.get(CONCEPT).text
            if name == "lena":
                assert 'class="review-form"' not in page
                assert review(client).status_code == 403
        assert "Add a review as rita" in page
        assert review(client).status_code == 303
        assert client.get(f"/api/claims/{CLAIM}/reviews").json()["data"][-1]["reviewer"] == "rita"
        # each reader's page is cached as their own: a signed-out reader never gets rita's form
        rita = client.get(CONCEPT).text
        client.cookies.clear()
        again = client.get(CONCEPT).text
        assert "Add a review as rita" in rita and "Add a review as rita" not in again
        assert 'class="review-form"' not in again


def test_search_page_finds_a_claim_and_escapes_what_it_shows(client: TestClient) -> None:
    page = client.get("/search", params={"q": "scaling changes"}).text
    assert f'href="{CONCEPT}#{ANCHOR}"' in page
    assert "<mark>Scaling</mark>" in page
    hostile = client.get("/search", params={"q": '"><script>alert(1)</script> NEAR( *'})
    assert hostile.status_code == 200
    assert "<script>alert" not in hostile.text
    assert "&#34;&gt;&lt;script&gt;" in hostile.text or "&quot;&gt;&lt;script&gt;" in hostile.text
    strict(hostile.text)
    assert client.get("/search", params={"q": "x" * 3000}).status_code == 200
    assert "no words to search for" in client.get("/search", params={"q": "*** ()"}).text


def test_the_source_page_shows_citation_bibtex_grounds_and_claims(client: TestClient) -> None:
    page = client.get("/sources/smith-2020-example")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Ada Smith (2020). " in text
    assert "@article{smith-2020-example," in text
    assert "journal = {Journal of Examples}" in text
    assert "<h3>Supports (2)</h3>" in page.text
    assert f'href="{CONCEPT}#{ANCHOR}"' in page.text
    assert 'href="/concepts/demo-context/alpha"' in page.text  # what it grounds there
    assert 'href="/api/sources/smith-2020-example.bib"' in page.text


def test_the_source_page_reads_only_the_titles_it_links(client: TestClient) -> None:
    """A source page costs the same in a store of 10,000 concepts as in one of 10."""
    from sqlalchemy import event

    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = client.app.state.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/sources/smith-2020-example").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    titles = [s for s in statements if "concept.title" in s and "FROM concept" in s]
    assert titles and all(" IN " in s for s in titles), titles


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/sources/nobody-1999", 404),
        ("/sources/smith-2020-example.bib", 422),  # not a source id: the .bib is the API's
        ("/sources/%3Cscript%3E", 422),
    ],
)
def test_an_unknown_source_is_a_friendly_error_page(
    client: TestClient, path: str, status: int
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<script>" not in response.text


def test_the_notes_page_lists_filters_and_exports(client: TestClient) -> None:
    notes = {
        CLAIM: "Check the **second** section",
        "concept:demo-context/beta": "Beta needs a 100% example",
        "equation:demo-context/alpha/scale": "<b>not bold</b>",
    }
    for key, text in notes.items():
        put = client.put(f"/api/notes/{key}", json={"text": text, "next_action": "Reread"})
        assert put.status_code == 200, put.text
    page = client.get("/notes").text
    assert "3 notes." in page and "<strong>second</strong>" in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page
    assert f'href="{CONCEPT}#{ANCHOR}"' in page
    assert "1 note matches." in client.get("/notes", params={"kind": "claim"}).text
    assert "1 note matches." in client.get("/notes", params={"q": "100%"}).text
    assert "0 notes match." in client.get("/notes", params={"q": "100_"}).text  # literal _
    by_context = client.get("/notes", params={"context": "demo-context"}).text
    assert "3 notes match." in by_context
    assert client.get("/notes", params={"context": "../x"}).status_code == 422
    assert client.get("/notes", params={"kind": "person"}).status_code == 422
    assert "3 notes." in client.get("/notes", params={"context": "", "kind": "", "q": ""}).text
    markdown = client.get("/notes/export", params={"format": "md"})
    assert markdown.headers["content-disposition"] == 'attachment; filename="notes.md"'
    assert f"## {CLAIM}" in markdown.text
    exported = client.get("/notes/export", params={"format": "json"}).json()
    assert sorted(n["key"] for n in exported["notes"]) == sorted(notes)


def test_the_notes_page_sends_a_team_visitor_to_log_in(database_url: str) -> None:
    with TestClient(team_app(database_url), client=LOOPBACK) as client:
        for path in ("/notes", "/notes/export"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"] == "/login?next=%2Fnotes"


def textarea(html: str, name: str) -> str:
    found = re.search(
        rf'<textarea id="rv-1-{name}" name="{name}"[^>]*>(.*?)</textarea>', html, re.S
    )
    assert found is not None, name
    return unescape(found.group(1))


def test_a_refused_review_form_keeps_what_was_typed_and_marks_the_field(
    client: TestClient,
) -> None:
    before = client.get(f"/api/claims/{CLAIM}/reviews").json()["count"]
    typed = "Section 2 holds only in 1-D <script>alert(1)</script> & no more."
    response = review(
        client,
        verdict="partial",
        summary="   ",
        caveats=typed,
        checked="0",
        **{"stance-0": "mentions"},
    )
    assert response.status_code == 422
    page = response.text
    strict(page)
    assert textarea(page, "caveats") == typed and "<script>alert" not in page
    assert '<option value="partial" selected>' in page
    assert 'name="checked" value="0" checked>' in page
    assert '<option value="mentions" selected>' in page
    assert 'aria-invalid="true" aria-describedby="rv-1-summary-error"' in page
    error = re.search(r'<span class="field-error" id="rv-1-summary-error">([^<]*)</span>', page)
    assert error is not None and error.group(1) == "the summary is blank"
    assert 'role="alert">The review was not added; see the problems marked below.' in page
    assert client.get(f"/api/claims/{CLAIM}/reviews").json()["count"] == before


def test_a_refused_correction_keeps_the_summary_and_says_why_by_the_choice(
    client: TestClient,
) -> None:
    first = client.get(f"/api/claims/{CLAIM}/reviews").json()["data"][-1]["id"]
    assert review(client, supersedes=str(first), summary="Corrected.").status_code == 303
    again = review(client, supersedes=str(first), summary="Read it twice, section 2.")
    assert again.status_code == 409
    assert textarea(again.text, "summary") == "Read it twice, section 2."
    error = re.search(
        r'<span class="field-error" id="rv-1-supersedes-error">([^<]*)</span>', again.text
    )
    assert error is not None and "already superseded by review" in error.group(1)


def test_an_unchanged_page_shows_an_empty_form(client: TestClient) -> None:
    page = client.get(CONCEPT).text
    assert (
        textarea(page, "summary") == "" and "field-error" not in page and "form-error" not in page
    )


def test_a_review_from_the_content_files_is_shown_as_bundled_not_as_a_reviewer(
    client: TestClient,
) -> None:
    page = unescape(client.get(CONCEPT).text)
    assert (
        "Bundled review: written into the content files and signed “fixture reviewer” there, "
        "not by a reviewer account of this reading room; dated 2026-01-02"
    ) in page
    assert "</span> · bundled with the content, signed fixture reviewer, 2026-01-02: " in page
    assert "Reviewer: fixture reviewer" not in page
    reviews = client.get(f"/api/claims/{CLAIM}/reviews").json()["data"]
    assert [(r["origin"], r["signed"]) for r in reviews] == [
        ("content", "bundled with the content, signed fixture reviewer")
    ]
    prompt = client.get(f"/api/objects/{CLAIM}/prompt").text
    assert "Review: bounded (bundled with the content, signed fixture reviewer, 2026-01-02)" in (
        prompt
    )
    assert review(client, checked="0").status_code == 303  # a reviewer's own review, by name
    page = unescape(client.get(CONCEPT).text)
    assert "Reviewer: local; reviewed " in page and "supported</span> · local, " in page
    prompt = client.get(f"/api/objects/{CLAIM}/prompt").text
    assert "Earlier reviews: bounded (bundled with the content, signed fixture reviewer, " in (
        prompt
    )


def test_no_bundled_page_passes_a_signature_off_as_a_reviewer(bundled_client: TestClient) -> None:
    for path in (
        "/concepts/generative-models/normalizing-flows",
        "/concepts/probability/maximum-likelihood",
    ):
        page = unescape(bundled_client.get(path).text)
        assert "reading-room review desk" in page, path
        for signature in ("reading-room review desk", "reading-room editors"):
            for at in [m.start() for m in re.finditer(re.escape(signature), page)]:
                before = page[max(0, at - 60) : at]
                assert "signed “" in before or "signed " in before, (path, before)
