"""Checks of a witness run (content/README.md, "witnesses"), and the host's side of the judge.

The verdict is the judge's (``judge.py``): a fresh process, started for each run that has
checks, under its own CPU, memory and wall-time limits, that reads the run's raw outputs and
never runs witness code. Here the host only validates the checks, starts the judge, hands it
what it observed (exit status, stdout from the pipe, the raw output bytes, unparsed) and reads
its answer back. A judge that fails, runs out of time or answers nonsense makes the run an
``error``, never a pass.

- ``stdout``: compared line by line; text must match up to whitespace, numbers (including
  numpy's array prints such as ``[0.5   0.222]``) must agree within the tolerance.
- ``variable``: a variable the code leaves, handed back as a plain array, against what
  ``server.kernels.build(spec)`` computes in the judge for the same input.
- ``invariant``: the witness's own functions evaluated at points the judge chose (round trip,
  central-difference Jacobian, midpoint grid); the judge computes the invariant from them.
- ``error``: the code must raise that exception (or a subclass) with a message in which RE2
  finds ``match`` (linear time: a pattern cannot stall the judge or anything else).
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import select
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from schemas.content import Check
from server.errors import InvalidInput
from server.witnesses import judge
from server.witnesses.result import CheckResult, RunStatus

_CHECKS = TypeAdapter(list[Check])
_ROOT = Path(judge.__file__).resolve().parents[2]  # the directory that holds ``server``
ANSWER_BYTES = 64 << 20
JUDGE_NICENESS = 10
compare_stdout = judge.compare_stdout


def parse_checks(raw: Sequence[dict[str, Any]] | None) -> list[Check]:
    """Validate check dicts as written in content; errors name the check and the field."""
    try:
        return _CHECKS.validate_python(list(raw or []))
    except ValidationError as error:
        details = [
            f"checks[{'.'.join(str(p) for p in e['loc'])}]: {e['msg']}" for e in error.errors()
        ]
        raise InvalidInput("invalid witness checks", details) from None


def as_plain(checks: Sequence[Check]) -> list[dict[str, Any]]:
    """The checks as the judge and the planner read them (plain JSON values)."""
    return [check.model_dump(mode="json") for check in checks]


def check_names(checks: Sequence[Check]) -> list[str]:
    """Readable, unique names: ``stdout``, ``variable log_px``, ``invariant round-trip #2``."""
    return judge.check_names(as_plain(checks))


def not_evaluated(checks: Sequence[Check], reason: str) -> list[CheckResult]:
    return [
        CheckResult(name=name, ok=False, detail=f"not evaluated: {reason}")
        for name in check_names(checks)
    ]


class JudgeAnswer(BaseModel):
    """What the judge prints: the verdict and one result per check."""

    status: RunStatus
    checks: list[CheckResult] = Field(default_factory=list)
    message: str | None = None
    reported_exit_code: int | None = None


class JudgeFailed(Exception):
    """The judge gave no usable answer (the run is then an ``error``)."""


def _judge_env() -> dict[str, str]:
    env = {"LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}  # fmt: skip
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # older OpenBLAS needs these here
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class JudgeProcess:
    """One judge process, started before the run so that its imports overlap the run."""

    def __init__(self, memory_bytes: int, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        # The judge writes one byte here once it has imported everything and waits for its run.
        self._ready_read, ready_write = os.pipe()
        try:
            command = [sys.executable, "-E", "-s", "-B", "-m", "server.witnesses.judge"]
            self.process = subprocess.Popen(
                [*command, str(ready_write)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_judge_env(),
                cwd=_ROOT,
                start_new_session=True,
                pass_fds=(ready_write,),
            )
        except OSError:
            os.close(self._ready_read)
            raise
        finally:
            os.close(ready_write)
        self._ready = False
        # Limits before it reads a byte of the run's output (it is only importing until then).
        cpu = math.ceil(timeout_s) + 1
        limits = {
            resource.RLIMIT_AS: memory_bytes,
            resource.RLIMIT_CPU: cpu,
            resource.RLIMIT_FSIZE: 0,
            resource.RLIMIT_NOFILE: 64,
            resource.RLIMIT_CORE: 0,
        }
        try:
            for which, value in limits.items():
                resource.prlimit(self.process.pid, which, (value, value))
            # Its imports overlap the run, but never at the run's expense: the run's wall clock
            # is the witness's, so on a busy machine the judge waits its turn.
            os.setpriority(os.PRIO_PROCESS, self.process.pid, JUDGE_NICENESS)
        except (OSError, ValueError) as error:
            self.kill()  # an unlimited judge is not started at all
            raise OSError(f"the judge could not be limited ({error})") from None

    def ready(self, timeout_s: float = 0.0) -> bool:
        """Whether the judge has imported everything and waits for its run (waits at most
        ``timeout_s`` to find out)."""
        if not self._ready and self._ready_read >= 0:
            readable, _, _ = select.select([self._ready_read], [], [], timeout_s)
            if readable:
                self._ready = os.read(self._ready_read, 1) == b"1"
                self._close_ready()
        return self._ready

    def _close_ready(self) -> None:
        if self._ready_read >= 0:
            os.close(self._ready_read)
            self._ready_read = -1

    def decide(
        self,
        checks: Sequence[Check],
        exit_code: int | None,
        stdout: bytes,
        raw: bytes,
        raw_problem: str | None,
    ) -> JudgeAnswer:
        control = {"checks": as_plain(checks), "exit_code": exit_code, "raw_problem": raw_problem}
        data = judge.encode_input(control, stdout, raw)
        try:
            out, err = self.process.communicate(data, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise JudgeFailed(f"the judge did not finish within {self.timeout_s:g} s") from None
        except OSError as error:
            self.kill()
            raise JudgeFailed(f"the judge could not be given the run ({error})") from None
        if self.process.returncode != 0:
            lines = err.decode("utf-8", errors="replace").strip().splitlines()
            why = lines[-1][:500] if lines else f"exit status {self.process.returncode}"
            raise JudgeFailed(f"the judge failed: {why}")
        if len(out) > ANSWER_BYTES:
            raise JudgeFailed("the judge's answer is too large")
        try:
            answer = JudgeAnswer.model_validate_json(out)
        except ValidationError:
            raise JudgeFailed("the judge's answer is not readable") from None
        if answer.status not in ("passed", "failed", "error"):
            raise JudgeFailed(f"the judge answered {answer.status!r}")
        if len(answer.checks) != len(checks):
            raise JudgeFailed("the judge did not answer for every check")
        return answer

    def kill(self) -> None:
        self._close_ready()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def judge_process(memory_bytes: int, timeout_s: float) -> Iterator[JudgeProcess]:
    """A judge for one run; never left running."""
    process = JudgeProcess(memory_bytes, timeout_s)
    try:
        yield process
    finally:
        process.kill()
