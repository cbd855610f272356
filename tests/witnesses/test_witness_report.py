"""Reading the harness report back: never through a symlink, never past the cap."""

from __future__ import annotations

import json
import os
from pathlib import Path

from server.witnesses.sandbox import read_report


def test_a_plain_report_is_read(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"exit_code": 0, "variables": {"x": {"error": "nope"}}}))
    report, problem = read_report(path, 1 << 20)
    assert problem is None and report is not None and report.variables["x"] == {"error": "nope"}


def test_a_symlink_planted_for_the_report_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(json.dumps({"exit_code": 0, "variables": {"leak": {"data": [1]}}}))
    planted = tmp_path / "result.json"
    os.symlink(secret, planted)
    report, problem = read_report(planted, 1 << 20)
    assert report is None and "could not be opened safely" in (problem or "")


def test_an_oversized_report_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b"{" + b" " * (2 << 20) + b"}")
    report, problem = read_report(path, 1 << 20)
    assert report is None and "larger than" in (problem or "")


def test_fifos_and_garbage_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_report(fifo, 1024) == (None, "the report is not a regular file")
    garbage = tmp_path / "garbage"
    garbage.write_text("[" * 100_000)
    assert read_report(garbage, 1 << 20) == (None, "the report is not valid")
    wrong = tmp_path / "wrong"
    wrong.write_text(json.dumps({"exit_code": "zero"}))
    assert read_report(wrong, 1 << 20) == (None, "the report is not valid")
    empty = tmp_path / "empty"
    empty.write_text("")
    assert read_report(empty, 1024)[0] is None
    assert read_report(tmp_path / "missing", 1024) == (None, "the run left no report")
