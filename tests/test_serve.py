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
        # witnesses are checked in the background after start-up and recorded in batches; the
        # bound is generous because the whole bundled corpus runs on a busy machine
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            _, page = get(f"{base}/api/concepts/generative-models/normalizing-flows")
            statuses = {w["status"] for w in page["witnesses"]}  # type: ignore[attr-defined]
            if statuses != {"unchecked"} and "unchecked" not in statuses:
                break
            time.sleep(0.5)
        assert statuses == {"passed"}
        _, health = get(f"{base}/api/health")
        before = health["revision"]
        assert isinstance(before, int) and before >= 2  # ingest, then at least one batch of runs
    # killed with SIGKILL above; the store must come back whole, with nothing to re-ingest (the
    # start-up check is off here: runs it had not recorded yet would bump the revision again)
    with serving(tmp_path, settings={"READINGROOM_CHECK_WITNESSES_ON_START": "false"}) as base:
        status, health = get(f"{base}/api/health")
        assert status == 200 and isinstance(health["revision"], int)
        assert before <= health["revision"] <= before + 1  # a batch committed before the kill
        status, concepts = get(f"{base}/api/concepts")
        assert status == 200 and concepts["count"] == BUNDLED_CONCEPTS
