"""`serve` beyond loopback: refused in local mode (no login), allowed in team mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from server.cli import main


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)  # serve migrates and ingests into ./readingroom.db first
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_local_mode_refuses_to_serve_beyond_loopback(
    host: str, started: list[dict[str, Any]]
) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", host], env={"READINGROOM_MODE": "local"})
    assert result.exit_code == 1
    assert "READINGROOM_MODE=team" in result.output and "error:" in result.output
    assert started == []


def test_local_mode_serves_on_loopback(started: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--host", "127.0.0.1"], env={"READINGROOM_MODE": "local"}
    )
    assert result.exit_code == 0, result.output
    assert [(call["host"], call["port"]) for call in started] == [("127.0.0.1", 8000)]


def test_team_mode_serves_beyond_loopback_and_says_https_is_missing(
    started: list[dict[str, Any]],
) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--host", "0.0.0.0"], env={"READINGROOM_MODE": "team"}
    )
    assert result.exit_code == 0, result.output
    assert "without https" in result.output
    assert started[0]["host"] == "0.0.0.0"
