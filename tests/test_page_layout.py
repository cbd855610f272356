"""Every page of the bundled content as served HTML: no raw TeX left in what a reader sees,
every object key a permalink to its anchor, a contents list whose links land, the learning map
grouped with each concept once per group, a strict CSP, and no page over 300 KB before images."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.pages.learning_map import learning_map

# TeX a reader must never see as source: scripts with braces, commands, $-delimited math,
# and bare scripts such as R^D, f^-1 or x_1 outside math and code.
RAW_TEX = re.compile(
    r"\^\{|_\{|\\frac|\\[A-Za-z]{2,}|\$[^$\s][^$]*\$|[A-Za-z0-9)\]|]\^[-A-Za-z0-9(]"
    r"|(?<![A-Za-z0-9_])[A-Za-z]_[A-Za-z0-9](?![A-Za-z0-9_])"
)
# Text inside these is not prose: math is MathML, code and form values are quoted source.
NOT_PROSE = {"math", "code", "pre", "script", "style", "textarea"}
PAGE_BUDGET = 300 * 1024
CSP_FORBIDDEN = ("'unsafe-inline'", "'unsafe-eval'", "http:", "https:", "*")


class Page(HTMLParser):
    """Prose text, ids, links, tags with their attributes, and the stylesheets and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.prose: list[str] = []
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.assets: list[str] = []
        self.inline_code = 0
        self.skipping = 0
        self.permalink_keys: list[tuple[str, str]] = []
        self._in_permalink: str | None = None
        self._in_script = False
        self.inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag in NOT_PROSE:
            self.skipping += 1
        if tag == "link" and found.get("rel") == "stylesheet":
            self.assets.append(str(found["href"]))
        if tag == "script":
            self._in_script = True
            if found.get("src"):
                self.assets.append(str(found["src"]))
        if tag == "a" and "permalink" in str(found.get("class") or ""):
            self._in_permalink = str(found.get("href"))
        if tag == "code" and "key" in str(found.get("class") or ""):
            self.inline_code += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in NOT_PROSE:
            self.skipping -= 1
        if tag == "a":
            self._in_permalink = None
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True
        if self._in_permalink is not None and data.strip():
            self.permalink_keys.append((self._in_permalink, data.strip()))
        if self.skipping <= 0:
            self.prose.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def site_pages(client: TestClient) -> list[str]:
    concepts = client.get("/api/concepts").json()["data"]
    assert len(concepts) >= 10
    return ["/", "/login", *[c["url"] for c in concepts]]


@pytest.fixture
def served(bundled_client: TestClient) -> dict[str, Any]:
    """Each HTML page of the bundled content: path -> (response, parsed page)."""
    return {
        path: (response, parse(response.text))
        for path in site_pages(bundled_client)
        for response in [bundled_client.get(path)]
    }


def test_the_raw_tex_scan_finds_tex_where_it_was_left() -> None:
    leaked = parse(
        "<p>a vector in R^D, z = f^{-1}(x), x_1 and $a$ and \\frac12</p><math>x^{2}</math>"
    )
    found = RAW_TEX.findall(" ".join(leaked.prose))
    assert len(found) == 5, found
    clean = parse("<p>a log-density, x = f(z), it's 2-D, a_b_c_name</p><code>x_{i}^2</code>")
    assert RAW_TEX.findall(" ".join(clean.prose)) == []


def test_no_page_shows_raw_tex(served: dict[str, Any], bundled_client: TestClient) -> None:
    problems = []
    for path, (response, page) in served.items():
        assert response.status_code == 200, path
        text = " ".join(" ".join(page.prose).split())
        for match in RAW_TEX.finditer(text):
            problems.append(f"{path}: …{text[max(0, match.start() - 40) : match.end() + 20]}…")
        assert 'class="math-error"' not in response.text, path
    assert problems == []


def test_every_object_key_is_a_permalink_to_its_anchor(served: dict[str, Any]) -> None:
    for path, (_response, page) in served.items():
        if not path.startswith("/concepts/"):
            continue
        assert page.permalink_keys, path
        assert len(page.permalink_keys) == page.inline_code, path  # no key shown unlinked
        for href, key in page.permalink_keys:
            assert href.startswith("#") and href[1:] in page.ids, (path, href, key)
            kind = key.split(":", 1)[0]
            assert href[1:].startswith(f"{kind}/"), (path, href, key)


def test_the_contents_list_lands_on_every_panel(served: dict[str, Any]) -> None:
    for path, (_response, page) in served.items():
        if not path.startswith("/concepts/"):
            continue
        contents = [
            str(attrs["href"])[1:]
            for tag, attrs in page.tags
            if tag == "a" and str(attrs.get("href", "")).startswith("#")
            and attrs.get("href") != "#"
        ]
        panels = [attrs["id"] for tag, attrs in page.tags if tag == "section"]
        assert set(panels) <= set(contents), (path, set(panels) - set(contents))
        missing = [target for target in contents if target not in page.ids]
        assert missing == [], (path, missing)


def test_learning_map_groups_each_concept_once() -> None:
    links = {
        "outgoing": [
            {"type": "prerequisite", "to": "concept:p/a", "title": "A", "url": "/a",
             "reason": "r1"},
            {"type": "definition", "to": "concept:p/a", "title": "A", "url": "/a", "reason": "r2"},
            {"type": "next", "to": "concept:p/b", "title": "B", "url": "/b", "reason": "r3",
             "gate": "Predict first."},
            {"type": "contrast", "to": "concept:p/b", "title": "B", "url": "/b", "reason": "r4"},
        ],
        "incoming": [
            {"type": "contrast", "from": "concept:p/b", "title": "B", "url": "/b", "reason": "r5"},
            {"type": "prerequisite", "from": "concept:p/c", "title": "C", "url": "/c",
             "reason": "r6"},
            {"type": "definition", "from": "concept:p/c", "title": "C", "url": "/c",
             "reason": "r6"},
        ],
    }  # fmt: skip
    groups = {g["title"]: g["concepts"] for g in learning_map(links)}
    assert list(groups) == ["Prerequisites", "Next", "Contrast", "Used by"]
    assert [(c["key"], c["reasons"]) for c in groups["Prerequisites"]] == [
        ("concept:p/a", ["r1", "r2"])
    ]
    assert [(c["key"], c["gates"]) for c in groups["Next"]] == [("concept:p/b", ["Predict first."])]
    assert [(c["key"], c["reasons"]) for c in groups["Contrast"]] == [("concept:p/b", ["r4", "r5"])]
    assert [(c["key"], c["reasons"]) for c in groups["Used by"]] == [("concept:p/c", ["r6"])]
    assert learning_map({"outgoing": [], "incoming": []}) == []


def test_the_learning_map_on_a_page_lists_each_concept_once_per_group(
    bundled_client: TestClient,
) -> None:
    html = bundled_client.get("/concepts/generative-models/normalizing-flows").text
    section = html.split('id="learning-map"', 1)[1].split("</section>", 1)[0]
    groups = re.findall(r'<h3 class="map-group">([^<]+)</h3>\s*<ul class="map-concepts">(.*?)</ul>',
                        section, re.S)  # fmt: skip
    titles = [title for title, _ in groups]
    assert titles[:3] == ["Prerequisites", "Next", "Contrast"] and "Used by" in titles
    for title, items in groups:
        hrefs = re.findall(r'<li><a href="([^"]+)">', items)
        assert hrefs and len(hrefs) == len(set(hrefs)), (title, hrefs)
    prerequisites = dict(groups)["Prerequisites"]
    # Linked as prerequisite and as definition: one entry carrying both reasons.
    assert prerequisites.count('href="/concepts/probability/maximum-likelihood"') == 1


def test_every_page_has_a_strict_csp_and_nothing_inline(served: dict[str, Any]) -> None:
    for path, (response, page) in served.items():
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
        assert directives["default-src"] == "'none'", path
        for name in ("script-src", "style-src", "font-src", "connect-src"):
            assert directives[name] == "'self'", (path, name)
        assert not any(word in csp for word in CSP_FORBIDDEN), (path, csp)
        assert not page.inline_script, path
        for tag, attrs in page.tags:
            assert "style" not in attrs, (path, tag)
            assert not [a for a in attrs if a.startswith("on")], (path, tag, attrs)
            assert tag != "style", path


def test_every_form_control_has_a_label(served: dict[str, Any]) -> None:
    for path, (_response, page) in served.items():
        labelled = {str(a["for"]) for tag, a in page.tags if tag == "label" and a.get("for")}
        for tag, attrs in page.tags:
            if tag in {"input", "select", "textarea"} and attrs.get("type") not in {
                "hidden", "checkbox", "submit"
            }:  # fmt: skip
                assert attrs.get("id") in labelled or attrs.get("aria-label"), (path, attrs)


def test_no_page_weighs_over_300_kb_before_images(
    served: dict[str, Any], bundled_client: TestClient
) -> None:
    """What a browser downloads for a page (gzip accepted): the HTML, its stylesheets and
    scripts, and the fonts the stylesheets load."""
    asset_sizes: dict[str, int] = {}

    def wire_size(path: str) -> int:
        response = bundled_client.get(path, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, path
        body = response.content
        if response.headers.get("content-encoding") == "gzip":
            return len(gzip.compress(body, 6))  # httpx has decoded it; measure it packed again
        return len(body)

    for path, (response, page) in served.items():
        total = wire_size(path)
        assert len(response.content) < PAGE_BUDGET, path  # even uncompressed
        for asset in page.assets:
            if asset not in asset_sizes:
                asset_sizes[asset] = wire_size(asset)
                if asset.endswith(".css"):
                    css = bundled_client.get(asset).text
                    for font in re.findall(r'url\("?(/static/[^")]+)"?\)', css):
                        asset_sizes[asset] += wire_size(font)
            total += asset_sizes[asset]
        assert total < PAGE_BUDGET, (path, total)


def test_the_math_font_is_served_from_static_with_its_licence(client: TestClient) -> None:
    css = client.get("/static/site.css").text
    fonts = re.findall(r'url\("(/static/fonts/[^"]+\.woff2)"\)', css)
    assert fonts and re.search(r'math\s*\{[^}]*font-family:\s*"Latin Modern Math"', css)
    for font in fonts:
        response = client.get(font)
        assert response.status_code == 200
        assert response.content[:4] == b"wOF2"
    licence = client.get("/static/fonts/GUST-FONT-LICENSE.txt")
    assert licence.status_code == 200 and "GUST Font License" in licence.text
