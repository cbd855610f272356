"""The interactive concept page in a real browser (Playwright driving Debian's Chromium).

Each test runs its own ``readingroom serve`` on the pages fixture (whose demo state's controls
name parameters of its flow) and checks one job end to end: the research room builds and copies
a prompt, the demo answers only after a prediction and follows its controls, hints open in
order, a note survives a reload and a 409 shows both versions. Every page load also fails on a
console error or a CSP violation.
"""

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

CONTENT = Path(__file__).parent / "fixtures/content/pages"
CONCEPT = "concept:demo-context/alpha"
EQUATION = "equation:demo-context/alpha/scale"
PATH = "/concepts/demo-context/alpha"


class Page:
    """A browser page on a served reading room that records console errors and CSP reports."""

    def __init__(self, browser: Any, base: str, allowed: tuple[str, ...] = ()) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        self.errors: list[str] = []
        self.allowed = allowed
        self.page = self.open()

    def open(self) -> Any:
        page = self.context.new_page()
        page.set_default_timeout(30_000)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.goto(self.base + PATH)
        page.wait_for_function("() => document.documentElement.classList.contains('js')")
        return page

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and not any(a in text for a in self.allowed):
            self.errors.append(f"{text} ({message.location.get('url')})")
        elif "Content Security Policy" in text or "Refused to" in text:
            self.errors.append(text)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path, "--content", str(CONTENT)) as base:
        yield base


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        base + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Content-Type": "application/json", "Origin": base},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def canvas_pixels(page: Any) -> str:
    return str(page.eval_on_selector("figure.demo canvas", "c => c.toDataURL()"))


def test_equation_prompt_is_built_and_copied(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = view.page
    # The equation's own "prompt" action opens the research room on it.
    page.click(f'figure.equation a.prompt-action[data-key="{EQUATION}"]')
    assert page.input_value("#prompt-object") == EQUATION
    page.wait_for_function("() => document.getElementById('prompt-output').value.length > 0")
    grounded = page.input_value("#prompt-output")
    assert "x = a z" in grounded
    page.select_option("#prompt-mode", "compact")
    page.select_option("#prompt-format", "json")
    page.fill("#prompt-question", "Why does the density halve?")
    page.click("#prompt-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('prompt-output').value.startsWith('{')")
    built = json.loads(page.input_value("#prompt-output"))
    assert "Why does the density halve?" in json.dumps(built)
    page.click("#prompt-copy")
    page.wait_for_selector("#copy-status:text('copied')")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.input_value("#prompt-output")
    view.close()


def test_demo_answers_after_a_prediction_and_follows_its_controls(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = view.page
    figure = page.locator("figure.demo")
    page.wait_for_selector("figure.demo .demo-status:text('base density')")
    # Before a prediction: no answer, no caption, no controls, and nothing to commit.
    assert not figure.locator(".demo-caption").is_visible()
    assert figure.locator(".demo-result").inner_text() == ""
    assert figure.locator("button:text('Commit prediction')").is_disabled()
    assert page.locator("#demo-0-stretch").is_disabled()  # inside the disabled fieldset
    figure.locator("input[value=down]").check()
    figure.locator("button:text('Commit prediction')").click()
    page.wait_for_selector("figure.demo .demo-result.right")
    assert "goes down" in figure.locator(".demo-result").inner_text()
    assert figure.locator(".demo-caption").is_visible()
    assert "Density halves" in figure.locator(".demo-caption").inner_text()
    page.wait_for_selector("figure.demo .demo-status:text('1 of 1 layers')")

    terms = figure.locator(".demo-terms").inner_text()
    assert "base log-density" in terms and "log-volume correction" in terms
    # The probe starts on the marked point (1, 1), a grid point; A = diag(2, 1) maps it back
    # to z = (0.5, 1): base -1.838 - 0.625 = -2.463, volume -log 2 = -0.693, sum -3.156.
    assert "= -2.463" in terms and "= -0.693" in terms and "log p(x) = -3.156" in terms
    # The controls are named for what they do ("stretch", "shift_x"), not for a key of the
    # spec: each moves the spec numbers its binding names (A[0][0], b[0]).
    assert page.locator("label[for=demo-0-stretch]").inner_text() == "Stretch along x"
    assert "layers[0].A[0][0]" in page.locator("#demo-0-stretch-meaning").inner_text()
    before = canvas_pixels(page)
    slider = page.locator("#demo-0-stretch")  # A[0][0], by the keyboard
    slider.focus()
    page.keyboard.press("End")
    page.wait_for_function(
        "t => document.querySelector('figure.demo .demo-terms').textContent !== t", arg=terms
    )
    assert canvas_pixels(page) != before
    moved = figure.locator(".demo-terms").inner_text()
    assert "log p(x) = -3.156" not in moved and "= -1.792" in moved  # -log 6 at A[0][0] = 6
    assert page.input_value("#demo-0-stretch-value") == "6"
    # The number input moves the control too: b[0] = 1 puts (1, 1) back onto z = (0, 1).
    before = canvas_pixels(page)
    page.fill("#demo-0-shift_x-value", "1")
    page.wait_for_function(
        "t => document.querySelector('figure.demo .demo-terms').textContent !== t", arg=moved
    )
    assert canvas_pixels(page) != before
    assert page.input_value("#demo-0-shift_x") == "1"
    shifted = figure.locator(".demo-terms").inner_text()
    assert "= -2.338" in shifted and "= -1.792" in shifted  # base at z = (0, 1), -log 6
    # The pointer probe shows the terms where it is.
    figure.locator("canvas").hover(position={"x": 3, "y": 3})
    assert "At x = (-3." in figure.locator(".demo-terms").inner_text()
    view.close()


def test_hints_open_only_in_order(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = view.page
    hints = page.locator("#practice-hints > li")
    button = page.locator("#next-hint")
    assert [hints.nth(i).is_visible() for i in range(3)] == [False, False, False]
    for shown in (1, 2, 3):
        button.click()
        visible = [hints.nth(i).is_visible() for i in range(3)]
        assert visible == [i < shown for i in range(3)], (shown, visible)
    assert hints.nth(2).inner_text().endswith("Three")
    assert button.is_disabled()
    view.close()


def test_note_and_practice_are_saved_and_survive_a_reload(browser: Any, site: str) -> None:
    view = Page(browser, site)
    page = view.page
    assert page.input_value("#note-object") == CONCEPT
    page.fill("#note-text", "Volume change is the whole story.")
    page.fill("#note-next", "Redo the 1-D case by hand")
    page.fill("#practice-prediction", "Density at (1, 1) falls.")
    page.check(".rubric-item")
    page.wait_for_selector("#note-status:text-is('saved')")
    note = api(site, "GET", f"/api/notes/{CONCEPT}")
    assert note["text"].startswith("Volume change is the whole story.")
    assert "Density at (1, 1) falls." in note["text"]
    assert note["next_action"] == "Redo the 1-D case by hand"
    assert note["checklist"] == {"Concrete.": True}

    page.reload()
    page.wait_for_selector("#note-status:text-is('saved')")
    assert page.input_value("#note-text") == "Volume change is the whole story."
    # A browser with nothing stored locally gets the note from the server.
    fresh = Page(browser, site)
    fresh.page.wait_for_selector("#note-status:text-is('saved')")
    assert fresh.page.input_value("#note-next") == "Redo the 1-D case by hand"
    assert fresh.page.input_value("#practice-prediction") == "Density at (1, 1) falls."
    assert fresh.page.is_checked(".rubric-item")
    fresh.close()
    view.close()


def test_a_conflicting_save_shows_both_versions(browser: Any, site: str) -> None:
    view = Page(browser, site, allowed=("status of 409",))
    page = view.page
    page.click(f'figure.equation a.note-action[data-key="{EQUATION}"]')
    assert page.input_value("#note-object") == EQUATION
    page.fill("#note-text", "mine, first")
    page.wait_for_selector("#note-status:text-is('saved')")
    # Another tab or device saves over version 1.
    theirs = api(site, "PUT", f"/api/notes/{EQUATION}", {"text": "theirs", "version": 1})
    assert theirs["version"] == 2
    page.fill("#note-text", "mine, second")
    page.wait_for_selector("#note-conflict:not([hidden])")
    assert "mine, second" in page.inner_text("#conflict-mine")
    assert "theirs" in page.inner_text("#conflict-theirs")
    assert page.inner_text("#conflict-version") == "2"
    page.click("#keep-mine")
    page.wait_for_selector("#note-status:text-is('saved')")
    note = api(site, "GET", f"/api/notes/{EQUATION}")
    assert (note["text"], note["version"]) == ("mine, second", 3)
    view.close()


def test_page_fits_390px_and_screenshots(browser: Any, site: str, tmp_path: Path) -> None:
    view = Page(browser, site)
    page = view.page
    page.wait_for_selector("figure.demo .demo-status:text('base density')")
    shots = tmp_path / "screenshots"
    demo = page.locator("figure.demo")
    demo.screenshot(path=str(shots / "demo-before-1280.png"))
    demo.locator("input[value=up]").check()
    demo.locator("button:text('Commit prediction')").click()
    page.wait_for_selector("figure.demo .demo-status:text('1 of 1 layers')")
    demo.screenshot(path=str(shots / "demo-answered-1280.png"))
    page.click(f'figure.equation a.prompt-action[data-key="{EQUATION}"]')
    page.wait_for_function("() => document.getElementById('prompt-output').value.length > 0")
    page.locator("section.research").screenshot(path=str(shots / "research-1280.png"))
    page.screenshot(path=str(shots / "concept-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow} px of horizontal overflow at 390 px"
    page.screenshot(path=str(shots / "concept-390.png"), full_page=True)
    demo.screenshot(path=str(shots / "demo-answered-390.png"))
    # A focused control shows a visible focus ring.
    page.focus("#prompt-object")
    outline = page.eval_on_selector("#prompt-object", "e => getComputedStyle(e).outlineStyle")
    assert outline != "none"
    weight = 0
    for asset in (PATH, "/static/site.css", "/static/pygments.css", "/static/demo.js",
                  "/static/room.js"):  # fmt: skip
        with urllib.request.urlopen(site + asset, timeout=10) as response:
            weight += len(response.read())
    assert weight < 300_000, weight
    print(f"screenshots in {shots}; page weight {weight} bytes")
    view.close()


def test_without_javascript_the_static_page_and_prompt_links_remain(
    browser: Any, site: str
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site + PATH)
    assert page.locator("figure.demo .demo-caption").is_visible()
    assert not page.locator("#prompt-form").is_visible()
    link = page.locator(f'figure.equation a.prompt-action[data-key="{EQUATION}"]')
    assert link.get_attribute("href") == f"/api/objects/{EQUATION}/prompt"
    page.locator("#practice-hints details").first.click()
    assert page.locator("#practice-hints details").first.get_attribute("open") is not None
    context.close()
