"""LaTeX is an injection path: hostile math in authored text, learner notes and equations
comes out as inert MathML or as escaped source, never as markup that runs or loads anything,
and over-long or over-deep input is refused before the converter sees it."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from server.render.markdown import render_inline, render_learner_markdown, render_markdown
from server.render.math import (
    MATHML_ATTRIBUTES,
    MATHML_TAGS,
    MAX_GROUP_DEPTH,
    MAX_LATEX_CHARS,
    LatexError,
    latex_problem,
    to_mathml,
)

HOSTILE = [
    r"\href{javascript:alert(1)}{x}",
    r"\text{</math><svg onload=alert(1)>}",
    r"\text{<script>alert(1)</script>}",
    r"\url{javascript:alert(1)}",
    r"\style{background:url(//evil.example/x)}{x}",
    r"\class{x}{y}",
    r"\unicode{x3c}script\unicode{x3e}",
    r"\mathrm{<img src=x onerror=alert(1)>}",
    r"\operatorname{<b onclick=alert(1)>}",
    r"&lt;script&gt;alert(1)&lt;/script&gt;",
    r"&#x3c;svg onload=alert(1)&#x3e;",
    r"\begin{array}{c}<iframe src=javascript:alert(1)>\end{array}",
    r"\def\x{\x}\x",
    r"\newcommand{\a}{\a\a}\a",
    r"x^{",
    r"}x{",
    r"\left( x",
    r"x \right)",
]
HTML_AROUND_MATH = {"p", "code", "div", "span", "em", "strong"}
ALLOWED_ATTRIBUTES = set().union(*MATHML_ATTRIBUTES.values()) | {"class", "tabindex"}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self.values.extend(value or "" for _, value in attrs)


def assert_inert(html: str) -> None:
    """Only MathML and the few tags around it, only allow-listed attributes (no handler, no
    link, no style) and no scheme in any value; hostile source may remain as escaped text."""
    parsed = Tags()
    parsed.feed(html)
    assert parsed.tags <= MATHML_TAGS | HTML_AROUND_MATH, (parsed.tags, html)
    assert parsed.attributes <= ALLOWED_ATTRIBUTES, (parsed.attributes, html)
    assert not [v for v in parsed.values if ":" in v and not v.startswith("http://www.w3.org/")]


@pytest.mark.parametrize("latex", HOSTILE)
def test_hostile_latex_is_inert_or_refused(latex: str) -> None:
    try:
        mathml = to_mathml(latex)
    except LatexError:
        assert latex_problem(latex) is not None
        return
    assert_inert(mathml)


@pytest.mark.parametrize("latex", HOSTILE)
@pytest.mark.parametrize(
    "render", [render_inline, render_markdown, render_learner_markdown], ids=lambda f: f.__name__
)
def test_hostile_math_in_text_is_inert(latex: str, render: object) -> None:
    assert callable(render)
    html = str(render(f"before ${latex}$ after\n\n$$\n{latex}\n$$\n"))
    assert_inert(html)
    assert "before" in html and "after" in html


@pytest.mark.parametrize(
    ("latex", "reason"),
    [
        (r"\href{javascript:alert(1)}{x}", "\\href is not allowed"),
        (r"\url{x}", "\\url is not allowed"),
        (r"\style{color:red}{x}", "\\style is not allowed"),
        (r"\def\x{\x}\x", "\\def is not allowed"),
        (r"\newcommand{\a}{\a\a}\a", "\\newcommand is not allowed"),
        ("{" * (MAX_GROUP_DEPTH + 1) + "x" + "}" * (MAX_GROUP_DEPTH + 1), "nested deeper"),
        (r"\left(" * (MAX_GROUP_DEPTH + 1) + "x" + r"\right)" * (MAX_GROUP_DEPTH + 1),
         "nested deeper"),
        ("x+" * MAX_LATEX_CHARS, "longer than"),
        ("x^{", "not closed"),
    ],
)  # fmt: skip
def test_refused_latex_says_why(latex: str, reason: str) -> None:
    with pytest.raises(LatexError, match=reason.replace("\\", "\\\\")):
        to_mathml(latex)


def test_refused_math_in_text_shows_its_source_escaped() -> None:
    deep = "{" * 5000 + "x" + "}" * 5000
    html = render_inline(f"a $\\text{{<b>}}{deep}$ b")
    assert '<code class="math-error">' in html
    assert "<b>" not in html and "&lt;b&gt;" in html


def test_math_just_inside_the_limits_still_renders() -> None:
    nested = "{" * MAX_GROUP_DEPTH + "x" + "}" * MAX_GROUP_DEPTH
    assert "<mi>x</mi>" in to_mathml(nested)


def test_display_sums_and_products_put_limits_above_and_below() -> None:
    display = to_mathml(r"\sum_{i=1}^{D} \log \left| \det J_i \right| \prod_{k} a_k", True)
    assert "<munderover><mo>∑</mo>" in display
    assert "<munder><mo>∏</mo>" in display
    assert display.count('stretchy="true"') == 2  # \left| ... \right| stretch
    inline = to_mathml(r"\sum_{i=1}^{D} x_i")
    assert "<msubsup><mo>∑</mo>" in inline  # inline: limits beside, as a book sets them


def test_function_names_take_a_thin_space_unless_parentheses_follow() -> None:
    spaced = to_mathml(r"\log p(x) + \exp z")
    assert spaced.count('<mi>log</mi><mspace width="0.1667em"></mspace>') == 1
    assert '<mi>exp</mi><mspace width="0.1667em"></mspace>' in spaced
    assert "<mi>log</mi><mo" in to_mathml(r"\log(x)")


def test_hostile_math_in_a_note_over_http_is_inert(client: TestClient) -> None:
    """Through the API: every hostile input saves (no 500) and its rendering is inert."""
    version = None
    for latex in [*HOSTILE, "{" * 4_000, "x^" * 2_500]:
        body = {"text": f"my note ${latex}$ and\n\n$$\n{latex}\n$$\n", "version": version}
        response = client.put("/api/notes/concept:demo-context/alpha", json=body)
        assert response.status_code == 200, (latex[:40], response.text[:200])
        note = response.json()
        version = note["version"]
        assert_inert(note["text_html"])
