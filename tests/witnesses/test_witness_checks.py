"""The judge, in-process: stdout comparison, kernels, invariants, errors and the verdict."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from server.errors import InvalidInput
from server.witnesses.checks import as_plain, check_names, compare_stdout, parse_checks
from server.witnesses.judge import judge, plan

from .rawout import raised, raw_output

AFFINE = {
    "type": "chain",
    "dim": 2,
    "base": {"type": "normal"},
    "layers": [{"type": "affine", "A": [[2.0, 0.0], [0.0, 1.0]], "b": [0.0, 0.0]}],
}


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("det(A): 1.05", "det(A): 1.0500000001"),
        ("[0.5 0.222]", "[0.5   0.222]"),
        ("[[1. 0.]\n [0. 1.]]", "[[1.0 0.0]\n [0.0 1.0]]\n"),
        ("log p = -2.5e-01", "log p = -0.25"),
        ("values: nan inf -inf", "values: nan inf -inf"),
        ("float64 x2", "float64  x2"),
        ("ends.\n\n", "ends."),
    ],
)
def test_stdout_agrees_within_tolerance(expected: str, actual: str) -> None:
    assert compare_stdout(expected, actual, 1e-6) is None


@pytest.mark.parametrize(
    ("expected", "actual", "why"),
    [
        ("det(A): 1.05", "det(A): 1.06", "line 1: expected 'det(A): 1.05', got 'det(A): 1.06'"),
        ("a\nb", "a\nc", "line 2:"),
        ("a\nb", "a", "expected 2 lines, got 1"),
        ("[0.5 0.2]", "[0.5 0.2 0.1]", "line 1:"),
        ("det: 1", "det = 1", "line 1:"),
        ("nan", "1.0", "line 1:"),
        ("float64", "float32", "line 1:"),
    ],
)
def test_stdout_differences_name_the_line(expected: str, actual: str, why: str) -> None:
    difference = compare_stdout(expected, actual, 1e-3)
    assert difference is not None and difference.startswith(why)


def test_tolerance_is_relative_for_large_numbers() -> None:
    assert compare_stdout("1000000.0", "1000000.5", 1e-6) is None
    assert compare_stdout("1.0", "1.5", 1e-6) is not None


def test_invalid_checks_name_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_checks([{"kind": "stdout", "expected": "x", "tolerance": -1}])
    assert any("tolerance" in str(detail) for detail in caught.value.details)
    with pytest.raises(InvalidInput):
        parse_checks([{"kind": "invariant", "invariant": "round-trip", "forward": "f"}])


def test_check_names_are_unique_and_readable() -> None:
    checks = parse_checks(
        [
            {"kind": "stdout", "expected": ""},
            {"kind": "stdout", "expected": ""},
            {"kind": "error", "exception": "ValueError"},
        ]
    )
    assert check_names(checks) == ["stdout", "stdout #2", "error ValueError"]


def variable_check(name: str = "log_px", **kernel: object) -> dict[str, object]:
    call = {"spec": AFFINE, "op": "log_prob", "input": [[1.0, 0.0], [0.0, 1.0]], **kernel}
    return {"kind": "variable", "name": name, "kernel": call, "tolerance": 1e-9}


def judged(
    checks: list[dict[str, Any]], raw: bytes | None, stdout: str = "", exit_code: int = 0
) -> dict[str, Any]:
    return judge(as_plain(parse_checks(checks)), exit_code, stdout, raw)


def test_a_variable_is_compared_with_the_kernel() -> None:
    from server.kernels import build

    expected = build(AFFINE).log_prob([[1.0, 0.0], [0.0, 1.0]]).tolist()
    good = judged([variable_check()], raw_output({"0": expected}))
    assert good["status"] == "passed" and good["checks"][0]["expected"] == expected
    bad = judged([variable_check()], raw_output({"0": [expected[0], expected[1] + 1e-3]}))
    assert bad["status"] == "failed"
    assert "flat index 1" in bad["checks"][0]["detail"]


def test_a_variable_with_the_wrong_shape_fails() -> None:
    answer = judged([variable_check(op="forward")], raw_output({"0": [1.0, 2.0]}))
    assert answer["status"] == "failed" and "shape" in answer["checks"][0]["detail"]


def test_index_selects_one_row_of_the_kernel_result() -> None:
    answer = judged([variable_check(op="forward", index=0)], raw_output({"0": [2.0, 0.0]}))
    assert answer["status"] == "passed", answer


def test_a_missing_variable_or_a_broken_spec_fails_with_a_reason() -> None:
    missing = judged([variable_check()], raw_output(errors={"0": "the code does not define"}))
    assert "does not define" in missing["checks"][0]["detail"]
    empty = judged([variable_check()], b"")
    assert empty["status"] == "failed"
    assert empty["message"] == "the run ended before its checks could be evaluated"
    broken = variable_check(spec={"type": "chain", "dim": 2, "layers": "x"})
    answer = judged([broken], raw_output({"0": [0.0, 0.0]}))
    assert "kernel could not compute" in answer["checks"][0]["detail"]


def test_an_expected_error_must_match_type_and_message() -> None:
    checks = [{"kind": "error", "exception": "ValueError", "match": "not invert"}]

    def status(exception: dict[str, Any] | None, exit_code: int = 1) -> str:
        raw = raw_output(exit_code=exit_code, exception=exception)
        return str(judged(checks, raw, exit_code=exit_code)["status"])

    assert status(raised("ValueError", "A is not invertible")) == "passed"
    assert status(raised("TypeError", "A is not invertible")) == "failed"
    assert status(raised("ValueError", "shape mismatch")) == "failed"
    assert status(None, exit_code=0) == "failed"
    # An exception claimed by a run that exited 0 was never raised.
    assert status(raised("ValueError", "A is not invertible"), exit_code=0) == "failed"
    base = [{"kind": "error", "exception": "Exception"}]
    raw = raw_output(exit_code=1, exception=raised("ValueError", "x"))
    assert judged(base, raw, exit_code=1)["status"] == "passed"


def test_the_verdict() -> None:
    assert judged([], raw_output())["status"] == "passed"
    assert judged([], raw_output(exit_code=2), exit_code=2)["status"] == "error"
    stdout = [{"kind": "stdout", "expected": "1"}]
    assert judged(stdout, raw_output(), stdout="2")["status"] == "failed"
    assert judged(stdout, raw_output(), stdout="1")["status"] == "passed"
    assert judged(stdout, raw_output(exit_code=1), stdout="1", exit_code=1)["status"] == "error"


LINEAR = np.array([[1.2, 0.3], [0.1, 0.9]])
POINTS = [[0.1, 0.2], [1.0, -0.5], [-2.0, 0.3]]


def answers_for(checks: list[dict[str, Any]], *, wrong: bool = False) -> bytes:
    """The raw output of a witness whose forward is x @ LINEAR.T (its inverse wrong if asked)."""
    values: dict[str, Any] = {}
    inverse = LINEAR.T if wrong else np.linalg.inv(LINEAR).T
    logdet = 0.0 if wrong else float(np.log(abs(np.linalg.det(LINEAR))))
    for request in plan(as_plain(parse_checks(checks)))[0]:
        if request["op"] == "call" and request["id"].endswith(".logdet"):
            values[request["id"]] = np.full(len(request["points"]), logdet)
        elif request["op"] == "call":
            values[request["id"]] = np.asarray(request["points"]) @ LINEAR.T
        elif request["op"] == "call-at":
            values[request["id"]] = values[request["at"]] @ inverse
        elif request["op"] == "grid":
            grid = np.stack(np.meshgrid(*map(np.asarray, request["axes"]), indexing="ij"), -1)
            z = grid.reshape(-1, 2) @ inverse
            log_p = -0.5 * (z**2).sum(1) - np.log(2 * np.pi)
            values[request["id"]] = log_p - (0.0 if wrong else logdet)
    return raw_output(values)


INVARIANTS: list[dict[str, Any]] = [
    {"kind": "invariant", "invariant": "round-trip", "forward": "f", "inverse": "g",
     "points": POINTS},
    {"kind": "invariant", "invariant": "logdet-jacobian", "forward": "f", "logdet": "ld",
     "points": POINTS},
    {"kind": "invariant", "invariant": "normalisation", "log_density": "p",
     "box": [[-8, 8], [-8, 8]], "resolution": 200, "tolerance": 1e-3},
]  # fmt: skip


def test_invariants_are_computed_by_the_judge_from_values_at_its_own_points() -> None:
    answer = judged(INVARIANTS, answers_for(INVARIANTS))
    assert answer["status"] == "passed", answer["checks"]
    wrong = judged(INVARIANTS, answers_for(INVARIANTS, wrong=True))
    assert [c["ok"] for c in wrong["checks"]] == [False, False, False]
    assert all(c["detail"] for c in wrong["checks"])


def test_the_judge_picks_the_perturbed_points_and_the_grid() -> None:
    requests, _ = plan(as_plain(parse_checks(INVARIANTS)))
    by_id = {r["id"]: r for r in requests}
    assert len(by_id["1.images"]["points"]) == len(POINTS) * 4  # x ± h e_j, j = 1, 2
    assert by_id["1.logdet"]["points"] == POINTS
    axes = by_id["2.values"]["axes"]
    assert [len(axis) for axis in axes] == [200, 200] and axes[0][0] == -8 + 16 / 400


def test_an_oversized_grid_is_refused_before_the_run() -> None:
    big = {**INVARIANTS[2], "box": [[0, 1]] * 3, "resolution": 2000}
    requests, unplanned = plan(as_plain(parse_checks([big])))
    assert requests == [] and "more than" in unplanned[0]
    answer = judged([big], raw_output())
    assert answer["status"] == "failed" and "more than" in answer["checks"][0]["detail"]


@pytest.mark.parametrize("length", [27, 9_000])
def test_a_catastrophic_pattern_is_matched_in_linear_time(length: int) -> None:
    checks = [{"kind": "error", "exception": "ValueError", "match": "(a+)+$"}]
    message = "a" * length + "b"
    raw = raw_output(exit_code=1, exception=raised("ValueError", message))
    started = time.monotonic()
    answer = judged(checks, raw, exit_code=1)
    assert time.monotonic() - started < 5  # backtracking takes seconds at 27 and forever after
    assert answer["status"] == "failed"
    assert "does not match" in answer["checks"][0]["detail"]
    matching = raw_output(exit_code=1, exception=raised("ValueError", "aaaa"))
    assert judged(checks, matching, exit_code=1)["status"] == "passed"


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<=x)y", r"(?!no)", "x" * 2001])
def test_patterns_re2_cannot_match_in_linear_time_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_checks([{"kind": "error", "exception": "ValueError", "match": pattern}])
    [detail] = caught.value.details
    assert "match" in detail and ("RE2" in detail or "2000" in detail)
