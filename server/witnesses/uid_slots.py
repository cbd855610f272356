"""Unprivileged uids for sandbox runs: one uid per concurrent run, across processes.

As root, the sandbox drops to an unprivileged uid so that RLIMIT_NPROC binds. That limit
counts every process of the uid on the machine, so runs sharing one uid (say ``nobody``)
would share one budget: a fork bomb in one run would starve its neighbours. Each run
therefore claims its own uid from a small range, with an ``flock`` on a per-uid lock file
(released by the kernel if the service dies), and gives it back only once no process of
that uid is left: a uid whose processes outlive their run stays claimed by this process.

:func:`held_uids` names the uids this process holds right now, so that a check for
leftovers looks only at its own runs, never at another service's on the same machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

# A range no distribution hands out (systemd documents 0x70000000-0x7FFEFFFF as unused by it
# except the top "foreign" block); signed-32-bit safe.
UID_BASE = 0x7A000000
UID_COUNT = 64


_held: set[int] = set()
_held_lock = threading.Lock()


class NoFreeUid(RuntimeError):
    pass


def held_uids() -> set[int]:
    """The sandbox uids this process has claimed and not given back."""
    with _held_lock:
        return set(_held)


def _proc_files(name: str, size: int) -> Iterator[tuple[int, bytes]]:
    """(pid, the first ``size`` bytes of /proc/PID/``name``) of every process still there."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/{name}", "rb") as handle:
                data = handle.read(size)
        except OSError:  # it ended since the listing
            continue
        yield int(entry), data


def descendants(root: int) -> list[int]:
    """Pids of the live (non-zombie) processes descended from ``root``."""
    children: dict[int, list[int]] = {}
    for pid, stat in _proc_files("stat", 512):
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def processes_of(uids: set[int] | range) -> list[int]:
    """Pids of live (non-zombie) processes whose real uid is in ``uids``."""
    found: list[int] = []
    for pid, status in _proc_files("status", 1024):
        start = status.find(b"\nUid:")
        state = status.find(b"\nState:")
        if start < 0 or state < 0 or status[state + 7 : state + 10].strip().startswith(b"Z"):
            continue
        fields = status[start + 5 : status.find(b"\n", start + 1)].split()
        if fields and int(fields[0]) in uids:
            found.append(pid)
    return found


def kill_all_of(uid: int, deadline_s: float = 5.0) -> list[int]:
    """SIGKILL every process of ``uid`` until none is left; returns the survivors (if any)."""
    end = time.monotonic() + deadline_s
    while True:
        pids = processes_of({uid})
        if not pids or time.monotonic() > end:
            return pids
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)


class UidClaim:
    """A claimed uid; set ``sweep`` when processes of it might still be alive."""

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self.sweep = False


@contextlib.contextmanager
def claim_uid(lock_dir: Path, wait_s: float) -> Iterator[UidClaim]:
    """Hold one free sandbox uid for the duration of the block."""
    end = time.monotonic() + wait_s
    order = list(range(UID_COUNT))
    random.shuffle(order)
    while True:
        for index in order:
            uid = UID_BASE + index
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(lock_dir / f"{uid}.lock", flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            claim = UidClaim(uid)
            with _held_lock:
                _held.add(uid)
            try:
                yield claim
            finally:
                # Nothing of a run that ended on its own should be left, but a run's uid is
                # only given back once that is so (one scan of /proc when nothing is left).
                survivors = kill_all_of(uid, 5.0 if claim.sweep else 1.0)
                if not survivors:
                    with _held_lock:
                        _held.discard(uid)
                    os.close(fd)  # releases the lock
                # With survivors the lock stays held: the uid is not reused by this process.
            return
        if time.monotonic() > end:
            raise NoFreeUid(f"all {UID_COUNT} sandbox uids are busy")
        time.sleep(0.01)
