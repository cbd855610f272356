"""The in-sandbox driver: limit itself, run one witness, report what only the inside can see.

Run as ``python harness.py JOB.json`` inside the sandbox (it imports nothing from the service,
which is not visible there). It lowers its own resource limits before any witness code runs,
executes the witness as the ``__main__`` module, then writes one JSON report to the results
file the host gave it::

    {"exit_code": 0,
     "exception": null | {"names": ["ValueError", "builtins.ValueError", ...], "type": ...,
                          "message": "..."},
     "variables": {"log_px": {"dtype": "float64", "shape": [2], "data": [...]}
                   | {"error": "..."}},
     "invariants": [{"ok": true, "expected": 0.0, "actual": 1e-16, "detail": null}]}

Everything in the report is produced next to untrusted code and may be forged by it: the
host treats it as untrusted input (size-capped, schema-checked). Invariants are
evaluated here because they call the witness's own functions.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import math
import os
import resource
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

MAX_ELEMENTS = 1_000_000
MAX_GRID_POINTS = 4_000_000
CHUNK = 65_536
FINITE_DIFFERENCE_STEP = 1e-5


def apply_limits(limits: dict[str, list[int]]) -> None:
    """Lower soft and hard limits; a hard limit can never be raised again by the code."""
    for name, (soft, hard) in limits.items():
        which = getattr(resource, name)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def exit_code_of(exc: SystemExit) -> int:
    """The status ``sys.exit(value)`` would give, printing a message like Python does."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def describe_exception(exc: BaseException) -> dict[str, Any]:
    names: list[str] = []
    for cls in type(exc).__mro__:
        names.append(cls.__qualname__)
        names.append(f"{cls.__module__}.{cls.__qualname__}")
    return {"type": type(exc).__qualname__, "names": names, "message": str(exc)[:4000]}


def numeric_array(value: Any) -> Any:
    import numpy as np

    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{type(value).__name__} is not a number or an array of numbers")
    return array.astype(np.float64)


def serialise_variable(namespace: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in namespace:
        return {"error": f"the code does not define '{name}'"}
    try:
        array = numeric_array(namespace[name])
    except BaseException as exc:  # __array__ is the witness's code
        return {"error": f"'{name}': {exc}"}
    if array.size > MAX_ELEMENTS:
        return {"error": f"'{name}' has {array.size} elements; at most {MAX_ELEMENTS} are compared"}
    return {
        "dtype": str(getattr(namespace[name], "dtype", type(namespace[name]).__name__)),
        "shape": list(array.shape),
        "data": array.ravel().tolist(),
    }


def named_callable(namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    function = namespace.get(name)
    if not callable(function):
        raise LookupError(f"the code does not define a callable '{name}'")
    return function  # type: ignore[no-any-return]


def first_of(result: Any) -> Any:
    """Kernel-style functions return ``(value, logdet)``; invariants want the value."""
    return result[0] if isinstance(result, tuple) else result


def apply_batched(function: Callable[..., Any], points: Any) -> Any:
    import numpy as np

    return np.asarray(first_of(function(points)), dtype=np.float64)


def within(actual: float, expected: float, tolerance: float) -> bool:
    return math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance)


def round_trip(namespace: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    points = np.asarray(spec["points"], dtype=np.float64)
    forward = named_callable(namespace, spec["forward"])
    inverse = named_callable(namespace, spec["inverse"])
    back = apply_batched(inverse, apply_batched(forward, points))
    if back.shape != points.shape:
        return {
            "ok": False,
            "expected": 0.0,
            "actual": None,
            "detail": f"inverse(forward(x)) has shape {list(back.shape)}, "
            f"expected {list(points.shape)}",
        }
    error = float(np.max(np.abs(back - points))) if points.size else 0.0
    ok = bool(np.all(np.isclose(back, points, rtol=spec["tolerance"], atol=spec["tolerance"])))
    detail = None if ok else f"max |inverse(forward(x)) - x| = {error:.3g}"
    return {"ok": ok, "expected": 0.0, "actual": error, "detail": detail}


def numeric_logdet(forward: Callable[..., Any], points: Any) -> Any:
    """log|det J| by central differences: J[:, :, j] = (f(x + h e_j) - f(x - h e_j)) / 2h."""
    import numpy as np

    n, d = points.shape
    steps = FINITE_DIFFERENCE_STEP * np.maximum(1.0, np.abs(points))  # (n, d)
    shifted = np.repeat(points[:, None, :], 2 * d, axis=1)  # (n, 2d, d)
    for j in range(d):
        shifted[:, 2 * j, j] += steps[:, j]
        shifted[:, 2 * j + 1, j] -= steps[:, j]
    images = apply_batched(forward, shifted.reshape(n * 2 * d, d)).reshape(n, 2 * d, d)
    jacobian = (images[:, 0::2, :] - images[:, 1::2, :]) / (2 * steps[:, :, None])
    # jacobian[i, j, k] = d f_k / d x_j: its determinant equals that of the transpose.
    return np.linalg.slogdet(jacobian)[1]


def logdet_jacobian(namespace: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    points = np.asarray(spec["points"], dtype=np.float64)
    if points.ndim != 2:
        return {"ok": False, "detail": "points must be a list of d-vectors"}
    forward = named_callable(namespace, spec["forward"])
    claimed = np.asarray(first_of(named_callable(namespace, spec["logdet"])(points)))
    claimed = claimed.astype(np.float64).reshape(-1)
    numeric = numeric_logdet(forward, points)
    if claimed.shape != numeric.shape:
        return {
            "ok": False,
            "expected": numeric.tolist(),
            "actual": claimed.tolist(),
            "detail": f"logdet gave {claimed.size} values for {len(points)} points",
        }
    ok = bool(np.all(np.isclose(claimed, numeric, rtol=spec["tolerance"], atol=spec["tolerance"])))
    worst = float(np.max(np.abs(claimed - numeric))) if claimed.size else 0.0
    detail = None if ok else f"max |logdet - numeric log|det J|| = {worst:.3g}"
    return {"ok": ok, "expected": numeric.tolist(), "actual": claimed.tolist(), "detail": detail}


def normalisation(namespace: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Midpoint rule on the box: sum(exp(log p)) times the cell volume should be 1."""
    import numpy as np

    box = np.asarray(spec["box"], dtype=np.float64)
    resolution = int(spec["resolution"])
    if box.ndim != 2 or box.shape[1] != 2:
        return {"ok": False, "detail": "box must be a list of [low, high] pairs"}
    if resolution ** box.shape[0] > MAX_GRID_POINTS:
        return {"ok": False, "detail": f"the grid would have more than {MAX_GRID_POINTS} points"}
    log_density = named_callable(namespace, spec["log_density"])
    widths = (box[:, 1] - box[:, 0]) / resolution
    axes = [
        low + (np.arange(resolution) + 0.5) * w for (low, _), w in zip(box, widths, strict=True)
    ]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, box.shape[0])
    total = 0.0
    for start in range(0, len(grid), CHUNK):
        values = np.asarray(first_of(log_density(grid[start : start + CHUNK])), dtype=np.float64)
        total += float(np.sum(np.exp(values.reshape(-1))))
    integral = total * float(np.prod(widths))
    ok = within(integral, 1.0, spec["tolerance"])
    detail = None if ok else f"the density integrates to {integral:.6g} on the box"
    return {"ok": ok, "expected": 1.0, "actual": integral, "detail": detail}


INVARIANTS: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "round-trip": round_trip,
    "logdet-jacobian": logdet_jacobian,
    "normalisation": normalisation,
}


def evaluate_invariant(namespace: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    try:
        return INVARIANTS[spec["invariant"]](namespace, spec)
    except BaseException as exc:  # the witness's own functions run here, sys.exit included
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:2000]}


def run_witness(code_path: str, namespace: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """Execute the witness; return its exit status and the exception it raised, if any."""
    with open(code_path, encoding="utf-8") as handle:
        source = handle.read()
    try:
        exec(compile(source, code_path, "exec"), namespace)
    except SystemExit as exc:
        return exit_code_of(exc), None
    except BaseException as exc:
        # Print the traceback as Python would, without this harness's own frame.
        traceback.print_exception(
            type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None
        )
        return 1, describe_exception(exc)
    return 0, None


def write_report(fd: int, report: dict[str, Any]) -> None:
    data = json.dumps(report).encode("utf-8")
    while data:
        written = os.write(fd, data)
        data = data[written:]
    os.close(fd)


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    # Opened before the witness runs, so exhausting file descriptors cannot stop the report.
    result_fd = os.open(job["result_path"], os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    apply_limits(job["limits"])
    faulthandler.enable()
    owner = os.getpid()

    module = types.ModuleType("__main__")
    module.__file__ = job["code_path"]
    sys.modules["__main__"] = module
    namespace = module.__dict__
    exit_code, exception = run_witness(job["code_path"], namespace)
    if os.getpid() != owner:  # a child the witness forked: it must not write the report
        return exit_code

    report = {
        "exit_code": exit_code,
        "exception": exception,
        "variables": {name: serialise_variable(namespace, name) for name in job["variables"]},
        "invariants": [evaluate_invariant(namespace, spec) for spec in job["invariants"]],
    }
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(OSError):  # the witness may have closed it; the host then says so
        write_report(result_fd, report)
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
