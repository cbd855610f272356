"""The in-sandbox driver: limit itself, run one witness, hand back raw outputs. Decides nothing.

Run as ``python harness.py JOB.json`` inside the sandbox (it imports nothing from the service,
which is not visible there, only the launcher ``confine.py`` staged beside it). It lowers its
own resource limits before any witness code runs, executes the witness as the ``__main__``
module, then answers the judge's requests (the job's ``requests``, made by ``judge.plan``
before the run) and writes the answers, once, to the pipe the host gave it (``raw_fd``)::

    b"RRRAW1\\n" + manifest length (8 bytes, little-endian) + manifest JSON + payload

    manifest: {"exit_code": 0,
               "exception": null | {"type": "ValueError", "names": [...], "message": "..."},
               "values": [{"id": "0", "shape": [2]} | {"id": "1.back", "error": "..."}, ...]}
    payload:  the float64 (little-endian) data of every value with a shape, in that order

There is no verdict here: no comparison, no tolerance, no expected value. Every byte of the
output may be forged by the witness (it runs in this process), so the judge, a separate
process that never runs witness code, treats it as hostile input and recomputes everything
it needs from the checks; a forged answer can only pass by being right.
"""

from __future__ import annotations

import builtins
import contextlib
import faulthandler
import json
import os
import struct
import sys
import traceback
import types
from collections.abc import Callable
from importlib import util
from typing import Any

MAGIC = b"RRRAW1\n"
CHUNK = 65_536


def launcher() -> types.ModuleType:
    """The launcher ``confine.py`` staged beside this file, for its ``apply_limits``.

    Loaded by path: PYTHONSAFEPATH keeps this folder off ``sys.path`` (and nothing of the
    service is importable here). Unconfined runs start in this file, not in the launcher, so
    the harness lowers the limits again; lowering to the same limits twice changes nothing.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "confine.py")
    spec = util.spec_from_file_location("confine", path)
    assert spec is not None and spec.loader is not None
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    return {"type": type(exc).__qualname__, "names": names[:200], "message": str(exc)[:4000]}


def as_float_array(value: Any) -> Any:
    import numpy as np

    if isinstance(value, tuple):  # kernel-style functions return (value, logdet)
        value = value[0]
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{type(value).__name__} is not a number or an array of numbers")
    return np.ascontiguousarray(array, dtype="<f8")


def named_callable(namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    function = namespace.get(name)
    if not callable(function):
        raise LookupError(f"the code does not define a callable '{name}'")
    return function  # type: ignore[no-any-return]


def evaluate(namespace: dict[str, Any], request: dict[str, Any], done: dict[str, Any]) -> Any:
    """One request's raw value, as a float64 array: no judgement of it."""
    import numpy as np

    op = request["op"]
    if op == "variable":
        if request["name"] not in namespace:
            raise LookupError(f"the code does not define '{request['name']}'")
        return as_float_array(namespace[request["name"]])
    function = named_callable(namespace, request["function"])
    if op == "call":
        return as_float_array(function(np.asarray(request["points"], dtype=np.float64)))
    if op == "call-at":
        if request["at"] not in done:
            raise LookupError("its input could not be computed")
        return as_float_array(function(done[request["at"]]))
    if op == "grid":
        axes = [np.asarray(axis, dtype=np.float64) for axis in request["axes"]]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
        parts = [as_float_array(function(grid[s : s + CHUNK])).reshape(-1)
                 for s in range(0, len(grid), CHUNK)]  # fmt: skip
        return np.concatenate(parts) if parts else np.zeros(0)
    raise LookupError(f"unknown request {op!r}")


def answer(namespace: dict[str, Any], requests: list[dict[str, Any]]) -> tuple[list[Any], bytes]:
    values: list[dict[str, Any]] = []
    done: dict[str, Any] = {}
    payload = bytearray()
    for request in requests:
        try:
            array = evaluate(namespace, request, done)
            if array.size > request["max_elements"]:
                raise ValueError(
                    f"gave {array.size} values; at most {request['max_elements']} were asked for"
                )
        except BaseException as exc:  # the witness's own code runs here, sys.exit included
            values.append({"id": request["id"], "error": f"{type(exc).__name__}: {exc}"[:2000]})
            continue
        done[request["id"]] = array
        values.append({"id": request["id"], "shape": list(array.shape)})
        payload += array.tobytes()
    return values, bytes(payload)


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


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    raw_fd = int(job["raw_fd"])
    os.set_inheritable(raw_fd, False)  # a program the witness starts does not get it for free
    launcher().apply_limits(job["limits"])
    faulthandler.enable()
    saved_builtins = dict(builtins.__dict__)
    saved_modules = {n: m for n, m in sys.modules.items() if n.split(".")[0] in ("numpy", "json")}
    owner = os.getpid()

    module = types.ModuleType("__main__")
    module.__file__ = job["code_path"]
    sys.modules["__main__"] = module
    namespace = module.__dict__
    exit_code, exception = run_witness(job["code_path"], namespace)
    if os.getpid() != owner:  # a child the witness forked: it does not answer
        return exit_code

    # Undo what the witness did to the names answering relies on. This is no defence of the
    # verdict (the judge never trusts these answers); it keeps a witness that broke them from
    # turning its own clean exit into a crash of this driver.
    builtins.__dict__.update(saved_builtins)
    sys.modules.update(saved_modules)
    try:
        values, payload = answer(namespace, job["requests"])
        manifest = json.dumps({"exit_code": exit_code, "exception": exception, "values": values})
        encoded = manifest.encode("utf-8", errors="replace")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        write_all(raw_fd, MAGIC + struct.pack("<Q", len(encoded)) + encoded + payload)
        os.close(raw_fd)
    except BaseException:  # the judge then says the run left no answers
        pass
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
