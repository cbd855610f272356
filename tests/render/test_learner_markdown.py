"""A learner's note renders safely: raw HTML, images, scripts and odd schemes stay inert."""

from __future__ import annotations

import re

import pytest

from server.render.markdown import key_site_path, learner_link, render_learner_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    "<a href='javascript:alert(1)'>x</a>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;avascript&#x3A;alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click]( javascript:alert(1))",
    "<javascript:alert(1)>",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "[click](vbscript:msgbox(1))",
    "[click](file:///etc/passwd)",
    "[click](//evil.example/x)",
    "![x](http://evil.example/track.png)",
    "![x](data:image/png;base64,AAAA)",
    "[![x](http://evil.example/a.png)](http://evil.example/)",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "$\\href{javascript:alert(1)}{x}$",
    "$\\text{<img src=x onerror=alert(1)>}$",
    "[ref]\n\n[ref]: javascript:alert(1)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_note_text_renders_inert(text: str) -> None:
    html = render_learner_markdown(text).lower()
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    attribute = r"""<[a-z]+[^>]*\s(href|src)\s*=\s*["']?\s*"""
    assert re.search(attribute + "(javascript|data|vbscript|file):", html) is None
    assert re.search(attribute + "//", html) is None
    assert re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", html) is None
    assert re.search(r"<[a-z]+[^>]*\ssrc\s*=", html) is None  # nothing is fetched from a note


def test_allowed_links_keep_their_target_with_rel() -> None:
    html = render_learner_markdown(
        "[paper](https://arxiv.org/abs/1505.05770) [plain](http://example.org/a) "
        "[mail](mailto:me@example.org) [page](/concepts/a/b) [here](#notes)"
    )
    for href in ("https://arxiv.org/abs/1505.05770", "http://example.org/a",
                 "mailto:me@example.org", "/concepts/a/b", "#notes"):  # fmt: skip
        assert f'href="{href}"' in html
    assert html.count('rel="nofollow noopener noreferrer"') == 5


def test_object_keys_become_site_paths() -> None:
    assert key_site_path("concept:generative-models/normalizing-flows") == (
        "/concepts/generative-models/normalizing-flows"
    )
    assert key_site_path("claim:a/b/c") == "/concepts/a/b#claim/concept-notebook/a/b/c"
    assert key_site_path("source:rezende-2015") == "/api/objects/source:rezende-2015"
    assert key_site_path("note:a/b") is None and key_site_path("concept:a") is None
    html = render_learner_markdown("See [the claim](claim:a/b/c) and <concept:a/b>.")
    assert 'href="/concepts/a/b#claim/concept-notebook/a/b/c"' in html
    assert '<a href="/concepts/a/b" rel="nofollow noopener noreferrer">concept:a/b</a>' in html


def test_relative_links_and_unknown_schemes_are_not_links() -> None:
    for url in ("notes.html", "../x", "ftp://example.org", "tel:123", "concept:not/a/key/x"):
        assert not learner_link(url), url
        assert "<a " not in render_learner_markdown(f"[x]({url})")


def test_math_and_code_render() -> None:
    html = render_learner_markdown("$p(x) = p_Z(f^{-1}(x))$\n\n```python\nx = 1\n```")
    assert "<math" in html and 'class="highlight"' in html
