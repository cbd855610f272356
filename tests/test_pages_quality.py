"""Every HTML page in a real browser (Playwright driving Debian's Chromium), at 1280 and 390 px.

One served reading room over the bundled content; for each page in ``PAGES``: the expected
status, no console error and no CSP violation, no serious or critical axe-core finding, no
sideways scrolling on a phone, MathML laid out (non-zero boxes, no TeX source in the text),
and a full-page screenshot at each width under ``$READINGROOM_SCREENSHOTS`` (default: a
temporary folder of the test run). A new page is one line in ``PAGES``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serving import serving

pytestmark = pytest.mark.slow
pytest.importorskip("playwright.sync_api")
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

WIDTHS = (1280, 390)
BLOCKING = {"serious", "critical"}
# TeX source in what a reader sees, including text the scripts write (the demo's readout).
RAW_TEX = re.compile(
    r"\^\{|_\{|\\frac|\\[A-Za-z]{2,}\{|(?<![A-Za-z0-9_])[A-Za-z]_[A-Za-z0-9](?![A-Za-z0-9_])"
)


@dataclass(frozen=True)
class SitePage:
    name: str
    path: str
    status: int = 200
    # Third-party bundles (Swagger UI, ReDoc) are checked for errors and overflow only.
    ours: bool = True
    # Served by a second reading room in team mode (the login form, for instance).
    team: bool = False


PAGES: list[Any] = [
    SitePage("index", "/"),
    SitePage("concept-normalizing-flows", "/concepts/generative-models/normalizing-flows"),
    SitePage("concept-coupling-flows", "/concepts/generative-models/coupling-flows"),
    SitePage("concept-change-of-variables", "/concepts/probability/change-of-variables"),
    SitePage("login-local", "/login"),
    SitePage("login-team", "/login", team=True),
    SitePage("concept-team-mode", "/concepts/demo-context/alpha", team=True),
    SitePage("reviews", "/reviews"),
    SitePage("search", "/search?q=density"),
    SitePage("source", "/sources/rezende-2015-normalizing-flows"),
    SitePage("notes", "/notes"),
    SitePage("graph", "/graph"),
    SitePage("graph-focus", "/graph?focus=concept:generative-models/normalizing-flows"),
    SitePage("plan", "/plan/generative-models/flow-matching-rectified-flow"),
    SitePage("not-found", "/concepts/probability/no-such-page", status=404),
    SitePage("docs", "/docs", ours=False),
    SitePage("redoc", "/redoc", ours=False),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = {"READINGROOM_CHECK_WITNESSES_ON_START": "false"}
    with serving(tmp_path_factory.mktemp("site"), settings=settings) as base:
        yield base


@pytest.fixture(scope="module")
def team_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = {"READINGROOM_CHECK_WITNESSES_ON_START": "false", "READINGROOM_MODE": "team"}
    content = Path(__file__).parent / "fixtures/content/pages"
    folder = tmp_path_factory.mktemp("team")
    with serving(folder, "--content", str(content), settings=settings) as base:
        yield base


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("READINGROOM_SCREENSHOTS")
    target = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def open_page(
    browser: Any, url: str, width: int, status: int = 200
) -> tuple[Any, Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []

    def on_console(message: Any) -> None:
        text = message.text
        if status != 200 and message.location.get("url") == url and "status of" in text:
            return  # the browser reports the page's own (expected) error status
        if message.type == "error" or "Content Security Policy" in text or "Refused to" in text:
            problems.append(f"console {message.type}: {text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    response = page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page, response, problems


def math_layout(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const maths = [...document.querySelectorAll('math')];
              // Math inside a closed <details> or a hidden caption has no boxes at all.
              const shown = maths.filter((m) => m.getClientRects().length > 0);
              const empty = shown.filter((m) => {
                const box = m.getBoundingClientRect();
                return box.width <= 0 || box.height <= 0;
              }).map((m) => m.outerHTML.slice(0, 120));
              const font = maths.length ? getComputedStyle(maths[0]).fontFamily : '';
              // The prose a reader sees: not math, code, or form values.
              const skip = 'math, code, pre, textarea, script, style';
              const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
              const parts = [];
              while (walker.nextNode()) {
                if (!walker.currentNode.parentElement.closest(skip)) {
                  parts.push(walker.currentNode.textContent);
                }
              }
              return {count: maths.length, shown: shown.length, empty, font,
                      text: parts.join(' ')};
            }"""
        )
    )


def overflow(page: Any) -> list[str]:
    """The page's sideways overflow and the widest elements that cause it."""
    return list(
        page.evaluate(
            """() => {
              const limit = document.documentElement.clientWidth;
              if (document.documentElement.scrollWidth <= limit) return [];
              return [...document.querySelectorAll('body *')]
                .filter((e) => e.getBoundingClientRect().right > limit + 1
                  && !e.closest('.math-display, .highlight, table, pre'))
                .slice(0, 8)
                .map((e) => `${e.tagName.toLowerCase()}.${e.className}: ${
                  Math.round(e.getBoundingClientRect().right)}px`);
            }"""
        )
    ) or []


def keyboard_focus(page: Any, stops: int = 6) -> list[str]:
    """Tab through the first few stops: each lands on an element that shows an outline."""
    page.evaluate("() => window.scrollTo(0, 0)")
    unseen = []
    for _ in range(stops):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
              const e = document.activeElement;
              if (!e || e === document.body) return null;
              const style = getComputedStyle(e);
              return {tag: e.tagName.toLowerCase(), text: (e.textContent || '').slice(0, 30),
                      outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0};
            }"""
        )
        if focused is None:
            break
        if not focused["outline"]:
            unseen.append(f"{focused['tag']} {focused['text']!r}")
    return unseen


@pytest.mark.parametrize("target", PAGES, ids=lambda p: getattr(p, "name", None))
def test_page_in_the_browser(
    browser: Any, request: pytest.FixtureRequest, screenshots: Path, target: SitePage
) -> None:
    base = request.getfixturevalue("team_site" if target.team else "site")
    for width in WIDTHS:
        context, page, response, problems = open_page(
            browser, base + target.path, width, target.status
        )
        try:
            assert response is not None and response.status == target.status
            if target.ours:
                page.wait_for_function("() => document.fonts.ready.then(() => true)")
            height = page.evaluate("() => document.documentElement.scrollHeight")
            print(f"{target.path} at {width} px: {height} px tall")
            page.screenshot(
                path=str(screenshots / f"{target.name}-{width}.png"), full_page=True,
                timeout=120_000,
            )  # fmt: skip
            assert problems == [], problems
            wide = overflow(page)
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, (target.path, width, scroll, wide)
            if not target.ours:
                continue
            layout = math_layout(page)
            assert layout["empty"] == [], layout["empty"]
            assert not RAW_TEX.search(layout["text"]), RAW_TEX.findall(layout["text"])[:5]
            if layout["count"]:
                assert layout["shown"] > 0, "no math is laid out"
                assert "Latin Modern Math" in layout["font"]
                loaded = page.evaluate(
                    "() => document.fonts.check('16px \"Latin Modern Math\"', '∑')"
                )
                assert loaded, "the math font did not load"
            if width == WIDTHS[0]:
                assert keyboard_focus(page) == [], "focus not visible"
                results = axe_playwright.Axe().run(page)
                blocking = [
                    f"{v['id']} ({v['impact']}): {v['help']} — "
                    + "; ".join(n["target"][0] for n in v["nodes"][:3])
                    for v in results.response["violations"]
                    if v.get("impact") in BLOCKING
                ]
                assert blocking == [], blocking
        finally:
            context.close()


def test_display_math_is_set_like_a_book(browser: Any, site: str) -> None:
    """Limits sit above and below a display sum; a \\left|...\\right| bar outgrows the text."""
    context, page, _response, problems = open_page(
        browser, site + "/concepts/generative-models/normalizing-flows", 1280
    )
    try:
        page.wait_for_function("() => document.fonts.ready.then(() => true)")
        found = page.evaluate(
            """() => {
              const scripts = '.math-display munderover, .math-display munder';
              const sums = [...document.querySelectorAll(scripts)]
                .filter((u) => u.firstElementChild && /[∑∏]/.test(u.firstElementChild.textContent));
              const limits = sums.map((u) => {
                const op = u.children[0].getBoundingClientRect();
                const under = u.children[1].getBoundingClientRect();
                return {below: under.top >= op.bottom - 2, centred: Math.abs(
                  (under.left + under.right) / 2 - (op.left + op.right) / 2) < op.width};
              });
              const bars = [...document.querySelectorAll('.math-display mo[stretchy="true"]')]
                .map((mo) => mo.getBoundingClientRect().height);
              const text = parseFloat(getComputedStyle(document.body).fontSize);
              return {limits, tallest: Math.max(0, ...bars), text};
            }"""
        )
        assert found["limits"], "no display sum or product with limits on the page"
        assert all(item["below"] and item["centred"] for item in found["limits"]), found
        assert found["tallest"] > 1.5 * found["text"], found
        assert problems == []
    finally:
        context.close()
