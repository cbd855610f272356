"""Reviewing, searching, the notes page and a source page in a real browser (Playwright on
Debian's Chromium), on a served reading room of the pages fixture. Every page load fails on
a console error or a CSP violation (``Page.close``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.serving import serving
from tests.test_pages_browser import CONCEPT, CONTENT, PATH, Page, api, site

__all__ = ["site"]  # the fixture this module uses

pytestmark = pytest.mark.slow
pytest.importorskip("playwright.sync_api")

CLAIM = "claim:demo-context/alpha/scaling-claim"
ANCHOR = "claim/concept-notebook/demo-context/alpha/scaling-claim"


def visit(view: Page, path: str) -> Any:
    view.page.goto(view.base + path)
    return view.page


def test_a_review_added_on_the_page_leaves_the_queue(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = visit(view, "/reviews")
    assert page.locator(f'li[id="queue-{ANCHOR}"]').count() == 1
    page.click(f'li[id="queue-{ANCHOR}"] a.review-link')
    page.wait_for_url(re.compile(re.escape(f"{PATH}#review-{ANCHOR}") + "$"))
    form = page.locator(f'form[id="review-{ANCHOR}"]')
    form.locator("select[name=verdict]").select_option("supported")
    form.locator("input[name=checked]").check()
    form.locator("textarea[name=summary]").fill("Read section 2 at page 3: it says so.")
    form.locator("textarea[name=caveats]").fill("One dimension only.")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.url.endswith(f"#{ANCHOR}") and "?reviewed=" in page.url, page.content()[:3000]
    claim = page.locator(f'div.claim[id="{ANCHOR}"]')
    assert claim.locator(".verdict.substantive").inner_text().startswith("supported")
    assert "✓ checked" in claim.locator("ul.locators").inner_text()
    assert "One dimension only." in claim.inner_text()
    page = visit(view, "/reviews")
    assert page.locator(f'li[id="queue-{ANCHOR}"]').count() == 0
    assert page.locator("li.claim").count() == 1  # beta's claim still waits
    reviews = api(site, "GET", f"/api/claims/{CLAIM}/reviews")["data"]
    assert reviews[-1]["reviewer"] == "local" and reviews[-1]["support"][0]["checked"]
    view.close()


def test_a_refused_review_keeps_what_was_typed_and_can_be_sent_again(
    browser: Any, site: str
) -> None:
    view = Page(browser, site, allowed=("status of 422",))  # the refused POST's own answer
    page = visit(view, f"{PATH}#review-{ANCHOR}")
    form = page.locator(f'form[id="review-{ANCHOR}"]')
    form.locator("select[name=verdict]").select_option("partial")
    form.locator("input[name=checked]").check()
    form.locator("textarea[name=summary]").fill("   ")  # blank: the browser lets it through
    form.locator("textarea[name=caveats]").fill("Only the one-dimensional case was read.")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    form = page.locator(f'form[id="review-{ANCHOR}"]')
    assert form.locator("[role=alert]").inner_text().startswith("The review was not added")
    summary = form.locator("textarea[name=summary]")
    assert summary.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.name") == "summary"  # focus is on the problem
    assert form.locator(".field-error").inner_text() == "the summary is blank"
    caveats = form.locator("textarea[name=caveats]")
    assert caveats.input_value() == "Only the one-dimensional case was read."
    assert form.locator("select[name=verdict]").input_value() == "partial"
    assert form.locator("input[name=checked]").is_checked()
    assert api(site, "GET", f"/api/claims/{CLAIM}/reviews")["count"] == 1  # nothing written
    summary.fill("Section 2 states it for one dimension.")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "?reviewed=" in page.url
    latest = api(site, "GET", f"/api/claims/{CLAIM}/reviews")["data"][-1]
    assert (latest["verdict"], latest["caveats"]) == (
        "partial", "Only the one-dimensional case was read.",
    )  # fmt: skip
    view.close()


def test_search_finds_a_claim_by_a_word_of_its_text(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = visit(view, "/")
    page.fill("#search-q", "changes")
    with page.expect_navigation():
        page.press("#search-q", "Enter")
    result = page.locator(f'ol.search-results a[href="{PATH}#{ANCHOR}"]')
    assert result.count() == 1
    assert page.locator("ol.search-results mark").first.inner_text().lower() == "changes"
    with page.expect_navigation():
        result.click()
    assert page.url.endswith(f"{PATH}#{ANCHOR}")
    view.close()


def test_the_notes_page_lists_a_saved_note(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = view.page
    page.fill("#note-text", "Density falls where the map *stretches*.")
    page.fill("#note-next", "Try a = 3")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#note-status:text-is('saved')")
    page = visit(view, "/notes")
    note = page.locator(f'li.note[id="note-{CONCEPT}"]')
    assert "Density falls where the map stretches." in note.inner_text()
    assert note.locator("em").inner_text() == "stretches"
    assert "Try a = 3" in note.inner_text()
    page.fill("#filter-q", "nothing like it")
    with page.expect_navigation():
        page.click(".notes-filter button[type=submit]")
    assert page.locator("li.note").count() == 0
    view.close()


def test_a_source_page_shows_its_bibtex(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = visit(view, "/sources/smith-2020-example")
    bibtex = page.locator("pre.bibtex").inner_text()
    assert bibtex.startswith("@article{smith-2020-example,")
    assert "journal = {Journal of Examples}" in bibtex
    assert page.locator("#citing-claims li.claim").count() == 2
    view.close()


def test_team_mode_log_in_review_and_log_out(browser: Any, tmp_path: Path) -> None:
    settings = {"READINGROOM_MODE": "team", "READINGROOM_CHECK_WITNESSES_ON_START": "false"}
    with serving(tmp_path, "--content", str(CONTENT), settings=settings) as base:
        added = subprocess.run(
            [sys.executable, "-m", "server.cli", "users", "add", "rita", "--role", "reviewer"],
            cwd=tmp_path, capture_output=True, text=True, check=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("READINGROOM_")},
                 "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )  # fmt: skip
        token = added.stdout.strip().splitlines()[-1]
        view = Page(browser, base, allowed=("401",))
        page = view.page
        assert page.locator("form.review-form").count() == 0
        with page.expect_navigation():
            page.click("a:text('Log in')")
        page.fill("#login-name", "rita")
        page.fill("#login-token", token)
        with page.expect_navigation():
            page.click(".login button[type=submit]")
        assert page.url == base + PATH  # back where the login started
        form = page.locator(f'form[id="review-{ANCHOR}"]')
        assert "Add a review as rita" in form.inner_text()
        form.locator("textarea[name=summary]").fill("Abstract only.")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert "?reviewed=" in page.url
        visit(view, "/login")
        assert "signed in as rita" in page.inner_text("main").lower()
        with page.expect_navigation():
            page.click(".login button[type=submit]")  # log out
        assert page.url == base + "/login"
        assert page.locator("#login-token").count() == 1
        visit(view, PATH)
        assert page.locator("form.review-form").count() == 0
        view.close()
