"""The judge: decides a witness run from its raw outputs, in its own process.

Nothing the witness process can touch decides a verdict. Before a run, :func:`plan` turns the
checks into requests for the in-sandbox harness: the variables to hand back, and the points at
which to evaluate the witness's own functions (the judge picks them: the round trip's points,
the perturbed points of a central-difference Jacobian, the midpoint grid of a normalisation).
After the run, ``python -m server.witnesses.judge`` (a fresh process that never imports or runs
witness code, under its own CPU, memory and wall-time limits set by the host) reads:

    control length (8 bytes LE) + control JSON   (from the host: checks, exit code, problems)
    stdout length (8 bytes LE) + stdout bytes     (captured by the host from the pipe)
    the rest: the raw output the harness wrote    (hostile: see ``parse_raw``)

recomputes the plan from the checks, computes the kernel references, round trips,
finite-difference log-dets and integrals itself, compares stdout with tolerance and matches
regular expressions with RE2, and prints one JSON answer: the status (``passed``, ``failed``
or ``error``) and one result per check. A forged raw output can only pass by being right.

"Within tolerance t" means ``|actual - expected| <= max(t, t * max(|actual|, |expected|))``.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAGIC = b"RRRAW1\n"
JUDGE_NICENESS = 10  # as a run's own (sandbox.RUN_NICENESS)
MANIFEST_BYTES = 1 << 20  # the manifest part of a raw output
MAX_ELEMENTS = 1_000_000  # values of one variable
MAX_GRID_POINTS = 4_000_000
MAX_CALL_ELEMENTS = 4_000_000  # values one function call may be asked for
MAX_SHAPE_RANK = 32
FINITE_DIFFERENCE_STEP = 1e-5
SHOWN_TEXT = 4_000  # characters of stdout echoed in a stdout check's entry
SHOWN_ELEMENTS = 1_000  # array elements echoed in a check's entry
CONTROL_BYTES = 64 << 20
NUMBER = re.compile(
    r"(?<![A-Za-z_0-9.])[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|inf|nan)(?![A-Za-z_0-9])"
)

Check = dict[str, Any]
Result = dict[str, Any]


# ---------------------------------------------------------------------------------------
# Names and the plan (also used by the host, before the run: no hostile input here)


def check_names(checks: Sequence[Check]) -> list[str]:
    """Readable, unique names: ``stdout``, ``variable log_px``, ``invariant round-trip #2``."""
    names: list[str] = []
    for check in checks:
        kind = check["kind"]
        if kind == "variable":
            base = f"variable {check['name']}"
        elif kind == "invariant":
            base = f"invariant {check['invariant']}"
        elif kind == "error":
            base = f"error {check['exception']}"
        else:
            base = "stdout"
        name, count = base, 1
        while name in names:
            count += 1
            name = f"{base} #{count}"
        names.append(name)
    return names


class Unplannable(ValueError):
    """A check whose requests cannot be made (the check then fails with this reason)."""


def _points(check: Check) -> np.ndarray[Any, Any]:
    try:
        points = np.asarray(check["points"], dtype=np.float64)
    except (TypeError, ValueError):
        raise Unplannable("points must be a list of d-vectors") from None
    if points.ndim != 2:
        raise Unplannable("points must be a list of d-vectors")
    return points


def perturbed_points(points: np.ndarray[Any, Any]) -> tuple[Any, Any]:
    """Central-difference points x ± h e_j for every point, shape (n * 2d, d), and steps h."""
    n, d = points.shape
    steps = FINITE_DIFFERENCE_STEP * np.maximum(1.0, np.abs(points))  # (n, d)
    shifted = np.repeat(points[:, None, :], 2 * d, axis=1)  # (n, 2d, d)
    for j in range(d):
        shifted[:, 2 * j, j] += steps[:, j]
        shifted[:, 2 * j + 1, j] -= steps[:, j]
    return shifted.reshape(n * 2 * d, d), steps


def grid_axes(check: Check) -> tuple[list[np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    """Midpoints of each axis of the box, and the cell widths."""
    try:
        box = np.asarray(check["box"], dtype=np.float64)
    except (TypeError, ValueError):
        raise Unplannable("box must be a list of [low, high] pairs") from None
    if box.ndim != 2 or box.shape[1] != 2 or box.shape[0] == 0:
        raise Unplannable("box must be a list of [low, high] pairs")
    if not np.all(np.isfinite(box)) or not np.all(box[:, 1] > box[:, 0]):
        raise Unplannable("every box side must be a finite [low, high] with low < high")
    resolution = int(check["resolution"])
    if resolution ** box.shape[0] > MAX_GRID_POINTS:
        raise Unplannable(f"the grid would have more than {MAX_GRID_POINTS} points")
    widths = (box[:, 1] - box[:, 0]) / resolution
    axes = [
        low + (np.arange(resolution) + 0.5) * w for (low, _), w in zip(box, widths, strict=True)
    ]
    return axes, widths


def _capped(count: int) -> int:
    if count > MAX_CALL_ELEMENTS:
        raise Unplannable(f"the check asks for {count} values; at most {MAX_CALL_ELEMENTS}")
    return count


def _requests_for(index: int, check: Check) -> list[dict[str, Any]]:
    key = str(index)
    kind = check["kind"]
    if kind == "variable":
        try:
            size = int(np.asarray(check["kernel"]["input"], dtype=np.float64).size)
        except (TypeError, ValueError):
            size = 1
        bound = min(max(size, 1), MAX_ELEMENTS)
        return [{"id": key, "op": "variable", "name": check["name"], "max_elements": bound}]
    if kind != "invariant":
        return []
    invariant = check["invariant"]
    if invariant == "round-trip":
        points = _points(check)
        size = _capped(points.size)
        return [
            {"id": f"{key}.forward", "op": "call", "function": check["forward"],
             "points": points.tolist(), "max_elements": size},
            {"id": f"{key}.back", "op": "call-at", "function": check["inverse"],
             "at": f"{key}.forward", "max_elements": size},
        ]  # fmt: skip
    if invariant == "logdet-jacobian":
        points = _points(check)
        shifted, _ = perturbed_points(points)
        return [
            {"id": f"{key}.images", "op": "call", "function": check["forward"],
             "points": shifted.tolist(), "max_elements": _capped(shifted.size)},
            {"id": f"{key}.logdet", "op": "call", "function": check["logdet"],
             "points": points.tolist(), "max_elements": _capped(max(points.size, 1))},
        ]  # fmt: skip
    axes, _ = grid_axes(check)
    count = math.prod(len(axis) for axis in axes)
    return [
        {"id": f"{key}.values", "op": "grid", "function": check["log_density"],
         "axes": [axis.tolist() for axis in axes], "max_elements": _capped(count)},
    ]  # fmt: skip


def plan(checks: Sequence[Check]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The harness's requests, and why a check could not be planned (by check index)."""
    requests: list[dict[str, Any]] = []
    unplanned: dict[int, str] = {}
    for index, check in enumerate(checks):
        try:
            requests += _requests_for(index, check)
        except Unplannable as why:
            unplanned[index] = str(why)
    return requests, unplanned


def raw_output_cap(requests: Sequence[dict[str, Any]], allowance: int) -> int:
    """The most bytes a raw output answering ``requests`` can take, plus ``allowance``."""
    planned = sum(int(r["max_elements"]) for r in requests) * 8
    return len(MAGIC) + 8 + min(allowance, MANIFEST_BYTES) + planned


# ---------------------------------------------------------------------------------------
# The raw output: hostile bytes, parsed strictly


class RawOutputError(ValueError):
    """The raw output is not what the harness writes."""


@dataclass
class RawOutput:
    exit_code: int
    exception: dict[str, Any] | None
    values: dict[str, np.ndarray[Any, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _text(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str):
        raise RawOutputError(f"{what} is not a string")
    return value[:limit]


def _exception(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RawOutputError("the exception is not an object")
    names = value.get("names")
    if not isinstance(names, list) or len(names) > 200:
        raise RawOutputError("the exception's names are not a short list")
    return {
        "type": _text(value.get("type"), 500, "the exception type"),
        "names": [_text(name, 500, "an exception name") for name in names],
        "message": _text(value.get("message"), 10_000, "the exception message"),
    }


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > MAX_SHAPE_RANK:
        raise RawOutputError("a shape is not a short list")
    if not all(type(n) is int and 0 <= n <= MAX_CALL_ELEMENTS for n in value):
        raise RawOutputError("a shape holds something other than small non-negative integers")
    return tuple(value)


def parse_raw(data: bytes, requests: Sequence[dict[str, Any]]) -> RawOutput:
    """The harness's answers; raises RawOutputError for anything else.

    Only the ids that were asked for, each at most once, each within the size it was asked
    for, with a payload of exactly the announced length: no pickle, no nesting to speak of.
    """
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise RawOutputError("it does not start like a raw output")
    (length,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    if length > MANIFEST_BYTES or start + length > len(data):
        raise RawOutputError("its manifest length is out of bounds")
    try:
        manifest = json.loads(data[start : start + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RawOutputError("its manifest is not JSON") from None
    if not isinstance(manifest, dict):
        raise RawOutputError("its manifest is not an object")
    exit_code = manifest.get("exit_code")
    if type(exit_code) is not int:
        raise RawOutputError("the exit code is not an integer")
    raw = RawOutput(exit_code=exit_code, exception=_exception(manifest.get("exception")))
    asked = {r["id"]: int(r["max_elements"]) for r in requests}
    entries = manifest.get("values")
    if not isinstance(entries, list) or len(entries) > len(asked):
        raise RawOutputError("the values are not a list of what was asked for")
    payload = memoryview(data)[start + length :]
    offset = 0
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise RawOutputError("a value has no id")
        key = entry["id"]
        if key not in asked or key in raw.values or key in raw.errors:
            raise RawOutputError(f"the value {key[:40]!r} was not asked for, or came twice")
        if "error" in entry:
            raw.errors[key] = _text(entry["error"], 2000, "an error")
            continue
        shape = _shape(entry.get("shape"))
        count = math.prod(shape)
        if count > asked[key]:
            raise RawOutputError(f"the value {key!r} is larger than was asked for")
        end = offset + 8 * count
        if end > len(payload):
            raise RawOutputError("the payload is shorter than the manifest says")
        raw.values[key] = np.frombuffer(payload[offset:end], dtype="<f8").reshape(shape)
        offset = end
    if offset != len(payload):
        raise RawOutputError("the payload is longer than the manifest says")
    return raw


# ---------------------------------------------------------------------------------------
# Comparisons


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
    """None when they agree, else the first difference in one line.

    Lines are compared up to whitespace; numbers (including numpy's array prints such as
    ``[0.5   0.222]``) must agree within the tolerance.
    """
    want, got = _lines(expected), _lines(actual)
    for number, (line_want, line_got) in enumerate(zip(want, got, strict=False), start=1):
        text_want, numbers_want = _split_line(line_want)
        text_got, numbers_got = _split_line(line_got)
        same = text_want == text_got and len(numbers_want) == len(numbers_got)
        pairs = zip(numbers_got, numbers_want, strict=False)
        if same and all(within(a, e, tolerance) for a, e in pairs):
            continue
        return f"line {number}: expected {line_want[:200]!r}, got {line_got[:200]!r}"
    if len(want) != len(got):
        return f"expected {len(want)} lines, got {len(got)}"
    return None


def _close(actual: np.ndarray[Any, Any], expected: np.ndarray[Any, Any], tolerance: float) -> bool:
    return bool(np.all(np.isclose(actual, expected, rtol=tolerance, atol=tolerance)))


def _shown(array: np.ndarray[Any, Any]) -> Any:
    if array.size > SHOWN_ELEMENTS:
        return f"array of shape {list(array.shape)}"
    return array.tolist()


def _worst(difference: np.ndarray[Any, Any]) -> float:
    if difference.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isnan(difference), np.inf, np.abs(difference))
    return float(np.max(finite))


def kernel_value(check: Check) -> np.ndarray[Any, Any]:
    """What the embedded kernel computes for the check's spec, op and input."""
    from server.kernels import build
    from server.kernels.cost import check_kernel_call

    call = check["kernel"]
    check_kernel_call(call["spec"], call["op"], call["input"])  # refused before allocating
    flow = build(call["spec"])
    points = np.asarray(call["input"], dtype=np.float64)
    op = call["op"]
    if op == "log_prob":
        value = flow.log_prob(points)
    elif op in ("forward", "forward_logdet"):
        value = flow.forward(points)[0 if op == "forward" else 1]
    else:
        value = flow.inverse(points)[0 if op == "inverse" else 1]
    result = np.asarray(value, dtype=np.float64)
    if call.get("index") is not None:
        result = np.asarray(result[call["index"]])
    return result


# ---------------------------------------------------------------------------------------
# Judging one run


@dataclass
class Run:
    """What the judge knows of one run: the host's observations and the parsed raw output."""

    checks: Sequence[Check]
    exit_code: int | None
    stdout: str
    raw: RawOutput | None
    raw_problem: str | None


def _result(check: Check, name: str, ok: bool, **fields: Any) -> Result:
    entry: Result = {"name": name, "ok": ok, "expected": None, "actual": None, "detail": None}
    if check["kind"] != "error":
        entry["tolerance"] = check.get("tolerance")
    entry.update(fields)
    return entry


def _value(run: Run, key: str, what: str) -> np.ndarray[Any, Any]:
    """A requested value, or ValueError saying why it is not there."""
    if run.raw is None:
        raise ValueError(run.raw_problem or "the run left no raw output")
    if key in run.raw.errors:
        raise ValueError(run.raw.errors[key])
    if key not in run.raw.values:
        raise ValueError(f"{what} was not handed back")
    return run.raw.values[key]


def _stdout_check(check: Check, name: str, run: Run) -> Result:
    difference = compare_stdout(check["expected"], run.stdout, check["tolerance"])
    return _result(check, name, difference is None, expected=check["expected"],
                   actual=run.stdout[:SHOWN_TEXT], detail=difference)  # fmt: skip


def _variable_check(check: Check, name: str, run: Run, key: str) -> Result:
    try:
        expected = kernel_value(check)
    except Exception as exc:
        why = f"the kernel could not compute the expected value: {exc}"
        return _result(check, name, False, detail=why[:2000])
    try:
        actual = _value(run, key, f"'{check['name']}'")
    except ValueError as why:
        return _result(check, name, False, expected=_shown(expected), detail=str(why)[:2000])
    if np.squeeze(actual).shape != np.squeeze(expected).shape:
        return _result(
            check, name, False, expected=_shown(expected), actual=_shown(actual),
            detail=f"'{check['name']}' has shape {list(actual.shape)}, the kernel gives "
            f"{list(expected.shape)}",
        )  # fmt: skip
    actual = actual.reshape(expected.shape)
    if _close(actual, expected, check["tolerance"]):
        return _result(check, name, True, expected=_shown(expected), actual=_shown(actual))
    worst = int(np.argmax(np.nan_to_num(np.abs(actual - expected), nan=np.inf).ravel()))
    detail = (
        f"'{check['name']}' differs at flat index {worst}: "
        f"{actual.ravel()[worst]!r} vs kernel {expected.ravel()[worst]!r}"
    )
    return _result(check, name, False, expected=_shown(expected), actual=_shown(actual),
                   detail=detail)  # fmt: skip


def _round_trip(check: Check, name: str, run: Run, key: str) -> Result:
    points = _points(check)
    _value(run, f"{key}.forward", "forward(x)")  # its error, if it gave one, comes first
    back = _value(run, f"{key}.back", "inverse(forward(x))")
    if back.shape != points.shape:
        return _result(check, name, False, expected=0.0,
                       detail=f"inverse(forward(x)) has shape {list(back.shape)}, "
                       f"expected {list(points.shape)}")  # fmt: skip
    error = _worst(back - points)
    ok = _close(back, points, check["tolerance"])
    detail = None if ok else f"max |inverse(forward(x)) - x| = {error:.3g}"
    return _result(check, name, ok, expected=0.0, actual=error, detail=detail)


def _logdet_jacobian(check: Check, name: str, run: Run, key: str) -> Result:
    points = _points(check)
    n, d = points.shape
    _, steps = perturbed_points(points)
    images = _value(run, f"{key}.images", "forward at the perturbed points")
    claimed = _value(run, f"{key}.logdet", "logdet").reshape(-1)
    if images.size != n * 2 * d * d:
        return _result(check, name, False,
                       detail=f"forward gave {images.size} values at {n * 2 * d} points "
                       f"of dimension {d}; expected {n * 2 * d * d}")  # fmt: skip
    grid = images.reshape(n, 2 * d, d)
    jacobian = (grid[:, 0::2, :] - grid[:, 1::2, :]) / (2 * steps[:, :, None])
    # jacobian[i, j, k] = d f_k / d x_j: its determinant equals that of the transpose.
    with np.errstate(all="ignore"):
        numeric = np.linalg.slogdet(jacobian)[1] if n else np.zeros(0)
    if claimed.shape != numeric.shape:
        return _result(check, name, False, expected=_shown(numeric), actual=_shown(claimed),
                       detail=f"logdet gave {claimed.size} values for {n} points")  # fmt: skip
    ok = _close(claimed, numeric, check["tolerance"])
    worst = _worst(claimed - numeric)
    detail = None if ok else f"max |logdet - numeric log|det J|| = {worst:.3g}"
    return _result(check, name, ok, expected=_shown(numeric), actual=_shown(claimed),
                   detail=detail)  # fmt: skip


def _normalisation(check: Check, name: str, run: Run, key: str) -> Result:
    axes, widths = grid_axes(check)
    values = _value(run, f"{key}.values", "the log density on the grid").reshape(-1)
    count = math.prod(len(axis) for axis in axes)
    if values.size != count:
        return _result(check, name, False, expected=1.0,
                       detail=f"log_density gave {values.size} values on a grid of "
                       f"{count} points")  # fmt: skip
    with np.errstate(all="ignore"):
        integral = float(np.sum(np.exp(values)) * float(np.prod(widths)))
    ok = within(integral, 1.0, check["tolerance"])
    detail = None if ok else f"the density integrates to {integral:.6g} on the box"
    return _result(check, name, ok, expected=1.0, actual=integral, detail=detail)


INVARIANTS = {
    "round-trip": _round_trip,
    "logdet-jacobian": _logdet_jacobian,
    "normalisation": _normalisation,
}


def _error_check(check: Check, name: str, run: Run) -> Result:
    from server.witnesses.patterns import search

    pattern = check.get("match")
    expected = check["exception"] + (f" matching {pattern!r}" if pattern else "")
    raised = run.raw.exception if run.raw else None
    if raised is None:
        why = f"the code did not raise {check['exception']}"
        if run.raw is None and run.exit_code:
            why += f" ({run.raw_problem or 'the run left no raw output'})"
        return _result(check, name, False, expected=expected, detail=why)
    actual = f"{raised['type']}: {raised['message']}"
    if not run.exit_code:
        why = f"the code exited 0: it did not raise {check['exception']}"
        return _result(check, name, False, expected=expected, actual=actual, detail=why)
    if check["exception"] not in raised["names"]:
        return _result(check, name, False, expected=expected, actual=actual,
                       detail=f"raised {raised['type']}, not {check['exception']}")  # fmt: skip
    try:
        found = pattern is None or search(pattern, raised["message"])
    except ValueError as why:
        return _result(check, name, False, expected=expected, actual=actual, detail=str(why))
    if not found:
        return _result(check, name, False, expected=expected, actual=actual,
                       detail=f"the message does not match {pattern!r}")  # fmt: skip
    return _result(check, name, True, expected=expected, actual=actual)


def judge_run(run: Run) -> dict[str, Any]:
    """The answer for one run: status, one result per check in order, and a message."""
    _, unplanned = plan(run.checks)
    results: list[Result] = []
    for index, (check, name) in enumerate(zip(run.checks, check_names(run.checks), strict=True)):
        key = str(index)
        try:
            if index in unplanned:
                results.append(_result(check, name, False, detail=unplanned[index]))
            elif check["kind"] == "stdout":
                results.append(_stdout_check(check, name, run))
            elif check["kind"] == "variable":
                results.append(_variable_check(check, name, run, key))
            elif check["kind"] == "error":
                results.append(_error_check(check, name, run))
            else:
                results.append(INVARIANTS[check["invariant"]](check, name, run, key))
        except (ValueError, ArithmeticError, MemoryError, LookupError) as why:
            results.append(_result(check, name, False, detail=str(why)[:2000]))
    raised = run.raw is not None and run.raw.exception is not None and bool(run.exit_code)
    expects_error = any(check["kind"] == "error" for check in run.checks)
    if run.exit_code != 0 and not (expects_error and raised):
        status = "error"
    else:
        status = "passed" if all(r["ok"] for r in results) else "failed"
    message = run.raw_problem if (run.raw is None and run.checks) else None
    return {
        "status": status,
        "checks": results,
        "message": message,
        "reported_exit_code": run.raw.exit_code if run.raw else None,
    }


def judge(
    checks: Sequence[Check], exit_code: int | None, stdout: str, raw: bytes | None,
    raw_problem: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Parse the raw output (``None``: the host could not take it, ``raw_problem`` says why)
    and judge the run."""
    parsed: RawOutput | None = None
    if raw is not None and raw_problem is None:
        if not raw:
            raw_problem = "the run ended before its checks could be evaluated"
        else:
            requests, _ = plan(checks)
            try:
                parsed = parse_raw(raw, requests)
            except RawOutputError as why:
                raw_problem = f"the raw output is not valid: {why}"
    return judge_run(Run(checks, exit_code, stdout, parsed, raw_problem))


# ---------------------------------------------------------------------------------------
# The process


def encode_input(control: dict[str, Any], stdout: bytes, raw: bytes) -> bytes:
    """What the host writes to the judge's stdin."""
    head = json.dumps(control).encode("utf-8")
    return struct.pack("<Q", len(head)) + head + struct.pack("<Q", len(stdout)) + stdout + raw


def decode_input(data: bytes) -> tuple[dict[str, Any], str, bytes]:
    (length,) = struct.unpack_from("<Q", data, 0)
    if length > CONTROL_BYTES:
        raise ValueError("the control part is too large")
    control = json.loads(data[8 : 8 + length])
    at = 8 + length
    (out_length,) = struct.unpack_from("<Q", data, at)
    stdout = data[at + 8 : at + 8 + out_length].decode("utf-8", errors="replace")
    return control, stdout, data[at + 8 + out_length :]


def main() -> int:
    # Everything a verdict needs is imported before the run is read: a judge the pool started
    # ahead of its run has done this while it waited.
    import server.kernels
    import server.kernels.cost
    import server.witnesses.patterns  # noqa: F401
    from server.witnesses.confine import yield_in_session

    os.nice(JUDGE_NICENESS)  # a judge is part of a run: requests come first
    yield_in_session()  # its session (the pool starts each judge in its own) goes as niced

    if len(sys.argv) > 1:  # the host's "ready" pipe: everything is imported, the run may come
        ready = int(sys.argv[1])
        os.write(ready, b"1")
        os.close(ready)
    data = sys.stdin.buffer.read()
    if not data:  # the host went away (or shut its pool down) before there was a run
        return 0
    control, stdout, raw = decode_input(data)
    answer = judge(
        control["checks"],
        control["exit_code"],
        stdout,
        None if control.get("raw_problem") else raw,
        control.get("raw_problem"),
    )
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the answer is out: the host need not wait for the interpreter's teardown


if __name__ == "__main__":
    sys.exit(main())
