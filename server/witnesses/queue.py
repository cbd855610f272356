"""One bounded queue for every witness run the server makes.

A fixed set of worker threads (about one per core) runs witnesses; requests wait for their
run without holding a thread of the request pool. Two lanes share the workers:

- the **user** lane (``POST /api/witnesses/{key}/runs``, ``POST /api/witnesses/run``) holds at
  most ``backlog`` waiting runs; one more is refused with :class:`server.errors.Busy` (503 and
  ``Retry-After``) instead of piling up;
- the **background** lane (the start-up check) is served only when no user run waits, and
  never takes more than ``background_share`` workers, so it can delay a user's run by at most
  one run and never make the user lane refuse one; its runs go at the lowest CPU priority
  (``BACKGROUND_NICENESS``), after requests and users' runs.

The app's lifespan creates the queue and closes it; nothing here runs at import time.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from server.errors import Busy
from server.witnesses.result import RunResult
from server.witnesses.service import CheckJob

log = logging.getLogger("readingroom.witnesses")

T = TypeVar("T")
Done = list[tuple[CheckJob, RunResult]]


class WitnessRunner(Protocol):
    """What the queue's workers call: the sandbox, or a stand-in in tests."""

    def run_code(
        self, code: str, checks: Sequence[Mapping[str, Any]], timeout_s: float
    ) -> RunResult: ...

    def run_jobs(self, jobs: list[CheckJob], *, background: bool = False) -> Done: ...


class SandboxRunner:
    """Runs in the bubblewrap sandbox (``run_in_sandbox``, ``service.run_jobs``)."""

    def run_code(
        self, code: str, checks: Sequence[Mapping[str, Any]], timeout_s: float
    ) -> RunResult:
        from server.witnesses.sandbox import run_in_sandbox

        return run_in_sandbox(code, checks=checks, timeout_s=timeout_s)

    def run_jobs(self, jobs: list[CheckJob], *, background: bool = False) -> Done:
        from server.witnesses import service

        # the queue's workers are the parallelism; background runs take the lowest priority
        return service.run_jobs(jobs, workers=1, background=background)


@dataclass
class _Item:
    work: Callable[[], Any]
    future: Future[Any]
    background: bool


@dataclass(frozen=True)
class QueueState:
    workers: int
    running: int
    waiting: int
    backlog: int


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class RunQueue:
    """``workers`` threads draining a bounded user lane and a low-priority background lane."""

    def __init__(
        self,
        runner: WitnessRunner | None = None,
        *,
        workers: int | None = None,
        backlog: int = 48,
        background_share: int = 1,
        typical_run_s: float = 5.0,
    ) -> None:
        self.runner: WitnessRunner = runner or SandboxRunner()
        self.workers = workers or default_workers()
        self.backlog = backlog
        self.background_share = max(1, min(background_share, self.workers))
        self.typical_run_s = typical_run_s
        self._ready = threading.Condition()
        self._user: deque[_Item] = deque()
        self._background: deque[_Item] = deque()
        self._running = 0
        self._running_background = 0
        self._closed = False
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> RunQueue:
        for number in range(self.workers):
            thread = threading.Thread(
                target=self._work, name=f"witness-run-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new runs, drop the waiting ones, and wait a while for the running ones."""
        with self._ready:
            self._closed = True
            dropped = [*self._user, *self._background]
            self._user.clear()
            self._background.clear()
            self._ready.notify_all()
        for item in dropped:
            item.future.cancel()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- submitting --------------------------------------------------------------------------

    def run_code(
        self, code: str, checks: Sequence[Mapping[str, Any]], timeout_s: float
    ) -> Future[RunResult]:
        """An ad-hoc run in the user lane."""
        return self.submit(lambda: self.runner.run_code(code, checks, timeout_s))

    def run_jobs(self, jobs: list[CheckJob], *, background: bool = False) -> Future[Done]:
        """Stored witnesses, in the user lane or the background lane."""
        return self.submit(
            lambda: self.runner.run_jobs(jobs, background=background), background=background
        )

    def submit(self, work: Callable[[], T], *, background: bool = False) -> Future[T]:
        """Queue ``work``; a full lane raises :class:`Busy` (the background lane too)."""
        future: Future[T] = Future()
        with self._ready:
            if self._closed:
                raise Busy("the server is shutting down; witness runs are not accepted", 5)
            lane, limit = (
                (self._background, self.workers) if background else (self._user, self.backlog)
            )
            if len(lane) >= limit:  # runs dropped by their callers give their place back
                kept = [item for item in lane if not item.future.cancelled()]
                lane.clear()
                lane.extend(kept)
            if len(lane) >= limit:
                raise Busy(
                    f"{len(lane)} witness run(s) are already waiting; try again later",
                    self._retry_after_s(),
                )
            lane.append(_Item(work, future, background))
            self._ready.notify()
        return future

    def state(self) -> QueueState:
        with self._ready:
            return QueueState(self.workers, self._running, len(self._user), self.backlog)

    def _retry_after_s(self) -> int:
        # About when the waiting runs will have drained (called with the lock held).
        rounds = (len(self._user) + self._running) / self.workers
        return max(1, math.ceil(rounds * self.typical_run_s))

    # -- the workers -------------------------------------------------------------------------

    def _next(self) -> _Item | None:
        with self._ready:
            while True:
                if self._user:
                    item = self._user.popleft()
                elif self._background and self._running_background < self.background_share:
                    item = self._background.popleft()
                    self._running_background += 1
                elif self._closed:
                    return None
                else:
                    self._ready.wait()
                    continue
                self._running += 1
                return item

    def _work(self) -> None:
        while (item := self._next()) is not None:
            try:
                if item.future.set_running_or_notify_cancel():
                    try:
                        item.future.set_result(item.work())
                    except BaseException as error:  # the waiting request reports it
                        item.future.set_exception(error)
            finally:
                with self._ready:
                    self._running -= 1
                    if item.background:
                        self._running_background -= 1
                    self._ready.notify_all()
