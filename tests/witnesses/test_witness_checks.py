"""Check evaluation on the host: stdout comparison, kernels, errors and the verdict."""

from __future__ import annotations

import pytest

from server.errors import InvalidInput
from server.witnesses.checks import (
    HarnessReport,
    check_names,
    compare_stdout,
    evaluate_checks,
    parse_checks,
    verdict,
)

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


def report(**variables: object) -> HarnessReport:
    return HarnessReport.model_validate({"exit_code": 0, "variables": variables})


def test_a_variable_is_compared_with_the_kernel() -> None:
    from server.kernels import build

    expected = build(AFFINE).log_prob([[1.0, 0.0], [0.0, 1.0]]).tolist()
    checks = parse_checks([variable_check()])
    good = report(log_px={"shape": [2], "data": expected, "dtype": "float64"})
    [result] = evaluate_checks(checks, "", good)
    assert result.ok and result.expected == expected
    bad = report(log_px={"shape": [2], "data": [expected[0], expected[1] + 1e-3]})
    [result] = evaluate_checks(checks, "", bad)
    assert not result.ok and "flat index 1" in (result.detail or "")


def test_a_variable_with_the_wrong_shape_fails() -> None:
    checks = parse_checks([variable_check(op="forward")])
    [result] = evaluate_checks(checks, "", report(log_px={"shape": [2], "data": [1.0, 2.0]}))
    assert not result.ok and "shape" in (result.detail or "")


def test_index_selects_one_row_of_the_kernel_result() -> None:
    checks = parse_checks([variable_check(op="forward", index=0)])
    [result] = evaluate_checks(checks, "", report(log_px={"shape": [2], "data": [2.0, 0.0]}))
    assert result.ok, result.detail


def test_a_missing_variable_or_a_broken_spec_fails_with_a_reason() -> None:
    checks = parse_checks([variable_check()])
    [result] = evaluate_checks(checks, "", report(log_px={"error": "the code does not define"}))
    assert not result.ok and "does not define" in (result.detail or "")
    [result] = evaluate_checks(checks, "", None)
    assert not result.ok and "no report" in (result.detail or "")
    broken = parse_checks([variable_check(spec={"type": "chain", "dim": 2, "layers": "x"})])
    [result] = evaluate_checks(broken, "", report())
    assert not result.ok and "kernel could not compute" in (result.detail or "")


def raised(exception: str, message: str) -> HarnessReport:
    names = [exception, f"builtins.{exception}", "Exception", "BaseException"]
    return HarnessReport.model_validate(
        {"exit_code": 1, "exception": {"type": exception, "names": names, "message": message}}
    )


def test_an_expected_error_must_match_type_and_message() -> None:
    checks = parse_checks([{"kind": "error", "exception": "ValueError", "match": "not invert"}])
    [ok] = evaluate_checks(checks, "", raised("ValueError", "A is not invertible"))
    assert ok.ok
    [wrong_type] = evaluate_checks(checks, "", raised("TypeError", "A is not invertible"))
    assert not wrong_type.ok
    [wrong_text] = evaluate_checks(checks, "", raised("ValueError", "shape mismatch"))
    assert not wrong_text.ok
    [silent] = evaluate_checks(checks, "", report())
    assert not silent.ok and "did not raise" in (silent.detail or "")
    base = parse_checks([{"kind": "error", "exception": "Exception"}])
    [by_base_class] = evaluate_checks(base, "", raised("ValueError", "x"))
    assert by_base_class.ok


def test_verdict() -> None:
    error_check = parse_checks([{"kind": "error", "exception": "ValueError"}])
    results = evaluate_checks(error_check, "", raised("ValueError", "x"))
    assert verdict(error_check, results, 1, raised("ValueError", "x")) == "passed"
    assert verdict([], [], 0, None) == "passed"
    assert verdict([], [], 2, None) == "error"
    stdout = parse_checks([{"kind": "stdout", "expected": "1"}])
    assert verdict(stdout, evaluate_checks(stdout, "2", None), 0, None) == "failed"
    assert verdict(stdout, evaluate_checks(stdout, "1", None), 1, None) == "error"
