"""`readingroom serve` as a new user runs it: a fresh directory, the bundled content, a kill -9."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.serving import get, serving

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

BUNDLED_CONCEPTS = len(list((Path(__file__).resolve().parents[1] / "content").glob("*/*.md")))


def test_serve_on_a_fresh_directory_then_survive_kill_9(tmp_path: Path) -> None:
    with serving(tmp_path) as base:
        status, page = get(f"{base}/api/concepts/generative-models/normalizing-flows")
        assert status == 200
        assert page["title"] == "Normalizing Flows: Tractable Density via Invertible Transforms"
        assert (tmp_path / "readingroom.db").exists()
        # witnesses are checked in the background after start-up, all of them before any is
        # recorded; the bound is generous because the whole bundled corpus runs on a busy machine
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            _, page = get(f"{base}/api/concepts/generative-models/normalizing-flows")
            statuses = {w["status"] for w in page["witnesses"]}  # type: ignore[attr-defined]
            if statuses != {"unchecked"} and "unchecked" not in statuses:
                break
            time.sleep(0.5)
        assert statuses == {"passed"}
    # killed with SIGKILL above; the store must come back whole, with nothing to re-ingest
    with serving(tmp_path) as base:
        status, health = get(f"{base}/api/health")
        assert status == 200 and health["revision"] == 2  # ingest, then the witness runs
        status, concepts = get(f"{base}/api/concepts")
        assert status == 200 and concepts["count"] == BUNDLED_CONCEPTS
