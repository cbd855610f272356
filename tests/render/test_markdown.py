"""Rendering is safe: raw HTML off, links allow-listed, LaTeX cannot inject markup."""

from __future__ import annotations

import re

import pytest

from server.render.markdown import render_inline, render_markdown
from server.render.math import LatexError, latex_problem, to_mathml


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "![x](javascript:alert(1))",
        "$\\text{<script>alert(1)</script>}$",
        "$\\href{javascript:alert(1)}{x}$",
    ],
)
def test_hostile_markdown_renders_inert(text: str) -> None:
    for rendered in (render_markdown(text), render_inline(text)):
        lowered = rendered.lower()
        assert "<script" not in lowered and "<img" not in lowered
        assert re.search(r"""(href|src)\s*=\s*["']?\s*(javascript|data):""", lowered) is None
        assert re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", lowered) is None


def test_safe_links_survive_with_rel() -> None:
    html = render_markdown("[paper](https://arxiv.org/abs/1505.05770) and [page](/concepts/a/b)")
    assert 'href="https://arxiv.org/abs/1505.05770"' in html
    assert 'href="/concepts/a/b"' in html
    assert 'rel="nofollow noopener noreferrer"' in html


def test_math_becomes_mathml_and_code_is_highlighted() -> None:
    html = render_markdown("Let $x = Az + b$.\n\n$$\\det A$$\n\n```python\nprint(1)\n```\n")
    assert html.count("<math") == 2 and 'display="block"' in html
    assert '<div class="highlight" tabindex="0">' in html


@pytest.mark.parametrize(
    ("latex", "reason"),
    [
        ("\\frac{a}{b", "unbalanced braces: 1 '{' not closed"),
        ("a}b", "unbalanced braces: '}' without a matching '{'"),
        ("\\left( x", "\\left without a matching \\right"),
        ("\\nosuchcommand x", "unknown LaTeX command \\nosuchcommand"),
    ],
)
def test_latex_that_does_not_parse_is_named(latex: str, reason: str) -> None:
    assert latex_problem(latex) == reason
    with pytest.raises(LatexError):
        to_mathml(latex)
