"""Start a process, read its output (capped) and kill its whole group at the deadline."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """How the process ended, as far as the host can see."""

    returncode: int | None = None
    timed_out: bool = False
    overflow: str | None = None  # "stdout" or "stderr": that stream passed its cap
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    duration_ms: float = 0.0
    # Whether the sandbox came up (its launcher signalled on a pipe); None when unconfined.
    started: bool | None = None


def supervise(
    command: list[str],
    *,
    timeout_s: float,
    output_cap: int,
    env: dict[str, str],
    cwd: str,
    pass_fds: tuple[int, ...] = (),
) -> Outcome:
    """Run ``command`` in a new session with stdin from /dev/null.

    Both output streams are read as they come, keeping at most ``output_cap`` bytes each;
    passing the cap or the deadline SIGKILLs the process group (for bwrap, that takes the
    sandbox's pid namespace and every process in it).
    """
    outcome = Outcome()
    started = time.monotonic()
    deadline = started + timeout_s
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        pass_fds=pass_fds,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    streams = {
        process.stdout.fileno(): ("stdout", outcome.stdout),
        process.stderr.fileno(): ("stderr", outcome.stderr),
    }
    try:
        _read_until_done(streams, deadline, output_cap, outcome)
        if not (outcome.timed_out or outcome.overflow):
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                outcome.timed_out = True
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
        process.stderr.close()
    outcome.returncode = process.returncode
    outcome.duration_ms = round((time.monotonic() - started) * 1000, 1)
    return outcome


def _read_until_done(
    streams: dict[int, tuple[str, bytearray]], deadline: float, cap: int, outcome: Outcome
) -> None:
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome.timed_out = True
                return
            for key, _ in selector.select(remaining):
                name, buffer = streams[key.fd]
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                buffer += chunk
                if len(buffer) > cap:
                    del buffer[cap:]
                    outcome.overflow = name
                    return
