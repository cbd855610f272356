"""The concept page's interactive parts as served HTML: scripts only from /static, no inline
script, style or handler, a prompt action on every object, and demo data the script can read."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def parsed(client: TestClient) -> tuple[Collect, str]:
    response = client.get("/concepts/demo-context/alpha")
    assert response.status_code == 200
    collect = Collect()
    collect.feed(response.text)
    return collect, response.text


def test_scripts_come_from_static_and_nothing_is_inline(client: TestClient) -> None:
    collect, _ = parsed(client)
    scripts = [attrs.get("src") for tag, attrs in collect.tags if tag == "script"]
    assert scripts == ["/static/demo.js", "/static/room.js", "/static/learning.js"]
    assert not collect.inline_script
    for tag, attrs in collect.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    for script in scripts:
        assert script is not None
        served = client.get(script)
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
        assert "http://" not in served.text and "https://" not in served.text  # nothing outside


def test_every_object_has_a_prompt_action_and_is_in_the_research_room(
    client: TestClient,
) -> None:
    collect, _ = parsed(client)
    page = client.get("/api/concepts/demo-context/alpha").json()
    keys = {page["key"]}
    for kind in ("equations", "demos", "witnesses", "sources", "claims", "misconceptions"):
        keys |= {item["key"] for item in page[kind]}
    actions = {
        attrs["data-key"]: attrs["href"]
        for tag, attrs in collect.tags
        if tag == "a" and "prompt-action" in (attrs.get("class") or "")
    }
    assert set(actions) == keys
    for key, href in actions.items():
        assert href == f"/api/objects/{key}/prompt"  # works without JavaScript
        assert client.get(href).status_code == 200
    selected = [attrs["value"] for tag, attrs in collect.tags if tag == "option"]
    assert keys <= set(selected)


def test_demo_figures_carry_their_spec_and_controls(client: TestClient) -> None:
    collect, html = parsed(client)
    page = client.get("/api/concepts/demo-context/alpha").json()
    figures = [attrs for tag, attrs in collect.tags if tag == "figure" and "data-spec" in attrs]
    assert len(figures) == len(page["demos"]) == 1
    spec = json.loads(figures[0]["data-spec"] or "")
    assert spec == page["demos"][0]["spec"]
    controls = json.loads(figures[0]["data-controls"] or "")
    assert controls == page["demos"][0]["controls"]
    assert [(c["name"], c["paths"], c["value"]) for c in controls] == [
        ("scale", ["layers[0].A[0][0]"], 2.0)
    ]
    # without JavaScript the bindings are listed in the figure (the script swaps in sliders)
    listed = "<li>Stretch along x = 2 (from 0.5 to 4; moves <code>layers[0].A[0][0]</code>)</li>"
    assert listed in html
    # the static caption is in the HTML (shown without JavaScript; the script hides it)
    assert re.search(r'<p class="demo-caption">Density halves', html)
