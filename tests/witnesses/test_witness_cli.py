"""``readingroom witness run FILE.py [--timeout S] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.witnesses.cli import witness_group

pytestmark = pytest.mark.sandbox


@pytest.fixture(autouse=True)
def _confined(confined: None) -> None:
    pass


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(witness_group, ["run", *args])
    return result.exit_code, result.output


def test_json_result_has_the_designed_fields(tmp_path: Path) -> None:
    script = tmp_path / "w.py"
    script.write_text("print(2 + 2)\n")
    code, output = invoke(str(script), "--json")
    assert code == 0
    result = json.loads(output)
    assert {"status", "stdout", "stderr", "exit_code", "signal", "duration_ms", "checks"} <= set(
        result
    )
    assert (result["status"], result["stdout"], result["exit_code"]) == ("passed", "4\n", 0)


def test_timeout_and_checks_options(tmp_path: Path) -> None:
    script = tmp_path / "w.py"
    script.write_text("print('det(A): 1.0501')\nwhile True: pass\n")
    code, output = invoke(str(script), "--timeout", "0.5", "--json")
    assert code == 1 and json.loads(output)["status"] == "timeout"
    script.write_text("print('det(A): 1.0501')\n")
    checks = tmp_path / "checks.yaml"
    checks.write_text(
        "checks:\n  - kind: stdout\n    expected: 'det(A): 1.05'\n    tolerance: 0.001\n"
    )
    code, output = invoke(str(script), "--checks", str(checks))
    assert code == 0 and output.startswith("passed in ")
    assert "ok   stdout" in output


def test_invalid_checks_print_an_error(tmp_path: Path) -> None:
    script = tmp_path / "w.py"
    script.write_text("x = 1\n")
    checks = tmp_path / "checks.yaml"
    checks.write_text("- kind: nonsense\n")
    result = CliRunner().invoke(witness_group, ["run", str(script), "--checks", str(checks)])
    assert result.exit_code == 1
    assert "error: invalid witness checks" in result.output


def test_unsafe_mode_is_named_and_runs_unconfined(tmp_path: Path) -> None:
    code, output = invoke("--help")
    assert "--unsafe-no-sandbox" in output and "UNSAFE" in output
    script = tmp_path / "w.py"
    script.write_text("import os\nprint(os.getuid())\n")
    code, output = invoke(str(script), "--unsafe-no-sandbox", "--json")
    result = json.loads(output)
    assert code == 0 and result["confined"] is False
    code, output = invoke(str(script))
    assert "WITHOUT the sandbox" not in output and code == 0
