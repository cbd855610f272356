"""Markdown -> safe HTML: raw HTML off, links allow-listed, math as sanitised MathML,
code highlighted with Pygments."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from server.errors import ReadingRoomError
from server.render.math import LatexError, to_mathml

SAFE_SCHEMES = ("http:", "https:", "mailto:")
WITNESS_ID = re.compile(r"\bwitness=([a-z0-9-]+)")
SCROLLS_CODE = '<div class="highlight" tabindex="0">'
SCROLLS_MATH = '<div class="math-display" tabindex="0">'
PLACEMENT = re.compile(r"^\{\{\s*(equation|demo)\s+([a-z0-9-]+)\s*\}\}$")
# Authored text is rendered once per content change: pages are rebuilt on every review or run,
# but their Markdown and code only change with the content.
RENDERED_TEXTS = 4096
# Where a witness goes in a rendered chunk: NUL never survives Markdown rendering.
SLOT = re.compile("\x00(\\d+)\x00")


def safe_link(url: str) -> bool:
    """Relative links, fragments and http(s)/mailto only."""
    lowered = url.strip().lower()
    if lowered.startswith(("#", "/")) and not lowered.startswith("//"):
        return True
    if ":" not in lowered.split("/")[0]:
        return True
    return lowered.startswith(SAFE_SCHEMES)


@lru_cache(maxsize=RENDERED_TEXTS)
def highlight_code(code: str, language: str) -> str:
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    html_code = str(highlight(code, lexer, HtmlFormatter(cssclass="highlight", wrapcode=True)))
    # A block that may scroll sideways takes keyboard focus, so arrow keys can scroll it.
    return html_code.replace('<div class="highlight">', SCROLLS_CODE, 1)


def _math(display: bool) -> Callable[..., str]:
    def render(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        latex = tokens[idx].content
        try:
            mathml = to_mathml(latex.strip(), display)
        except LatexError:
            return f'<code class="math-error">{html.escape(latex)}</code>'
        return f"{SCROLLS_MATH}{mathml}</div>" if display else mathml

    return render


def _fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    language = token.info.split()[0] if token.info.strip() else "text"
    code = highlight_code(token.content, language)
    match = WITNESS_ID.search(token.info)
    render_witness = env.get("witness") if isinstance(env, dict) else None
    if match and render_witness is not None:
        return str(render_witness(match.group(1), code))
    return code


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if not safe_link(href):
        token.attrSet("href", "#")
    token.attrSet("rel", "nofollow noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    return f'<span class="image-alt">[{html.escape(alt)}]</span>'


def _build_renderer(validate_link: Callable[[str], bool], link_open: Any) -> MarkdownIt:
    """CommonMark with raw HTML off, tables, math as MathML, highlighted code and images
    shown as their alt text; the two kinds of text differ only in what links may point to."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).use(dollarmath_plugin)
    md.enable("table")
    md.validateLink = validate_link  # type: ignore[method-assign,assignment]
    md.add_render_rule("math_inline", _math(False))
    md.add_render_rule("math_block", _math(True))
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _fence)
    md.add_render_rule("link_open", link_open)
    md.add_render_rule("image", _image)
    return md


def make_renderer() -> MarkdownIt:
    return _build_renderer(safe_link, _link_open)


_RENDERER = make_renderer()


def key_site_path(url: str) -> str | None:
    """The site path of an in-site object key (``concept:a/b``), or None if ``url`` is not one."""
    from server.keys import anchor_for, parse_key

    try:
        parsed = parse_key(url.strip())
    except ReadingRoomError:
        return None
    if parsed.kind == "source":
        return f"/api/objects/source:{parsed.path}"
    page = f"/concepts/{parsed.concept_path}"
    return page if parsed.kind == "concept" else f"{page}#{anchor_for(url.strip())}"


def learner_link(url: str) -> bool:
    """What a learner's note may link to: http(s), mailto, a site path or fragment, an object key.

    Relative links are refused: a note is shown on many pages, so they would point elsewhere.
    """
    lowered = url.strip().lower()
    if lowered.startswith("#") or (lowered.startswith("/") and not lowered.startswith("//")):
        return "\\" not in lowered
    return lowered.startswith(SAFE_SCHEMES) or key_site_path(url) is not None


def _learner_link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    site_path = key_site_path(href)
    if site_path is not None:
        token.attrSet("href", site_path)
    elif not learner_link(href):
        token.attrSet("href", "#")
    token.attrSet("rel", "nofollow noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)


def make_learner_renderer() -> MarkdownIt:
    """Learner Markdown: as authored Markdown, but links to keys become site paths, other
    schemes and relative links are refused, and witness placements do nothing."""
    return _build_renderer(learner_link, _learner_link_open)


_LEARNER_RENDERER = make_learner_renderer()


def render_learner_markdown(text: str) -> str:
    """Safe HTML for a learner's note: raw HTML off, images off, links allow-listed."""
    return str(_LEARNER_RENDERER.render(text, {}))


def render_markdown(text: str, env: dict[str, Any] | None = None) -> str:
    """Safe HTML for authored or learner Markdown.

    ``env["witness"]``, when given, wraps each ``python witness=<id>`` block:
    ``(id, highlighted_code) -> html``.
    """
    return str(_RENDERER.render(text, env or {}))


@lru_cache(maxsize=RENDERED_TEXTS)
def render_inline(text: str) -> str:
    """Safe inline HTML (emphasis, code, links, ``$math$``) without a wrapping paragraph."""
    return str(_RENDERER.renderInline(text))


@lru_cache(maxsize=RENDERED_TEXTS)
def _rendered_chunk(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``text`` rendered once, each witness block left as a slot: (its id, its code)."""
    slots: list[tuple[str, str]] = []

    def slot(object_id: str, code: str) -> str:
        slots.append((object_id, code))
        return f"\x00{len(slots) - 1}\x00"

    return render_markdown(text, {"witness": slot}), tuple(slots)


def _plain_code(_object_id: str, code: str) -> str:
    return code


def _render_chunk(text: str, env: dict[str, Any] | None) -> str:
    rendered, slots = _rendered_chunk(text)
    if not slots:
        return rendered
    witness = (env or {}).get("witness") or _plain_code
    return SLOT.sub(lambda m: str(witness(*slots[int(m.group(1))])), rendered)


def render_authored(text: str) -> str:
    """``render_markdown(text)`` for authored text, rendered once per distinct text."""
    return _render_chunk(text, None)


def render_section(
    text: str, placed: Callable[[str, str], str | None], env: dict[str, Any] | None = None
) -> str:
    """Render a section, replacing ``{{ equation id }}`` / ``{{ demo id }}`` lines.

    ``env["witness"]`` wraps each ``python witness=<id>`` block, as for ``render_markdown``;
    the Markdown itself is rendered once per distinct text.
    """
    parts: list[str] = []
    chunk: list[str] = []
    for line in text.split("\n"):
        match = PLACEMENT.match(line.strip())
        replacement = placed(match.group(1), match.group(2)) if match else None
        if replacement is None:
            chunk.append(line)
            continue
        parts.append(_render_chunk("\n".join(chunk), env))
        parts.append(replacement)
        chunk = []
    parts.append(_render_chunk("\n".join(chunk), env))
    return "".join(parts)


def pygments_css() -> str:
    style: Any = HtmlFormatter(style="default").get_style_defs(".highlight")  # type: ignore[no-untyped-call]
    return str(style)
