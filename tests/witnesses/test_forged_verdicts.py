"""Witnesses with wrong maths that try to forge a pass: every one ends ``failed``.

Each fixture in ``fixtures/forge/`` is appended to the same wrong linear flow (its inverse is
the transpose, its log-det is 0, its density forgets the volume term) that prints exactly
the expected stdout. Whatever it does inside its own process (write the raw output or the
old report itself, patch numpy or builtins, rewrite the harness through its frames or its
modules, trace it, write after it from a thread or a child), the judge computes the
verdict from values alone, in a process the witness never reaches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.witnesses.sandbox import run_in_sandbox

from .conftest import LIMITS
from .test_sandbox_runs import LINEAR_FLOW, LINEAR_FLOW_CHECKS

pytestmark = pytest.mark.sandbox
FORGE = Path(__file__).resolve().parent / "fixtures" / "forge"
WRONG_FLOW = (
    LINEAR_FLOW.replace("np.log(abs(np.linalg.det(A)))", "0.0")
    .replace("np.linalg.inv(A).T", "A.T")
    .replace('print("det(A):", round(np.linalg.det(A), 4))\nprint(log_px)\n', "")
    + 'print("det(A): 1.05")\nprint("[-1.97201870]")\n'
)
FORGERS = sorted(path.stem for path in FORGE.glob("*.py"))
# Forgers that make up the answers themselves can make an invariant hold for some function
# (answering as if forward were the identity is consistent with a log-det of 0): an
# invariant checks the values handed back, not that they came from ``f``. The kernel
# comparison of a variable cannot be satisfied that way without the right numbers, and
# forgers that only tamper with the process get every check of the wrong maths failed.
UNFORGEABLE = {"variable log_px"}
MAKE_UP_ANSWERS = {"write_raw_fd", "frames", "shape_claims"}
WRONG_MATHS = {"variable log_px", "invariant logdet-jacobian", "invariant normalisation"}


@pytest.fixture(autouse=True)
def _confined(confined: None) -> None:
    pass


def run(code: str, checks: list[dict[str, Any]], unconfined: bool = False) -> Any:
    return run_in_sandbox(code, checks=checks, timeout_s=10, limits=LIMITS, unconfined=unconfined)


def test_the_wrong_flow_prints_the_expected_stdout_and_fails_the_rest() -> None:
    result = run(WRONG_FLOW, LINEAR_FLOW_CHECKS)
    assert result.status == "failed"
    assert {c.name for c in result.checks if c.ok} == {"stdout"}


def test_the_right_flow_passes() -> None:
    assert run(LINEAR_FLOW, LINEAR_FLOW_CHECKS).status == "passed"


@pytest.mark.parametrize("name", FORGERS)
def test_a_forged_pass_fails(name: str) -> None:
    code = WRONG_FLOW + "\n" + (FORGE / f"{name}.py").read_text(encoding="utf-8")
    result = run(code, LINEAR_FLOW_CHECKS)
    assert result.status == "failed", (result.status, result.message, result.stderr[-500:])
    failed = {c.name for c in result.checks if not c.ok}
    assert failed >= UNFORGEABLE, result.checks


@pytest.mark.parametrize("name", ["write_raw_fd", "frames", "late_writer", "atexit_rewrite"])
def test_a_forged_pass_fails_unconfined_too(name: str) -> None:
    """The judge, not the sandbox, makes the verdict honest: it holds without confinement."""
    code = WRONG_FLOW + "\n" + (FORGE / f"{name}.py").read_text(encoding="utf-8")
    code = code.replace("/sandbox/run/", "./../")  # the run directory, seen from scratch
    result = run(code, LINEAR_FLOW_CHECKS, unconfined=True)
    assert result.status == "failed", (result.status, result.message, result.stderr[-500:])
    assert {c.name for c in result.checks if not c.ok} >= UNFORGEABLE


def test_a_claimed_exception_with_a_clean_exit_is_not_a_raise() -> None:
    forged = (
        "import json, os, struct\n"
        "job = json.load(open('/sandbox/run/job.json'))\n"
        "exc = {'type': 'ValueError', 'names': ['ValueError', 'Exception'],\n"
        "       'message': 'A is not invertible'}\n"
        "m = json.dumps({'exit_code': 1, 'exception': exc, 'values': []}).encode()\n"
        "os.write(job['raw_fd'], b'RRRAW1\\n' + struct.pack('<Q', len(m)) + m)\n"
        "os._exit(0)\n"
    )
    check = [{"kind": "error", "exception": "ValueError", "match": "not invertible"}]
    result = run(forged, check)
    assert result.status == "failed"
    assert "exited 0" in (result.checks[0].detail or "")


def test_a_catastrophic_pattern_finishes_quickly_with_a_clear_result() -> None:
    check = [{"kind": "error", "exception": "ValueError", "match": "(a+)+$"}]
    result = run("raise ValueError('a' * 27 + 'b')", check)
    assert result.status == "failed"
    assert result.checks[0].detail == "the message does not match '(a+)+$'"
    assert result.duration_ms < 20_000
