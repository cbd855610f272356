"""Checks of a witness run, evaluated on the host (content/README.md, "witnesses").

- ``stdout``: compared line by line; text must match up to whitespace, numbers (including
  numpy's array prints such as ``[0.5   0.222]``) must agree within the tolerance.
- ``variable``: a variable the code leaves, read back from the harness report, against what
  ``server.kernels.build(spec)`` computes on the host for the same input.
- ``invariant``: evaluated by the harness inside the sandbox; here only read back.
- ``error``: the code must raise that exception (or a subclass) with a message that
  ``re.search`` finds ``match`` in.

"Within tolerance t" means ``|actual - expected| <= max(t, t * max(|actual|, |expected|))``:
absolute for small numbers, relative for large ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from schemas.content import Check, ErrorCheck, InvariantCheck, StdoutCheck, VariableCheck
from server.errors import InvalidInput
from server.witnesses.result import CheckResult, RunStatus

_CHECKS = TypeAdapter(list[Check])
SHOWN_TEXT = 4_000  # characters of stdout echoed in a stdout check's entry
SHOWN_ELEMENTS = 1_000  # array elements echoed in a variable check's entry
NUMBER = re.compile(
    r"(?<![A-Za-z_0-9.])[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|inf|nan)(?![A-Za-z_0-9])"
)


def parse_checks(raw: Sequence[dict[str, Any]] | None) -> list[Check]:
    """Validate check dicts as written in content; errors name the check and the field."""
    try:
        return _CHECKS.validate_python(list(raw or []))
    except ValidationError as error:
        details = [
            f"checks[{'.'.join(str(p) for p in e['loc'])}]: {e['msg']}" for e in error.errors()
        ]
        raise InvalidInput("invalid witness checks", details) from None


def check_names(checks: Sequence[Check]) -> list[str]:
    """Readable, unique names: ``stdout``, ``variable log_px``, ``invariant round-trip #2``."""
    names: list[str] = []
    for check in checks:
        match check:
            case StdoutCheck():
                base = "stdout"
            case VariableCheck():
                base = f"variable {check.name}"
            case InvariantCheck():
                base = f"invariant {check.invariant}"
            case ErrorCheck():
                base = f"error {check.exception}"
        name, count = base, 1
        while name in names:
            count += 1
            name = f"{base} #{count}"
        names.append(name)
    return names


def harness_job(checks: Sequence[Check]) -> dict[str, Any]:
    """What the in-sandbox harness must collect: variable names and invariant specs."""
    return {
        "variables": sorted({c.name for c in checks if isinstance(c, VariableCheck)}),
        "invariants": [c.model_dump() for c in checks if isinstance(c, InvariantCheck)],
    }


class ReportedException(BaseModel):
    type: str = Field(max_length=500)
    names: list[str] = Field(max_length=200)
    message: str = Field(max_length=10_000)


class ReportedInvariant(BaseModel):
    ok: bool
    expected: Any = None
    actual: Any = None
    detail: str | None = Field(default=None, max_length=10_000)


class HarnessReport(BaseModel):
    """The harness's report: untrusted (the witness can forge it), so strictly shaped."""

    model_config = ConfigDict(extra="ignore")

    exit_code: int
    exception: ReportedException | None = None
    variables: dict[str, dict[str, Any]] = Field(default_factory=dict)
    invariants: list[ReportedInvariant] = Field(default_factory=list)


def within(actual: float, expected: float, tolerance: float) -> bool:
    if math.isnan(actual) or math.isnan(expected):
        return math.isnan(actual) and math.isnan(expected)
    return math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance)


def _split_line(line: str) -> tuple[list[str], list[float]]:
    parts = NUMBER.split(line)
    numbers = [float(m.group(0)) for m in NUMBER.finditer(line)]
    return ["".join(part.split()) for part in parts], numbers


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def compare_stdout(expected: str, actual: str, tolerance: float) -> str | None:
    """None when they agree, else the first difference in one line."""
    want, got = _lines(expected), _lines(actual)
    for number, (line_want, line_got) in enumerate(zip(want, got, strict=False), start=1):
        text_want, numbers_want = _split_line(line_want)
        text_got, numbers_got = _split_line(line_got)
        same = text_want == text_got and len(numbers_want) == len(numbers_got)
        pairs = zip(numbers_got, numbers_want, strict=False)
        if same and all(within(a, e, tolerance) for a, e in pairs):
            continue
        return f"line {number}: expected {line_want!r}, got {line_got!r}"
    if len(want) != len(got):
        return f"expected {len(want)} lines, got {len(got)}"
    return None


def _stdout_check(check: StdoutCheck, name: str, stdout: str) -> CheckResult:
    difference = compare_stdout(check.expected, stdout, check.tolerance)
    return CheckResult(
        name=name,
        ok=difference is None,
        expected=check.expected,
        actual=stdout[:SHOWN_TEXT],
        tolerance=check.tolerance,
        detail=difference,
    )


def kernel_value(check: VariableCheck) -> np.ndarray[Any, Any]:
    """What the embedded kernel computes for the check's spec, op and input."""
    from server.kernels import build
    from server.kernels.cost import check_kernel_call

    check_kernel_call(check.kernel.spec, check.kernel.op, check.kernel.input)
    flow = build(check.kernel.spec)
    points = np.asarray(check.kernel.input, dtype=np.float64)
    op = check.kernel.op
    if op == "log_prob":
        value = flow.log_prob(points)
    elif op in ("forward", "forward_logdet"):
        value = flow.forward(points)[0 if op == "forward" else 1]
    else:
        value = flow.inverse(points)[0 if op == "inverse" else 1]
    result = np.asarray(value, dtype=np.float64)
    if check.kernel.index is not None:
        result = np.asarray(result[check.kernel.index])
    return result


def _shown(array: np.ndarray[Any, Any]) -> Any:
    if array.size > SHOWN_ELEMENTS:
        return f"array of shape {list(array.shape)}"
    return array.tolist()


def _variable_check(check: VariableCheck, name: str, report: HarnessReport | None) -> CheckResult:
    def fail(detail: str, expected: Any = None, actual: Any = None) -> CheckResult:
        return CheckResult(
            name=name,
            ok=False,
            expected=expected,
            actual=actual,
            tolerance=check.tolerance,
            detail=detail,
        )

    try:
        expected = kernel_value(check)
    except Exception as exc:
        return fail(f"the kernel could not compute the expected value: {exc}")
    if report is None:
        return fail("the run left no report to read the variable from", _shown(expected))
    reported = report.variables.get(check.name)
    if reported is None or "error" in reported:
        why = (reported or {}).get("error", f"'{check.name}' was not reported")
        return fail(str(why)[:2000], _shown(expected))
    try:
        actual = np.asarray(reported["data"], dtype=np.float64).reshape(reported["shape"])
    except (KeyError, TypeError, ValueError):
        return fail(f"'{check.name}' was reported in an unreadable form", _shown(expected))
    if np.squeeze(actual).shape != np.squeeze(expected).shape:
        return fail(
            f"'{check.name}' has shape {list(actual.shape)}, the kernel gives "
            f"{list(expected.shape)}",
            _shown(expected),
            _shown(actual),
        )
    actual = actual.reshape(expected.shape)
    close = np.isclose(actual, expected, rtol=check.tolerance, atol=check.tolerance)
    if bool(np.all(close)):
        return CheckResult(
            name=name,
            ok=True,
            expected=_shown(expected),
            actual=_shown(actual),
            tolerance=check.tolerance,
        )
    worst = int(np.argmax(np.abs(actual - expected).ravel()))
    detail = (
        f"'{check.name}' differs at flat index {worst}: "
        f"{actual.ravel()[worst]!r} vs kernel {expected.ravel()[worst]!r}"
    )
    return fail(detail, _shown(expected), _shown(actual))


def _error_check(check: ErrorCheck, name: str, report: HarnessReport | None) -> CheckResult:
    expected = check.exception + (f" matching {check.match!r}" if check.match else "")
    raised = report.exception if report else None
    if raised is None:
        return CheckResult(
            name=name,
            ok=False,
            expected=expected,
            actual=None,
            detail=f"the code did not raise {check.exception}",
        )
    actual = f"{raised.type}: {raised.message}"
    if check.exception not in raised.names:
        return CheckResult(
            name=name,
            ok=False,
            expected=expected,
            actual=actual,
            detail=f"raised {raised.type}, not {check.exception}",
        )
    if check.match is not None and not _message_matches(check.match, raised.message):
        return CheckResult(
            name=name,
            ok=False,
            expected=expected,
            actual=actual,
            detail=f"the message does not match {check.match!r}",
        )
    return CheckResult(name=name, ok=True, expected=expected, actual=actual)


def _message_matches(pattern: str, message: str) -> bool:
    try:
        return re.search(pattern, message) is not None
    except re.error:
        return pattern in message


def evaluate_checks(
    checks: Sequence[Check], stdout: str, report: HarnessReport | None
) -> list[CheckResult]:
    """One result per check, in the order the checks were written."""
    invariants = iter(report.invariants if report else [])
    results: list[CheckResult] = []
    for check, name in zip(checks, check_names(checks), strict=True):
        match check:
            case StdoutCheck():
                results.append(_stdout_check(check, name, stdout))
            case VariableCheck():
                results.append(_variable_check(check, name, report))
            case ErrorCheck():
                results.append(_error_check(check, name, report))
            case InvariantCheck():
                reported = next(invariants, None)
                if reported is None:
                    results.append(
                        CheckResult(
                            name=name,
                            ok=False,
                            tolerance=check.tolerance,
                            detail="the run left no result for this invariant",
                        )
                    )
                else:
                    results.append(
                        CheckResult(
                            name=name,
                            ok=reported.ok,
                            expected=reported.expected,
                            actual=reported.actual,
                            tolerance=check.tolerance,
                            detail=reported.detail,
                        )
                    )
    return results


def not_evaluated(checks: Sequence[Check], reason: str) -> list[CheckResult]:
    return [
        CheckResult(name=name, ok=False, detail=f"not evaluated: {reason}")
        for name in check_names(checks)
    ]


def verdict(
    checks: Sequence[Check],
    results: Sequence[CheckResult],
    exit_code: int | None,
    report: HarnessReport | None,
) -> RunStatus:
    """passed / failed / error for a run that ended on its own (no timeout, signal, overflow).

    A non-zero exit is an error, unless the code was expected to raise and did raise: then
    the ``error`` check decides.
    """
    raised = report is not None and report.exception is not None
    expects_error = any(isinstance(c, ErrorCheck) for c in checks)
    if exit_code != 0 and not (expects_error and raised):
        return "error"
    return "passed" if all(r.ok for r in results) else "failed"
