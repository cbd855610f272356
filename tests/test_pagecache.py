"""Assembled pages and prompts: bounded LRU, kept per store revision and per note version,
invalidated by content, reviews, runs and notes, also when another app instance writes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from server.app import create_app
from server.db import make_engine, unit_of_work
from server.ingest.service import ingest
from server.models import Witness
from server.pagecache import PageCache
from server.render import markdown
from server.store import bump_revision
from server.witnesses.cache import current_cache_key
from server.witnesses.result import RunResult
from server.witnesses.service import CheckJob, record_runs
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

ALPHA_PAGE = "/concepts/demo-context/alpha"
ALPHA_JSON = "/api/concepts/demo-context/alpha"
ALPHA_CLAIM = "claim:demo-context/alpha/scaling-claim"
ALPHA_WITNESS = "witness:demo-context/alpha/double"
PROMPT = "/api/objects/concept:demo-context/alpha/prompt"
REVIEW = {
    "verdict": "supported",
    "summary": "Section 2 states the factor plainly.",
    "caveats": "One dimension.",
    "support": [{"source": "smith-2020-example", "checked": True, "stance": "supports"}],
}


@pytest.fixture
def cache(engine: Engine) -> PageCache:
    pages = PageCache(engine, poll_s=3600, max_entries=3)
    pages.refresh_revision()
    return pages


def test_a_full_cache_evicts_the_least_recently_used_entry(cache: PageCache) -> None:
    revision = cache.revision
    for key in ("a", "b", "c"):
        cache.put(key, revision, key.upper())
    assert cache.get("a") == "A"  # a is now the most recently used; b the least
    cache.put("d", revision, "D")
    assert len(cache) == 3
    assert cache.get("b") is None
    assert [cache.get(k) for k in ("a", "c", "d")] == ["A", "C", "D"]
    cache.put("e", revision, "E")  # a was used before c and d
    assert cache.get("a") is None and cache.get("e") == "E"


def test_requests_that_miss_together_build_the_page_once(cache: PageCache) -> None:
    import asyncio
    import threading

    builds: list[int] = []
    gate = threading.Event()

    def build() -> str:
        builds.append(1)
        assert gate.wait(30)
        return "page"

    def failing() -> str:
        builds.append(1)
        assert gate.wait(30)
        raise ValueError("the page could not be built")

    async def together() -> tuple[list[str], list[BaseException | str]]:
        served = [asyncio.ensure_future(cache.serve("page", build)) for _ in range(8)]
        refused = [asyncio.ensure_future(cache.serve("broken", failing)) for _ in range(3)]
        while len(builds) < 2:  # one build of each has started; the rest wait for it
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        gate.set()
        errors = await asyncio.gather(*refused, return_exceptions=True)
        return list(await asyncio.gather(*served)), list(errors)

    pages, errors = asyncio.run(together())
    assert pages == ["page"] * 8 and len(builds) == 2
    assert all(isinstance(e, ValueError) for e in errors)
    assert cache.get("page") == "page" and cache.get("broken") is None


def test_an_answer_built_before_a_bump_is_neither_kept_nor_served(
    cache: PageCache, engine: Engine
) -> None:
    old = cache.revision
    cache.put("page", old, "old page")
    with unit_of_work(engine) as session:
        bump_revision(session)
    assert cache.get("page") == "old page"  # not read again yet: poll_s has not passed
    cache.refresh_revision()
    assert cache.revision == old + 1
    assert cache.get("page") is None
    cache.put("page", old, "built from the old store")
    assert cache.get("page") is None


def test_a_note_version_is_read_again_after_poll_and_forgotten_on_a_local_write(
    engine: Engine,
) -> None:
    pages = PageCache(engine, poll_s=3600)
    assert pages.read_note_version("local", "concept:x/y") == (0, "")
    assert pages.note_version_is_known("local", "concept:x/y") == (0, "")
    pages.forget_notes({("local", "concept:x/y")})
    assert pages.note_version_is_known("local", "concept:x/y") is None
    eager = PageCache(engine, poll_s=0)
    eager.read_note_version("local", "concept:x/y")
    assert eager.note_version_is_known("local", "concept:x/y") is None


def record_passing_run(engine: Engine, key: str) -> None:
    """Record a run as the run queue does (which bumps the revision)."""
    with unit_of_work(engine) as session:
        witness = session.exec(select(Witness).where(Witness.key == key)).one()
        job = CheckJob(key, witness.code, [], 10.0, current_cache_key(witness))
        record_runs(session, [(job, RunResult(status="passed", stdout="value: 2.0\n"))])


@pytest.fixture
def two_apps(database_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances (two workers) over one database; revisions read on every request."""
    first = create_app(make_settings(database_url, VALID_CONTENT, page_cache_poll_s=0))
    second = create_app(make_settings(database_url, None, page_cache_poll_s=0))
    with TestClient(first, client=LOOPBACK) as one, TestClient(second, client=LOOPBACK) as two:
        yield one, two


def test_a_review_through_one_worker_shows_on_the_other(
    two_apps: tuple[TestClient, TestClient],
) -> None:
    one, two = two_apps
    for client in (one, two):  # both have the page cached
        assert "Review: supported" not in client.get(PROMPT).text
        assert "verdict supported substantive" not in client.get(ALPHA_PAGE).text
    created = two.post(f"/api/claims/{ALPHA_CLAIM}/reviews", json=REVIEW)
    assert created.status_code == 201, created.text
    assert "verdict supported substantive" in one.get(ALPHA_PAGE).text
    assert one.get(f"/api/objects/{ALPHA_CLAIM}").json()["verdict"] == "supported"
    assert one.get(ALPHA_JSON).json()["claims"][0]["verdict"] == "supported"
    assert "Review: supported" in one.get(PROMPT).text


def test_a_run_and_new_content_show_on_every_worker(
    two_apps: tuple[TestClient, TestClient], tmp_path: Path
) -> None:
    one, two = two_apps
    engine = one.app.state.engine  # type: ignore[attr-defined]
    assert two.get(ALPHA_JSON).json()["witnesses"][0]["status"] == "unchecked"
    record_passing_run(engine, ALPHA_WITNESS)
    for client in (one, two):
        assert client.get(ALPHA_JSON).json()["witnesses"][0]["status"] == "passed"
        assert client.get(f"/api/objects/{ALPHA_WITNESS}").json()["status"] == "passed"

    content = tmp_path / "content"
    shutil.copytree(VALID_CONTENT, content)
    page = content / "demo-context" / "alpha.md"
    page.write_text(page.read_text().replace("summary: The first", "summary: The revised first"))
    other = make_engine(str(engine.url))  # another process ingests
    try:
        with unit_of_work(other) as session:
            ingest(session, content)
    finally:
        other.dispose()
    for client in (one, two):
        assert "The revised first" in client.get(ALPHA_PAGE).text
        assert "The revised first" in client.get("/api/graph").text
        assert "The revised first" in client.get("/").text


def test_a_note_written_through_one_worker_shows_in_the_others_prompt(
    two_apps: tuple[TestClient, TestClient],
) -> None:
    one, two = two_apps
    assert "Draft a check" not in one.get(PROMPT).text
    note = two.put("/api/notes/concept:demo-context/alpha", json={"text": "Draft a check"})
    assert note.status_code == 200, note.text
    assert "Draft a check" in one.get(PROMPT).text
    two.delete("/api/notes/concept:demo-context/alpha", params={"version": 1})
    assert "Draft a check" not in one.get(PROMPT).text
    # made again, the note restarts at version 1: the prompt still shows the new text
    two.put("/api/notes/concept:demo-context/alpha", json={"text": "Second thoughts"})
    assert "Second thoughts" in one.get(PROMPT).text


def test_writes_through_this_worker_show_at_once_whatever_the_poll(database_url: str) -> None:
    app = create_app(make_settings(database_url, VALID_CONTENT, page_cache_poll_s=3600))
    with TestClient(app, client=LOOPBACK) as client:
        before = client.get(ALPHA_PAGE).text
        assert client.get(ALPHA_PAGE).text == before
        assert client.post(f"/api/claims/{ALPHA_CLAIM}/reviews", json=REVIEW).status_code == 201
        assert "verdict supported substantive" in client.get(ALPHA_PAGE).text
        assert "Keep going" not in client.get(PROMPT).text
        client.put("/api/notes/concept:demo-context/alpha", json={"text": "Keep going"})
        assert "Keep going" in client.get(PROMPT).text
        # a prompt without the note (compact) is its own entry and never shows it
        assert "Keep going" not in client.get(PROMPT, params={"mode": "compact"}).text


def test_prompts_are_kept_per_question_and_format(database_url: str) -> None:
    app = create_app(make_settings(database_url, VALID_CONTENT, page_cache_entries=4))
    with TestClient(app, client=LOOPBACK) as client:
        asked = client.get(PROMPT, params={"question": "Why 1/|a|?"}).text
        assert "Why 1/|a|?" in asked
        assert "Why 1/|a|?" not in client.get(PROMPT).text
        markdown_prompt = client.get(PROMPT, params={"format": "markdown"})
        assert markdown_prompt.headers["content-type"].startswith("text/markdown")
        for n in range(6):  # more than the cache holds: old entries go, answers stay right
            assert (
                f"Question {n}?" in client.get(PROMPT, params={"question": f"Question {n}?"}).text
            )
        assert len(app.state.pages) <= 4
        assert client.get(PROMPT, params={"question": "Why 1/|a|?"}).text == asked


def test_markdown_and_highlighting_run_once_per_content_change(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    markdown.highlight_code.cache_clear()
    markdown._rendered_chunk.cache_clear()
    calls: list[str] = []
    real = markdown.highlight

    def counting(code: str, *args: object) -> str:
        calls.append(code)
        return str(real(code, *args))  # type: ignore[arg-type]

    monkeypatch.setattr(markdown, "highlight", counting)
    first = client.get(ALPHA_PAGE).text
    highlighted = len(calls)
    assert highlighted > 0
    assert client.post(f"/api/claims/{ALPHA_CLAIM}/reviews", json=REVIEW).status_code == 201
    again = client.get(ALPHA_PAGE).text
    assert again != first and "verdict supported substantive" in again  # rebuilt, not re-rendered
    assert len(calls) == highlighted
    assert again.count('class="highlight"') == first.count('class="highlight"')
