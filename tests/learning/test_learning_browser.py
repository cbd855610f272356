"""The learning pages in a real browser (Playwright driving Debian's Chromium): the concept
page's learned button saves through the API, and the graph pans inside its box at 390 px."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving import serving

pytestmark = pytest.mark.slow
pytest.importorskip("playwright.sync_api")

KEY = "concept:generative-models/normalizing-flows"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    settings = {"READINGROOM_CHECK_WITNESSES_ON_START": "false"}
    with serving(tmp_path, settings=settings) as base:
        yield base


def page_of(browser: Any, base: str, path: str, errors: list[str], width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            or "Content Security Policy" in m.text else None)  # fmt: skip
    page.goto(base + path)
    return page


def progress(base: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(base + "/api/progress", timeout=10) as response:
        return json.loads(response.read())["data"]  # type: ignore[no-any-return]


def test_the_learned_button_saves_and_turns(browser: Any, site: str) -> None:
    errors: list[str] = []
    page = page_of(browser, site, "/concepts/generative-models/normalizing-flows", errors)
    button = page.locator('form.mark[data-field="learned"] button')
    assert button.inner_text() == "mark learned"
    button.click()
    page.wait_for_selector("#learning .mark-status:text('saved')")
    assert button.inner_text() == "✓ learned" and page.url.endswith("/normalizing-flows")
    assert [(p["key"], p["learned"]) for p in progress(site)] == [(KEY, True)]
    button.click()  # and back
    page.wait_for_function(
        "() => document.querySelector('form.mark[data-field=learned] button').textContent"
        " === 'mark learned'"
    )
    assert [(p["key"], p["learned"]) for p in progress(site)] == [(KEY, False)]
    assert errors == []


def test_the_graph_pans_inside_its_box_at_390px(browser: Any, site: str, tmp_path: Path) -> None:
    errors: list[str] = []
    page = page_of(browser, site, "/graph", errors, width=390)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow} px of horizontal overflow at 390 px"
    box = page.eval_on_selector(".graph-box", "b => [b.scrollWidth, b.clientWidth]")
    assert box[0] > box[1]  # the drawing is wider than the phone: it scrolls in its box
    page.eval_on_selector(".graph-box", "b => { b.scrollLeft = 200; }")
    assert page.eval_on_selector(".graph-box", "b => b.scrollLeft") > 0
    page.screenshot(path=str(tmp_path / "graph-390.png"))
    assert errors == []
