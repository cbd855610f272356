"""A check's regular expression must be one RE2 matches in linear time, or ingest refuses it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from server.db import unit_of_work
from server.errors import ContentError
from server.ingest.service import ingest

CHECKS = """      - kind: stdout
        expected: |
          value: 2.0
        tolerance: 0.001
"""


def with_error_check(content: Path, pattern: str) -> Path:
    alpha = content / "demo-context" / "alpha.md"
    text = alpha.read_text(encoding="utf-8")
    extra = f"      - kind: error\n        exception: ValueError\n        match: '{pattern}'\n"
    alpha.write_text(text.replace(CHECKS, CHECKS + extra, 1), encoding="utf-8")
    return alpha


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(r"(a)\1", "invalid escape sequence"), ("(?<=not )invertible", "invalid perl operator")],
)
def test_a_pattern_re2_refuses_is_a_problem_with_its_line(
    engine: Engine, content_copy: Path, pattern: str, why: str
) -> None:
    alpha = with_error_check(content_copy, pattern)
    with pytest.raises(ContentError) as caught, unit_of_work(engine) as session:
        ingest(session, content_copy)
    [problem] = caught.value.details
    line = alpha.read_text(encoding="utf-8").splitlines().index("      - kind: error") + 1
    assert problem.startswith(f"{alpha}:{line}: ")
    assert "cannot be matched in linear time" in problem and why in problem


def test_a_catastrophic_pattern_ingests_and_cannot_stall(
    engine: Engine, content_copy: Path
) -> None:
    with_error_check(content_copy, "(a+)+$")
    started = time.monotonic()
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    assert time.monotonic() - started < 60
