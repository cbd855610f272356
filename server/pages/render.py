"""Jinja2 environment, page rendering and the strict Content-Security-Policy."""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from server.keys import anchor_for
from server.render.markdown import (
    highlight_code,
    render_authored,
    render_inline,
    render_section,
)
from server.render.math import LatexError, to_mathml

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True
    )
    env.filters["markdown"] = lambda text: Markup(render_authored(text or ""))
    env.filters["inline"] = lambda text: Markup(render_inline(text or ""))
    env.filters["mathml"] = lambda latex: Markup(_mathml(latex, display=False))
    env.filters["mathml_block"] = lambda latex: Markup(_mathml(latex, display=True))
    env.filters["plain"] = plain_text
    env.filters["anchor"] = anchor_for
    env.filters["highlight"] = lambda code, lang="python": Markup(highlight_code(code, lang))
    return env


def plain_text(text: str) -> str:
    """Text for places that cannot hold markup (an ``<option>``): inline math is reduced to
    the characters of its MathML, so no TeX source shows."""
    return str(Markup(render_inline(text or "")).striptags())


def _mathml(latex: str, display: bool) -> str:
    try:
        return to_mathml(latex, display)
    except LatexError:
        return f'<code class="math-error">{html.escape(latex)}</code>'


def security_headers(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: under no-referrer a browser's form POST says "Origin: null",
    # which the cross-site check must refuse; other sites still get no referrer.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def render_page(
    request: Request, template: str, context: dict[str, Any], twin: str | None, status: int = 200
) -> HTMLResponse:
    settings = request.app.state.settings
    body = (
        environment()
        .get_template(template)
        .render(
            **context,
            site_name=settings.site_name,
            json_twin=twin,
            team_mode=settings.mode == "team",
        )
    )
    return page_response(body.encode("utf-8"), twin, status)


def page_response(body: bytes, twin: str | None, status: int = 200) -> HTMLResponse:
    response = HTMLResponse(body, status_code=status)
    if twin:
        response.headers["Link"] = f'<{twin}>; rel="alternate"; type="application/json"'
    return security_headers(response)


def render_concept_sections(page: dict[str, Any]) -> list[dict[str, Any]]:
    """Each section's HTML, with equations and demo states placed where the author put them."""
    equations = {e["key"].rsplit("/", 1)[1]: e for e in page["equations"]}
    demos = {d["key"].rsplit("/", 1)[1]: d for d in page["demos"]}
    placed: set[str] = set()
    env = environment()

    def place(kind: str, object_id: str) -> str | None:
        item = (equations if kind == "equation" else demos).get(object_id)
        if item is None:
            return None
        placed.add(item["key"])
        return env.get_template(f"_{kind}.html").render(item=item)

    witnesses = {w["key"].rsplit("/", 1)[1]: w for w in page["witnesses"]}

    def witness(object_id: str, code: str) -> str:
        item = witnesses.get(object_id)
        if item is None:
            return code
        placed.add(item["key"])
        return env.get_template("_witness.html").render(item=item, code=Markup(code))

    rendered = []
    for section in page["sections"]:
        html_text = render_section(section["markdown"], place, {"witness": witness})
        leftovers = []
        if section["id"] == "math":
            leftovers = [e for e in page["equations"] if e["key"] not in placed]
        if section["id"] == "interactive-demo":
            leftovers = [d for d in page["demos"] if d["key"] not in placed]
        if section["id"] == "code":
            leftovers = [w for w in page["witnesses"] if w["key"] not in placed]
        for item in leftovers:
            kind = item["kind"]
            extra = (
                {"code": Markup(highlight_code(item["code"], "python"))}
                if kind == "witness"
                else {}
            )
            html_text += env.get_template(f"_{kind}.html").render(item=item, **extra)
        rendered.append({**section, "html": Markup(html_text)})
    return rendered
