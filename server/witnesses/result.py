"""The result of one witness run, as ``readingroom witness run --json`` prints it (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal[
    "passed", "failed", "error", "timeout", "killed", "output-limit", "sandbox-unavailable"
]


class CheckResult(BaseModel):
    """One check's verdict: what was expected, what the run produced, and the tolerance."""

    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    expected: Any = None
    actual: Any = None
    tolerance: float | None = None
    detail: str | None = Field(default=None, description="Why the check failed, in one line.")


class RunResult(BaseModel):
    """Status, capped outputs, how the process ended and one entry per check.

    ``exit_code`` is set when the process exited, ``signal`` when a signal ended it (a
    timeout or an output overflow ends it with SIGKILL). ``confined`` is false only for runs
    made with the sandbox explicitly switched off.
    """

    model_config = ConfigDict(frozen=True)

    status: RunStatus
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    signal: int | None = None
    duration_ms: float = 0.0
    checks: list[CheckResult] = Field(default_factory=list)
    message: str | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    confined: bool = True

    @property
    def passed(self) -> bool:
        return self.status == "passed"
