"""The command line: ingest output and exit codes, db subcommands, error: lines."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from server.cli import main
from tests.conftest import FIXTURES


def test_ingest_prints_every_problem_and_exits_non_zero(tmp_path: Path, database_url: str) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURES / "content" / "valid", content)
    shutil.copyfile(FIXTURES / "content/cases/unknown-source.md", content / "demo-context/alpha.md")
    result = CliRunner().invoke(main, ["ingest", str(content), "--database", database_url])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: 1 problem(s) in content; nothing was written"
    assert lines[1].endswith(
        "demo-context/alpha.md:33: claim 'scaling-claim' cites unknown source 'smith-2020-exampel'"
    )


def test_ingest_twice_then_db_current(tmp_path: Path, database_url: str) -> None:
    runner = CliRunner()
    content = str(FIXTURES / "content" / "valid")
    first = runner.invoke(main, ["ingest", content, "--database", database_url])
    assert first.exit_code == 0, first.output
    assert (
        first.stdout.strip()
        == "2 concept file(s): 2 written, 0 unchanged, 0 removed, 0 key(s) tombstoned"
    )
    second = runner.invoke(main, ["ingest", content, "--database", database_url])
    assert second.stdout.strip() == "2 concept file(s), nothing changed"
    current = runner.invoke(main, ["db", "current", "--database", database_url])
    assert current.exit_code == 0 and len(current.stdout.strip()) >= 12


def test_database_falls_back_to_the_environment(
    tmp_path: Path, database_url: str, monkeypatch: object
) -> None:
    runner = CliRunner(env={"READINGROOM_DATABASE_URL": database_url})
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0 and result.stdout.startswith("at revision ")


def test_missing_content_directory_is_an_error(tmp_path: Path, database_url: str) -> None:
    result = CliRunner().invoke(
        main, ["ingest", str(tmp_path / "nope"), "--database", database_url]
    )
    assert result.exit_code == 1
    assert "content directory does not exist" in result.stderr
