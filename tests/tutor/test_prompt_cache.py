"""Gathered evidence is reused until the store changes: content, a run or a review."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from server.config import Settings
from server.db import unit_of_work
from server.ingest.service import ingest
from server.models import ClaimReview
from server.tutor import cache
from tests.conftest import FIXTURES
from tests.tutor.conftest import build, record_run

ALPHA = "concept:demo-context/alpha"


def test_reads_share_gathered_evidence(fixture_tree: Engine, settings: Settings) -> None:
    first = build(fixture_tree, settings, ALPHA)
    with unit_of_work(fixture_tree, write=False) as session:
        shot = cache.snapshot(session)
        assert ALPHA in shot.evidence
        assert cache.snapshot(session) is shot
    assert build(fixture_tree, settings, ALPHA) == first


def test_write_sessions_never_share(fixture_tree: Engine) -> None:
    with unit_of_work(fixture_tree) as session:
        assert cache.snapshot(session) is not cache.snapshot(session)


def test_a_new_run_a_new_review_or_new_content_is_seen(
    fixture_tree: Engine, settings: Settings, tmp_path: Path
) -> None:
    assert "Last run: none yet" in build(fixture_tree, settings, ALPHA)
    record_run(fixture_tree, "witness:demo-context/alpha/double")
    assert "Last run: passed on 2026-05-08" in build(fixture_tree, settings, ALPHA)

    with unit_of_work(fixture_tree) as session:
        session.add(
            ClaimReview(
                claim_key="claim:demo-context/alpha/scaling-claim", verdict="supported",
                reviewer="Ada", reviewed_on=date(2026, 6, 1), summary="Read at 2.", origin="api",
            )
        )  # fmt: skip
    assert "Review: supported (Ada, 2026-06-01)" in build(fixture_tree, settings, ALPHA)

    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "content" / "valid", content)
    page = content / "demo-context" / "alpha.md"
    page.write_text(page.read_text().replace("summary: The first", "summary: The revised first"))
    with unit_of_work(fixture_tree) as session:
        ingest(session, content)
    assert "Summary: The revised first fixture concept." in build(fixture_tree, settings, ALPHA)


def test_clear_forgets_every_snapshot(fixture_tree: Engine, settings: Settings) -> None:
    build(fixture_tree, settings, ALPHA)
    cache.clear()
    with unit_of_work(fixture_tree, write=False) as session:
        assert cache.snapshot(session).evidence == {}
