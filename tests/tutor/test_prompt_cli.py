"""``readingroom prompt KEY [--mode] [--format] [--question] [--database]``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.engine import Engine

from server.tutor.cli import prompt_command
from tests.conftest import NEW_CLAIM, OLD_CLAIM, rename_claim
from tests.tutor.conftest import GOLDEN, NF


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(prompt_command, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_prompt_prints_the_grounded_prompt(bundled: Engine, database_url: str) -> None:
    code, out, err = run(NF, "--database", database_url)
    assert code == 0, err
    assert out.startswith("I am working in Continuous Function's research reading room.\n")
    assert "\n  - [unverified] source:rezende-2015-normalizing-flows: " in out
    assert out.endswith("end with one next action.\n")


def test_compact_output_is_the_seed_text(bundled: Engine, database_url: str) -> None:
    code, out, _ = run(NF, "--mode", "compact", "--database", database_url)
    assert code == 0
    assert out == (GOLDEN / "compact_normalizing_flows.txt").read_text(encoding="utf-8")


def test_json_and_markdown_and_question(bundled: Engine, database_url: str) -> None:
    code, out, _ = run(NF, "--format", "json", "--question", "Why?", "--database", database_url)
    assert code == 0
    body = json.loads(out)
    assert body["question"]["text"] == "Why?" and body["messages"][1]["role"] == "user"
    code, out, _ = run(NF, "--format", "markdown", "--database", database_url)
    assert code == 0 and "**Evidence to inspect:**" in out


def test_the_database_falls_back_to_the_environment(bundled: Engine, database_url: str) -> None:
    result = CliRunner().invoke(
        prompt_command, [NF, "--mode", "compact"], env={"READINGROOM_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0 and result.stdout.startswith("I am working in")


def test_errors_are_one_line_and_exit_non_zero(
    bundled: Engine, database_url: str, tmp_path: Path
) -> None:
    code, out, err = run("concept:generative-models/nope", "--database", database_url)
    assert (code, out) == (1, "")
    assert err == "error: no object has the key 'concept:generative-models/nope'\n"
    code, _, err = run("not-a-key", "--database", database_url)
    assert code == 1 and err.startswith("error: 'not-a-key' is not an object key")
    code, _, err = run(NF, "--mode", "long", "--database", database_url)
    assert code == 2 and "'long' is not one of 'compact', 'grounded'" in err
    missing = tmp_path / "missing.db"
    code, _, err = run(NF, "--database", f"sqlite:///{missing}")
    assert code == 1 and err.startswith(f"error: no database at {missing}")
    assert not missing.exists()


def test_an_old_key_is_followed_with_a_note(
    fixture_tree: Engine, database_url: str, content_copy: Path
) -> None:
    rename_claim(fixture_tree, content_copy)
    old, new = OLD_CLAIM, NEW_CLAIM
    code, out, err = run(old, "--database", database_url)
    assert code == 0
    assert err == f"note: '{old}' is now '{new}'\n"
    assert f"\nObject key: {new}\n" in out
