"""``readingroom witness run FILE.py [--timeout S] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.witnesses.cli import printable, witness_group

from .conftest import HOSTILE

HOSTILE_ESCAPES = HOSTILE / "escape_sequences.py"

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


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)
HOSTILE_CHECKS = {
    "alias bomb": (BOMB.encode(), ":", "alias expansion is over the limit"),
    "nested 900 deep": (b"- kind: stdout\n  expected: " + b"[" * 900 + b"]" * 900 + b"\n",
                        ":2:", "nests deeper than the limit"),
    "invalid UTF-8": (b"- kind: stdout\n  expected: \xff\xfe\n", ":2:", "is not valid UTF-8"),
    "over the size cap": (b"# " + b"x" * (600 * 1024) + b"\n", ":1:", "over the size limit"),
    "malformed": (b"- kind: stdout\n  expected: [unclosed\n", ":", "malformed YAML"),
    "not a list": (b"kind: stdout\n", ":1:", "expected a list of checks"),
    "controls in a problem": (b'- kind: "\\e[2J"\n  expected: x\n', "", "\\x1b[2J"),
}  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE_CHECKS, ids=list(HOSTILE_CHECKS))
def test_a_checks_file_is_loaded_with_the_content_bounds(tmp_path: Path, case: str) -> None:
    data, where, message = HOSTILE_CHECKS[case]
    script = tmp_path / "w.py"
    script.write_text("print('never run')\n")
    checks = tmp_path / "checks.yaml"
    checks.write_bytes(data)
    result = CliRunner().invoke(witness_group, ["run", str(script), "--checks", str(checks)])
    assert result.exit_code != 0, result.output
    assert message in result.output, result.output
    if where:
        assert f"{checks}{where}" in result.output
    assert "never run" not in result.output
    assert "\x1b" not in result.output and "Traceback" not in result.output


def test_a_checks_file_named_by_a_symlink_is_read(tmp_path: Path) -> None:
    script = tmp_path / "w.py"
    script.write_text("print(2 + 2)\n")
    (tmp_path / "real.yaml").write_text("- kind: stdout\n  expected: '4'\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    code, output = invoke(str(script), "--checks", str(tmp_path / "link.yaml"))
    assert code == 0, output


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


RAW_CONTROLS = ("\x1b", "\r", "\x07", "\x9b", "\x00", "\x7f", "\u202e")


def test_witness_output_reaches_the_terminal_with_controls_escaped(tmp_path: Path) -> None:
    script = tmp_path / "w.py"
    script.write_text(HOSTILE_ESCAPES.read_text(encoding="utf-8"), encoding="utf-8")
    code, output = invoke(str(script))
    assert code == 1
    assert not any(raw in output for raw in RAW_CONTROLS), repr(output)
    assert "\\x1b[2J\\x1b[31mred\\x1b[0m \\x1b]0;window title\\x07 over\\rwritten" in output
    assert "\\x9b31m tab\tkept" in output  # tabs and newlines stay as they are
    assert "\\u202eevil\\u202c \\x00nul \\x7fdel" in output
    assert "\\x1b[1mbold exit\\x1b[0m" in output
    _, as_json = invoke(str(script), "--json")  # JSON keeps the exact output
    assert json.loads(as_json)["stdout"].startswith("\x1b[2J\x1b[31mred")


def test_printable_escapes_only_controls() -> None:
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("é ∑ 中") == "é ∑ 中"
    assert printable("\x1b[0m\r\x85\u2066") == "\\x1b[0m\\r\\x85\\u2066"
