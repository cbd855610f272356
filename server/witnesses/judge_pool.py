"""Judges started ahead of the runs they will judge: a small, bounded pool of fresh processes.

A judge (``checks.JudgeProcess``) spends most of its life importing numpy and the kernels;
deciding a run takes a few milliseconds. The pool keeps up to ``size`` judges that have
started (and are importing, or already wait on their stdin for their one job), so a run
takes one that is ready instead of starting it. Every property of a judge holds: it is its
own process, under its own limits (set when it starts, before it reads a byte), it never
runs witness code, and it judges exactly one run: :meth:`JudgePool.take` hands each process
out once and forgets it, and the process exits after its one answer. Taking one starts a
replacement in the background, once the runs being judged are done (at once when no judge
is left waiting). A judge that died while it waited (killed, or out of CPU) is
dropped and replaced, never handed out. A judge whose host goes away sees the end of its
stdin and exits, so none outlives the service.

The default pool is made on first use (nothing is started at import time, and a service
whose runs have no checks never starts a judge) and shut down by :func:`close_default_pool`,
which the service calls when it stops, and at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import deque
from collections.abc import Callable

from server.witnesses.checks import JudgeProcess

Limits = tuple[int, float]  # (RLIMIT_AS bytes, wall time in seconds)
MAX_POOL_SIZE = 4


def default_size() -> int:
    """One waiting judge per core (a run uses one), at most :data:`MAX_POOL_SIZE`."""
    return max(1, min(MAX_POOL_SIZE, os.cpu_count() or 1))


class JudgePool:
    """Up to ``size`` started judges for runs with ``limits``; each handed out once."""

    def __init__(
        self,
        limits: Limits,
        size: int | None = None,
        start: Callable[[int, float], JudgeProcess] = JudgeProcess,
    ) -> None:
        self.limits = limits
        self.size = default_size() if size is None else max(0, min(size, MAX_POOL_SIZE))
        self._start = start
        self._ready: deque[JudgeProcess] = deque()
        self._lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)
        self._closed = False
        self._filler: threading.Thread | None = None
        self._judging = 0  # judges handed out whose runs have not been released yet

    def take(self, memory_bytes: int, timeout_s: float) -> JudgeProcess:
        """A live judge with these limits, never handed out before; started now if none waits.

        Raises OSError when a judge cannot be started or limited (as ``JudgeProcess`` does).
        """
        if (memory_bytes, timeout_s) != self.limits:
            with self._lock:
                self._judging += 1  # released like any other
            return self._start(memory_bytes, timeout_s)  # other limits: not pooled
        taken: JudgeProcess | None = None
        with self._lock:
            while self._ready:
                candidate = self._ready.popleft()
                if candidate.process.poll() is None:
                    taken = candidate
                    break
                candidate.kill()  # died while it waited: reap it, try the next
            self._judging += 1
            self._ensure_filler()
            self._wanted.notify()
        return taken if taken is not None else self._start(memory_bytes, timeout_s)

    def release(self) -> None:
        """A run that took a judge has been judged: replacements may start now."""
        with self._lock:
            self._judging = max(0, self._judging - 1)
            self._wanted.notify_all()

    def _refill_now(self) -> bool:  # called with the lock held
        """Whether to start a judge now: the pool is short and either no run is going on
        or none is left waiting. A replacement would otherwise take the CPU from the runs
        being judged; it starts once they are done."""
        short = len(self._ready) < self.size
        return short and (self._judging == 0 or not self._ready)

    def waiting(self) -> list[int]:
        """The pids of the judges that wait for a run now."""
        with self._lock:
            return [judge.process.pid for judge in self._ready]

    def fill(self, timeout_s: float = 30.0) -> bool:
        """Start the background filler if needed and wait until ``size`` judges wait, each
        with its imports done."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._ensure_filler()
            self._wanted.notify()
            started = self._wanted.wait_for(
                lambda: self._closed or len(self._ready) >= self.size, timeout_s
            )
            waiting = list(self._ready)
        if not started or self._closed:
            return False
        return all(judge.ready(max(0.0, deadline - time.monotonic())) for judge in waiting)

    def close(self) -> None:
        """Stop refilling and kill every judge still waiting; the pool starts none again."""
        with self._lock:
            self._closed = True
            waiting = list(self._ready)
            self._ready.clear()
            self._wanted.notify_all()
            filler = self._filler
        for judge in waiting:
            judge.kill()
        if filler is not None and filler is not threading.current_thread():
            filler.join(timeout=30)

    @property
    def closed(self) -> bool:
        return self._closed

    def _ensure_filler(self) -> None:  # called with the lock held
        if self._closed or self.size == 0:
            return
        if self._filler is None or not self._filler.is_alive():
            self._filler = threading.Thread(target=self._fill, name="judge-pool", daemon=True)
            self._filler.start()

    def _fill(self) -> None:
        """Keep ``size`` judges waiting; replace the dead ones; stop when closed."""
        while True:
            with self._lock:
                for judge in [j for j in self._ready if j.process.poll() is not None]:
                    self._ready.remove(judge)
                    judge.kill()
                while not self._closed and not self._refill_now():
                    self._wanted.notify_all()  # fill() waits for this
                    self._wanted.wait(timeout=1.0)
                    for judge in [j for j in self._ready if j.process.poll() is not None]:
                        self._ready.remove(judge)
                        judge.kill()
                if self._closed:
                    return
            try:
                judge = self._start(*self.limits)
            except OSError:
                return  # a run then starts its own judge and reports why it cannot
            with self._lock:
                if self._closed:
                    judge.kill()
                    return
                self._ready.append(judge)
                self._wanted.notify_all()


_default_lock = threading.Lock()
_default: JudgePool | None = None
_default_pool_size: int | None = None  # None: default_size()


def set_default_pool_size(size: int | None) -> None:
    """How many judges the process's pool keeps waiting (0 for a one-run command: a judge
    started ahead would only be killed at exit); applies to the pool made next."""
    global _default_pool_size
    close_default_pool()
    _default_pool_size = size


def default_pool(limits: Limits) -> JudgePool:
    """The process's pool for judges with ``limits`` (the first limits asked for are pooled)."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = JudgePool(limits, size=_default_pool_size)
            atexit.register(_default.close)
        return _default


def close_default_pool() -> None:
    """Kill the judges that wait and stop refilling; the next run makes a new pool."""
    global _default
    with _default_lock:
        pool, _default = _default, None
    if pool is not None:
        pool.close()
