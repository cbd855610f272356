"""Judges started ahead: each judges one run, a dead one is replaced, a closed pool leaves none."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from server.witnesses.checks import JudgeProcess, parse_checks
from server.witnesses.judge_pool import JudgePool, close_default_pool, default_pool
from server.witnesses.sandbox import SandboxLimits, run_in_sandbox

from .rawout import raw_output

LIMITS = (2 << 30, 60.0)
CHECKS = parse_checks(
    [{"kind": "variable", "name": "x",
      "kernel": {"spec": {"type": "chain", "dim": 1, "layers": []}, "op": "forward",
                 "input": [[1.0], [2.0]]}}]
)  # fmt: skip
RIGHT = raw_output({"0": [[1.0], [2.0]]})
WRONG = raw_output({"0": [[1.0], [3.0]]})


def alive(pid: int) -> bool:
    """Whether ``pid`` (a child of this process, or gone) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie has not been reaped yet
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def gone_within(pids: list[int], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def started() -> list[JudgeProcess]:
    """Every judge the test's pool started."""
    return []


@pytest.fixture
def pool(started: list[JudgeProcess]) -> Iterator[JudgePool]:
    def start(memory_bytes: int, timeout_s: float) -> JudgeProcess:
        judge = JudgeProcess(memory_bytes, timeout_s)
        started.append(judge)
        return judge

    pool = JudgePool(LIMITS, size=2, start=start)
    yield pool
    pool.close()
    for judge in started:
        judge.kill()


def test_a_filled_pool_has_its_judges_waiting(pool: JudgePool) -> None:
    assert pool.fill()
    waiting = pool.waiting()
    assert len(waiting) == 2 and len(set(waiting)) == 2
    assert all(alive(pid) for pid in waiting)


def test_a_judge_is_handed_out_once_and_judges_one_run(pool: JudgePool) -> None:
    assert pool.fill()
    first, second = pool.take(*LIMITS), pool.take(*LIMITS)
    assert first.process.pid != second.process.pid
    assert first.process.pid not in pool.waiting() and second.process.pid not in pool.waiting()
    assert first.decide(CHECKS, 0, b"", RIGHT, None).status == "passed"
    assert second.decide(CHECKS, 0, b"", WRONG, None).status == "failed"
    pool.release()
    pool.release()
    assert first.process.poll() is not None and second.process.poll() is not None  # exited
    pool.fill()  # the pool refills with new processes, never the used ones
    assert not {first.process.pid, second.process.pid} & set(pool.waiting())
    third = pool.take(*LIMITS)
    assert third.process.pid not in (first.process.pid, second.process.pid)
    third.kill()


def test_a_judge_killed_while_it_waits_is_replaced(pool: JudgePool) -> None:
    assert pool.fill()
    killed = pool.waiting()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    assert gone_within(killed)
    judge = pool.take(*LIMITS)
    assert judge.process.pid not in killed
    assert judge.decide(CHECKS, 0, b"", RIGHT, None).status == "passed"
    pool.release()
    assert pool.fill()
    assert not set(killed) & set(pool.waiting())


def test_other_limits_get_a_judge_of_their_own(pool: JudgePool) -> None:
    assert pool.fill()
    waiting = set(pool.waiting())
    judge = pool.take(1 << 30, 5.0)
    try:
        assert judge.process.pid not in waiting
        assert judge.timeout_s == 5.0
        assert set(pool.waiting()) == waiting
    finally:
        judge.kill()


def test_a_closed_pool_leaves_no_process(pool: JudgePool, started: list[JudgeProcess]) -> None:
    assert pool.fill()
    taken = pool.take(*LIMITS)
    pool.release()  # its run is judged: the replacement starts
    deadline = time.monotonic() + 30
    while len(started) < 3 and time.monotonic() < deadline:  # its replacement starts
        time.sleep(0.02)
    pool.close()
    pids = [judge.process.pid for judge in started]
    assert len(pids) >= 3
    taken.kill()
    assert gone_within(pids), [pid for pid in pids if alive(pid)]
    assert pool.waiting() == []
    after = pool.take(*LIMITS)  # still usable: a fresh judge, never pooled again
    after.kill()
    assert pool.waiting() == []


def test_a_judge_whose_host_closes_its_stdin_exits_quietly() -> None:
    judge = JudgeProcess(*LIMITS)
    assert judge.process.stdin is not None
    judge.process.stdin.close()
    assert judge.process.wait(timeout=30) == 0
    judge.kill()


def test_runs_take_judges_from_the_default_pool_and_shut_it_down(confined: None) -> None:
    limits = SandboxLimits()
    pool = default_pool((limits.judge_memory_bytes, limits.judge_timeout_s))
    assert pool.fill()
    before = set(pool.waiting())
    checks = [{"kind": "stdout", "expected": "4"}]
    assert run_in_sandbox("print(2 + 2)", checks=checks, timeout_s=10).status == "passed"
    assert run_in_sandbox("print(2 + 3)", checks=checks, timeout_s=10).status == "failed"
    assert len(before - set(pool.waiting())) == 2  # both judges used, neither back
    pool.fill()
    waiting = pool.waiting()
    close_default_pool()
    assert gone_within(waiting)
    assert default_pool((limits.judge_memory_bytes, limits.judge_timeout_s)) is not pool
    close_default_pool()


def test_a_pool_of_size_zero_keeps_no_judge_waiting() -> None:
    pool = JudgePool(LIMITS, size=0)
    try:
        judge = pool.take(*LIMITS)  # started for the run that asks
        assert judge.decide(CHECKS, 0, b"", RIGHT, None).status == "passed"
        assert pool.fill(timeout_s=0.5)  # at once: there is nothing to wait for
        assert pool.waiting() == [] and pool._filler is None  # nothing is started ahead
    finally:
        pool.close()


def test_a_judge_says_when_its_imports_are_done(pool: JudgePool) -> None:
    assert pool.fill()  # waits for the imports too
    judge = pool.take(*LIMITS)
    assert judge.ready()
    assert judge.decide(CHECKS, 0, b"", RIGHT, None).status == "passed"
    killed = JudgeProcess(*LIMITS)
    os.killpg(killed.process.pid, signal.SIGKILL)
    assert not killed.ready(timeout_s=30)  # it died before it was ready: never ready
    killed.kill()


def test_a_replacement_waits_until_the_run_is_judged(
    pool: JudgePool, started: list[JudgeProcess]
) -> None:
    assert pool.fill()
    judge = pool.take(*LIMITS)  # one judge still waits: no replacement during the run
    assert len(started) == 2 and len(pool.waiting()) == 1
    assert judge.decide(CHECKS, 0, b"", RIGHT, None).status == "passed"
    pool.release()
    assert pool.fill()  # now it is replaced
    assert len(started) == 3 and len(pool.waiting()) == 2
    pool.take(*LIMITS)
    pool.take(*LIMITS)  # none left waiting: a replacement starts even while runs go on
    deadline = time.monotonic() + 30
    while not pool.waiting() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pool.waiting()) == 1 and len(started) == 4
