"""The raw output is hostile input: the judge parses it strictly, and runs in its own process."""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from server.witnesses.checks import JudgeFailed, as_plain, judge_process, parse_checks
from server.witnesses.judge import MAGIC, RawOutputError, judge, parse_raw, plan

from .rawout import frame, raised, raw_output

CHECKS: list[dict[str, Any]] = [
    {"kind": "variable", "name": "x",
     "kernel": {"spec": {"type": "chain", "dim": 1, "layers": []}, "op": "forward",
                "input": [[1.0], [2.0]]}},
    {"kind": "invariant", "invariant": "round-trip", "forward": "f", "inverse": "g",
     "points": [[0.5], [1.5]]},
]  # fmt: skip
PLAIN = as_plain(parse_checks(CHECKS))
REQUESTS = plan(PLAIN)[0]
GOOD = raw_output({"0": [[1.0], [2.0]], "1.forward": [[0.5], [1.5]], "1.back": [[0.5], [1.5]]})
ENTRY = {"exit_code": 0, "exception": None}


def test_a_well_formed_raw_output_passes() -> None:
    assert judge(PLAIN, 0, "", GOOD)["status"] == "passed"


HOSTILE: dict[str, bytes] = {
    "no magic": b"{" + GOOD[len(MAGIC) :],
    "too short": MAGIC + b"\x01",
    "manifest longer than the data": MAGIC + struct.pack("<Q", 1 << 19) + b"{}",
    "manifest over the cap": MAGIC + struct.pack("<Q", 1 << 40) + b"{}",
    "manifest not JSON": MAGIC + struct.pack("<Q", 3) + b"{x}",
    "manifest nested deep": frame([[[[[[]]]]]]) + b"",
    "deep nesting bomb": MAGIC + struct.pack("<Q", 200_000) + b"[" * 200_000,
    "invalid UTF-8": MAGIC + struct.pack("<Q", 2) + b"\xff\xfe",
    "manifest a list": frame([ENTRY]),
    "exit code a bool": frame({**ENTRY, "exit_code": True, "values": []}),
    "exit code a string": frame({**ENTRY, "exit_code": "0", "values": []}),
    "values not a list": frame({**ENTRY, "values": {"0": [1.0]}}),
    "an id not asked for": frame({**ENTRY, "values": [{"id": "9", "shape": [1]}]}, b"\0" * 8),
    "an id twice": frame(
        {**ENTRY, "values": [{"id": "0", "shape": [1]}, {"id": "0", "shape": [1]}]}, b"\0" * 16
    ),
    "an id that is not a string": frame({**ENTRY, "values": [{"id": 0, "shape": [1]}]}),
    "a negative shape": frame({**ENTRY, "values": [{"id": "0", "shape": [-1]}]}),
    "a float shape": frame({**ENTRY, "values": [{"id": "0", "shape": [2.0]}]}, b"\0" * 16),
    "a bool shape": frame({**ENTRY, "values": [{"id": "0", "shape": [True]}]}, b"\0" * 8),
    "more values than asked": frame(
        {**ENTRY, "values": [{"id": "0", "shape": [1_000_000]}]}, b"\0" * 8_000_000
    ),
    "a shape of a trillion": frame({**ENTRY, "values": [{"id": "0", "shape": [10**6, 10**6]}]}),
    "rank 40": frame({**ENTRY, "values": [{"id": "0", "shape": [1] * 40}]}, b"\0" * 8),
    "payload short": frame({**ENTRY, "values": [{"id": "0", "shape": [2]}]}, b"\0" * 15),
    "payload long": GOOD + b"\0",
    "exception names not a list": frame(
        {**ENTRY, "exception": {"type": "E", "names": "E", "message": ""}, "values": []}
    ),
    "exception message not text": frame(
        {**ENTRY, "exception": {"type": "E", "names": ["E"], "message": 3}, "values": []}
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_raw_output_is_refused_and_the_run_fails(name: str) -> None:
    with pytest.raises(RawOutputError):
        parse_raw(HOSTILE[name], REQUESTS)
    answer = judge(PLAIN, 0, "", HOSTILE[name])
    assert answer["status"] == "failed"
    assert answer["message"].startswith("the raw output is not valid: ")
    assert not any(check["ok"] for check in answer["checks"])


def test_nan_and_infinity_are_values_that_fail_a_comparison() -> None:
    nan = raw_output({"0": [[float("nan")], [2.0]], "1.forward": [[0.5], [1.5]],
                      "1.back": [[float("inf")], [1.5]]})  # fmt: skip
    answer = judge(PLAIN, 0, "", nan)
    assert answer["status"] == "failed"
    assert [c["ok"] for c in answer["checks"]] == [False, False]
    json.dumps(answer)  # the answer stays printable


def test_an_exception_claim_is_only_text() -> None:
    raw = raw_output(exit_code=1, exception=raised("ValueError", "x" * 50_000))
    parsed = parse_raw(raw, [])
    assert parsed.exception is not None and len(parsed.exception["message"]) == 10_000


def test_the_judge_process_answers() -> None:
    with judge_process(2 << 30, 60) as process:
        answer = process.decide(parse_checks(CHECKS), 0, b"", GOOD, None)
    assert answer.status == "passed" and [c.ok for c in answer.checks] == [True, True]


def test_the_judge_process_has_its_own_limits() -> None:
    with judge_process(2 << 30, 60) as process:
        limits = Path(f"/proc/{process.process.pid}/limits").read_text()
        assert os.getpriority(os.PRIO_PROCESS, process.process.pid) == 10  # yields to the run
        process.decide(parse_checks(CHECKS), 0, b"", GOOD, None)
    assert "Max address space         2147483648" in limits
    assert "Max cpu time              61" in limits
    assert "Max file size             0" in limits


def test_a_judge_out_of_memory_or_time_is_an_error_never_a_pass() -> None:
    with judge_process(64 << 20, 60) as process, pytest.raises(JudgeFailed):
        process.decide(parse_checks(CHECKS), 0, b"", GOOD, None)  # numpy cannot even load
    started = time.monotonic()
    with judge_process(2 << 30, 0.01) as process, pytest.raises(JudgeFailed) as caught:
        process.decide(parse_checks(CHECKS), 0, b"", GOOD, None)
    assert "did not finish within" in str(caught.value)
    assert time.monotonic() - started < 10


def test_a_judge_that_cannot_start_makes_the_run_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.witnesses import checks, sandbox
    from server.witnesses.judge_pool import close_default_pool

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no processes left")

    close_default_pool()  # no judge started ahead: this run's must be started now
    monkeypatch.setattr(checks.resource, "prlimit", refuse)
    result = sandbox.run_in_sandbox("x = 1", checks=[CHECKS[0]], timeout_s=10, unconfined=True)
    assert result.status == "error"
    assert result.message == "the judge could not be limited (no processes left)"
    assert [c.ok for c in result.checks] == [False]
