"""The graph and plan pages, the concept page's marks and badge, the drawing's safety, the
plan prompt's budget and the cite-this block."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.errors import InvalidInput
from server.learning.svg import Drawer, GraphvizFailed, quoted, to_dot
from server.pages.cite import bibtex_escape, citation_key
from tests.learning.conftest import Tree, key

Client = tuple[TestClient, Tree]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_graph_page_draws_every_concept_with_status_and_marks(tree_client: Client) -> None:
    client, _ = tree_client
    client.put(f"/api/progress/{key('base')}", json={"learned": True})
    page = client.get("/graph")
    assert page.status_code == 200
    assert page.headers["link"] == '</api/graph>; rel="alternate"; type="application/json"'
    svg = html.unescape(page.text[page.text.index("<svg") : page.text.index("</svg>")])
    assert len(re.findall(r'<g id="node\d+" class="node [a-z-]+', svg)) == 6
    assert 'class="node fully-grounded learned"' in svg  # base: learned and grounded
    assert svg.count('class="edge prerequisite"') == 5
    assert "<script" not in page.text.split("</head>")[1]


def test_graph_page_focus_and_bad_focus(tree_client: Client) -> None:
    client, _ = tree_client
    page = client.get("/graph", params={"focus": key("top"), "direction": "up", "depth": 1})
    assert page.status_code == 200
    assert len(re.findall(r'<g id="node\d+"', page.text)) == 3
    assert client.get("/graph", params={"focus": key("nowhere")}).status_code == 404
    assert client.get("/graph", params={"depth": 0}).status_code == 422


def test_plan_page_lists_steps_with_reasons(tree_client: Client) -> None:
    client, _ = tree_client
    page = client.get("/plan/demo-context/peak")
    assert page.status_code == 200
    steps = re.findall(r'<li id="step-(\d+)">', page.text)
    assert steps == ["1", "2", "3", "4", "5"]
    assert "needed by <code>concept:demo-context/peak</code>: peak needs top." in page.text


def test_concept_page_marks_post_as_a_form_and_show_the_badge(tree_client: Client) -> None:
    client, _ = tree_client
    page = client.get("/concepts/demo-context/top").text
    assert '<span class="grounding fully-grounded"' in page
    assert 'name="learned" value="true"' in page and "mark learned" in page
    sent = client.post(f"/progress/{key('top')}", content="learned=true", headers=FORM,
                       follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303 and sent.headers["location"] == "/concepts/demo-context/top"
    page = client.get("/concepts/demo-context/top").text
    assert 'name="learned" value="false"' in page and "✓ learned" in page
    assert client.get("/api/progress").json()["data"][0]["learned"] is True


@pytest.mark.parametrize(
    ("body", "status"),
    [("learned=maybe", 422), ("", 422), ("starred=true&" * 10, 422), ("x" * 5000, 422)],
)
def test_the_mark_form_refuses_bad_input(tree_client: Client, body: str, status: int) -> None:
    client, _ = tree_client
    sent = client.post(f"/progress/{key('top')}", content=body, headers=FORM)
    assert sent.status_code == status
    assert client.get("/api/progress").json()["count"] == 0


def test_the_mark_form_refuses_a_cross_site_post(tree_client: Client) -> None:
    client, _ = tree_client
    sent = client.post(f"/progress/{key('top')}", content="learned=true",
                       headers={**FORM, "Origin": "https://elsewhere.example"})  # fmt: skip
    assert sent.status_code == 403
    assert client.get("/api/progress").json()["count"] == 0


def graph_of(title: str, reason: str = "r") -> dict[str, Any]:
    return {
        "nodes": [
            {"key": "concept:a/b", "title": title, "url": "/concepts/a/b", "status": "grounded"},
            {"key": "concept:a/c", "title": "C", "url": "/concepts/a/c"},
        ],
        "edges": [{"from": "concept:a/b", "to": "concept:a/c", "type": "prerequisite",
                   "reason": reason}],
    }  # fmt: skip


def test_labels_are_quoted_so_dot_reads_them_as_text() -> None:
    hostile = 'x"]; evil [label="<script>alert(1)</script>" URL="javascript:x"]; y [label="\\'
    assert quoted('a"b\\c\nd') == '"a\\"b\\\\c d"'
    drawing = Drawer("dot", 10.0, 100).svg(graph_of(hostile, reason=hostile), None, 1)
    assert "<script" not in drawing and 'href="javascript' not in drawing
    assert "&lt;script&gt;" in drawing  # the text is shown, escaped
    assert len(re.findall(r'<g id="node\d+"', drawing)) == 2


def test_drawing_is_bounded_cached_and_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        Drawer("dot", 10.0, 1).svg(graph_of("B"), None, 1)
    drawer = Drawer("dot", 10.0, 100)
    first = drawer.svg(graph_of("B"), None, 1)
    drawer.dot = str(tmp_path / "missing-dot")  # a cached drawing needs no second run
    assert drawer.svg(graph_of("B"), None, 1) == first
    with pytest.raises(GraphvizFailed, match="not installed"):
        drawer.svg(graph_of("B"), None, 2)
    slow = tmp_path / "slow-dot"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    with pytest.raises(GraphvizFailed, match="longer than"):
        Drawer(str(slow), 0.2, 100).svg(graph_of("B"), None, 1)
    broken = tmp_path / "broken-dot"
    broken.write_text("#!/bin/sh\necho bad input >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(GraphvizFailed, match="bad input"):
        Drawer(str(broken), 5.0, 100).svg(graph_of("B"), None, 1)


def test_dot_text_draws_prerequisites_upward() -> None:
    text = to_dot(graph_of("B"), focus="concept:a/b")
    assert "n1 -> n0" in text  # from the prerequisite c to b that needs it
    assert "penwidth=3" in text
    done = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, check=True)
    assert done.stdout.count(b'<g id="node') == 2


def test_plan_prompt_cites_steps_and_keeps_to_the_budget(tree_client: Client) -> None:
    client, tree = tree_client
    tree.write("left", reviewed=False)
    tree.ingest()
    answer = client.get("/api/plan/prompt", params={"target": key("peak")}).json()
    prompt = answer["prompt"]
    assert answer["within_budget"] and answer["dropped"] == []
    for slug in ("base", "left", "right", "top", "peak"):
        assert key(slug) in prompt
    assert "Why here: needed by concept:demo-context/peak: peak needs top." in prompt
    assert "[unverified: bounded] A claim about left." in prompt
    assert "[verified: supported] A claim about base." in prompt
    text = client.get("/api/plan/prompt", params={"target": key("peak"), "format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == prompt


def test_plan_prompt_sheds_claim_texts_first_when_over_budget(
    tree_client: Client, database_url: str
) -> None:
    from server.app import create_app
    from tests.conftest import LOOPBACK, make_settings

    client, tree = tree_client
    full = client.get("/api/plan/prompt", params={"target": key("peak")}).json()["chars"]
    for budget in (full - 60, 500):
        app = create_app(make_settings(database_url, tree.root, prompt_budget_chars=budget))
        with TestClient(app, client=LOOPBACK) as small:
            answer = small.get("/api/plan/prompt", params={"target": key("peak")}).json()
        assert answer["dropped"][0].startswith("claim texts of steps 1-")
        assert "Left out for size: claim texts of steps 1-" in answer["prompt"]
        # The step lines are never dropped: a budget too small for them is reported, not met.
        assert all(key(slug) in answer["prompt"] for slug in ("base", "left", "top", "peak"))
        assert answer["within_budget"] == (answer["chars"] <= budget) == (budget != 500)
        # The farthest steps lose their claim texts first; the target keeps its own longest.
        assert ("A claim about peak." in answer["prompt"]) == (budget != 500)
        assert "A claim about base." not in answer["prompt"]


def test_cite_this_block(tree_client: Client) -> None:
    client, _ = tree_client
    page = client.get("/concepts/demo-context/top").text
    assert "@misc{readingroom-demo-context-top," in page
    assert "howpublished = {\\url{http://testserver/concepts/demo-context/top}}" in page
    assert bibtex_escape("50% of {x} & y_1 \\ z") == r"50\% of \{x\} \& y\_1 \textbackslash{} z"
    assert citation_key("concept:a-b/c") == "readingroom-a-b-c"
