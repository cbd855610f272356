"""Well-meant witnesses in the sandbox: statuses, checks end to end, isolation between runs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.witnesses import sandbox
from server.witnesses.sandbox import RUN_NICENESS, probe_confinement, run_in_sandbox, run_many

from .conftest import LIMITS, leftover_processes

pytestmark = pytest.mark.sandbox

AFFINE = {
    "type": "chain",
    "dim": 2,
    "base": {"type": "normal"},
    "layers": [{"type": "affine", "A": [[1.2, 0.3], [0.1, 0.9]], "b": [0.5, -0.2]}],
}
LINEAR_FLOW = """
import numpy as np

A = np.array([[1.2, 0.3], [0.1, 0.9]])
b = np.array([0.5, -0.2])

def f(z):
    return z @ A.T + b

def f_inv(x):
    return (x - b) @ np.linalg.inv(A).T

def f_logdet(z):
    return np.full(len(z), np.log(abs(np.linalg.det(A))))

def log_px_fn(x):
    z = f_inv(x)
    return -0.5 * (z**2).sum(1) - np.log(2 * np.pi) - np.log(abs(np.linalg.det(A)))

log_px = log_px_fn(np.array([[1.0, 0.0]]))
print("det(A):", round(np.linalg.det(A), 4))
print(log_px)
"""
POINTS = [[0.1, 0.2], [1.0, -0.5], [-2.0, 0.3]]
LINEAR_FLOW_CHECKS: list[dict[str, Any]] = [
    {"kind": "stdout", "expected": "det(A): 1.05\n[-1.97201870]", "tolerance": 1e-6},
    {
        "kind": "variable",
        "name": "log_px",
        "kernel": {"spec": AFFINE, "op": "log_prob", "input": [[1.0, 0.0]]},
    },
    {"kind": "invariant", "invariant": "round-trip", "forward": "f", "inverse": "f_inv",
     "points": POINTS},
    {"kind": "invariant", "invariant": "logdet-jacobian", "forward": "f", "logdet": "f_logdet",
     "points": POINTS},
    {"kind": "invariant", "invariant": "normalisation", "log_density": "log_px_fn",
     "box": [[-8, 8], [-8, 8]], "resolution": 400, "tolerance": 1e-3},
]  # fmt: skip


@pytest.fixture(autouse=True)
def _confined(confined: None) -> None:
    pass


def run(code: str, checks: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
    return run_in_sandbox(code, checks=checks, timeout_s=kw.pop("timeout_s", 10), limits=LIMITS)


def test_a_bare_file_passes_when_it_exits_zero() -> None:
    result = run("print('hello')")
    assert (result.status, result.exit_code, result.stdout) == ("passed", 0, "hello\n")
    assert result.checks == [] and result.confined and result.signal is None


def test_a_bare_file_that_exits_non_zero_is_an_error() -> None:
    result = run("import sys\nsys.exit(3)")
    assert (result.status, result.exit_code, result.signal) == ("error", 3, None)


def test_exit_139_is_an_exit_code_not_a_segfault() -> None:
    result = run("raise SystemExit(139)")
    assert (result.status, result.exit_code, result.signal) == ("error", 139, None)


def test_the_linear_flow_witness_passes_every_kind_of_check() -> None:
    result = run(LINEAR_FLOW, LINEAR_FLOW_CHECKS)
    assert result.status == "passed", result.checks
    assert [c.name for c in result.checks] == [
        "stdout",
        "variable log_px",
        "invariant round-trip",
        "invariant logdet-jacobian",
        "invariant normalisation",
    ]
    assert all(c.ok for c in result.checks)


def test_wrong_maths_fails_the_invariants_and_the_kernel_comparison() -> None:
    wrong = LINEAR_FLOW.replace("np.log(abs(np.linalg.det(A)))", "0.0")
    wrong = wrong.replace("np.linalg.inv(A).T", "A.T")
    result = run(wrong, LINEAR_FLOW_CHECKS)
    assert result.status == "failed"
    failed = {c.name for c in result.checks if not c.ok}
    assert failed == {
        "stdout",
        "variable log_px",
        "invariant round-trip",
        "invariant logdet-jacobian",
        "invariant normalisation",
    }
    assert all(c.detail for c in result.checks)


def test_an_expected_error_passes_and_a_missing_one_fails() -> None:
    check = [{"kind": "error", "exception": "ValueError", "match": "not invertible"}]
    raised = run("raise ValueError('A is not invertible')", check)
    assert raised.status == "passed" and raised.exit_code == 1
    assert "ValueError: A is not invertible" in raised.stderr
    assert run("x = 1", check).status == "failed"
    other = run("raise TypeError('A is not invertible')", check)
    assert other.status == "failed"
    assert other.checks[0].detail == "raised TypeError, not ValueError"


def test_an_unexpected_exception_is_an_error_with_its_traceback() -> None:
    result = run("def f():\n    return 1 / 0\nf()")
    assert result.status == "error"
    assert 'File "/sandbox/run/witness.py", line 2, in f' in result.stderr
    assert "harness" not in result.stderr


def test_checks_need_the_report_the_code_cut_short() -> None:
    result = run("import os\nx = 1\nos._exit(0)", [LINEAR_FLOW_CHECKS[1]])
    assert result.status == "failed"
    assert result.message == "the run ended before its checks could be evaluated"


def test_an_oversized_raw_output_is_refused_without_keeping_it() -> None:
    code = (
        "import json, os\n"
        "fd = json.load(open('/sandbox/run/job.json'))['raw_fd']\n"
        "os.write(fd, b'RRRAW1\\n' + b' ' * (2 << 20))\n"
        "os._exit(0)\n"
    )
    result = run(code, [LINEAR_FLOW_CHECKS[1]])
    assert result.status == "failed"
    assert "larger than" in (result.message or "")


def test_main_guard_runs_and_output_before_a_timeout_is_kept() -> None:
    result = run("if __name__ == '__main__':\n    print('started')\n    while True: pass",
                 timeout_s=1)  # fmt: skip
    assert result.status == "timeout"
    assert result.stdout == "started\n"


def test_runs_do_not_see_each_others_scratch() -> None:
    writer = "import time\nopen('/tmp/mine', 'w').write('x')\ntime.sleep(1)\n"
    reader = "import os, time\ntime.sleep(0.3)\nprint(sorted(os.listdir('/tmp')))\n"
    results = run_many([(writer, None, 10), (reader, None, 10)], workers=2, limits=LIMITS)
    assert [r.status for r in results] == ["passed", "passed"]
    assert results[1].stdout == "[]\n"


def test_run_many_keeps_the_order_of_the_jobs() -> None:
    jobs = [(f"print({i})", None, 10.0) for i in range(6)]
    results = run_many(jobs, workers=3, limits=LIMITS)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
    assert leftover_processes() == []


def test_the_sandbox_runs_unprivileged_without_network_or_host_files() -> None:
    code = (
        "import os, socket\n"
        "print(os.getuid() != 0, sorted(n for _, n in socket.if_nameindex()))\n"
        "print(sorted(os.listdir('/')))\n"
        "print(os.path.exists('/root/.ssh'), os.path.exists('/home'), os.path.exists('/work'))\n"
    )
    result = run(code)
    assert result.status == "passed", result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "True ['lo']"
    assert "'sandbox'" in lines[1] and "'home'" not in lines[1]
    assert lines[2] == "False False False"


@pytest.fixture
def fake_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A bwrap that cannot create namespaces, as in an unprivileged container."""
    tool = tmp_path / "bwrap"
    tool.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    try:
        yield
    finally:
        monkeypatch.undo()
        assert probe_confinement(refresh=True).available


def test_a_sandbox_that_cannot_start_refuses_to_run_witnesses(fake_bwrap: None) -> None:
    status = probe_confinement(refresh=True)
    assert not status.available
    assert "No permissions to create new namespace" in status.message
    assert "--unsafe-no-sandbox" in status.message
    result = run("print('should not run')")
    assert result.status == "sandbox-unavailable"
    assert result.message == status.message and result.stdout == ""


def test_a_missing_bwrap_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = sandbox.shutil.which
    monkeypatch.setattr(
        sandbox.shutil, "which", lambda name: None if name == "bwrap" else real_which(name)
    )
    try:
        status = probe_confinement(refresh=True)
        assert not status.available
        assert status.missing == ["bubblewrap (bwrap): install the Debian package 'bubblewrap'"]
        assert run("print(1)").status == "sandbox-unavailable"
    finally:
        monkeypatch.undo()
        assert probe_confinement(refresh=True).available


def test_a_syntax_error_is_an_error_with_its_location() -> None:
    result = run("x = (1,\n")
    assert result.status == "error"
    assert "SyntaxError" in result.stderr and "witness.py" in result.stderr


def test_exiting_from_inside_a_checked_function_fails_that_check_only() -> None:
    code = "import sys\ndef f(x):\n    sys.exit(0)\ndef g(x):\n    return x\n"
    check = {"kind": "invariant", "invariant": "round-trip", "forward": "f", "inverse": "g",
             "points": [[0.0]]}  # fmt: skip
    result = run(code, [check])
    assert result.status == "failed"
    assert result.checks[0].detail == "SystemExit: 0"


def test_closing_every_descriptor_loses_the_report_not_the_exit_status() -> None:
    result = run("import os\nos.closerange(3, 1024)\nx = 1\n", [LINEAR_FLOW_CHECKS[1]])
    assert result.status == "failed" and result.exit_code == 0
    assert result.message == "the run ended before its checks could be evaluated"


def test_a_run_yields_the_cpu_to_the_server(confined: None) -> None:
    """Runs (and their judges) are niced, so a busy server's requests come first."""
    code = "import os\nprint(os.getpriority(os.PRIO_PROCESS, 0))\n"
    result = run_in_sandbox(code, timeout_s=10)
    assert result.status == "passed", result
    assert int(result.stdout) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + RUN_NICENESS)


def test_background_runs_yield_to_users_runs(confined: None) -> None:
    """The start-up check's runs go at the lowest priority, below users' runs."""
    from server.witnesses.sandbox import BACKGROUND_NICENESS
    from server.witnesses.service import CheckJob, run_jobs

    code = "import os\nprint(os.getpriority(os.PRIO_PROCESS, 0))\n"
    job = CheckJob("witness:a/b/c", code, [], 10.0, "key")
    [(_, background)] = run_jobs([job], workers=1, background=True)
    [(_, user)] = run_jobs([job], workers=1)
    assert background.status == user.status == "passed", (background, user)
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert int(background.stdout) == min(19, base + BACKGROUND_NICENESS)
    assert int(user.stdout) == min(19, base + RUN_NICENESS)
    if base + RUN_NICENESS < 19:  # (a test run already at nice 9 or more cannot tell them apart)
        assert int(background.stdout) > int(user.stdout)


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no autogroup scheduling")
def test_a_runs_session_is_niced_as_the_run_is(confined: None) -> None:
    """bwrap starts a run in a session of its own; under autogroup scheduling niceness only
    orders processes within a session, so the run's session carries the run's niceness."""
    from server.witnesses.sandbox import BACKGROUND_NICENESS
    from server.witnesses.service import CheckJob, run_jobs

    code = "print(open('/proc/self/autogroup').read().split()[-1])\n"
    job = CheckJob("witness:a/b/c", code, [], 10.0, "key")
    [(_, result)] = run_jobs([job], workers=1, background=True)
    assert result.status == "passed", result
    assert int(result.stdout) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICENESS)
