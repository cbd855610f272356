"""The first Python that runs inside the sandbox: confine this process, then run the harness.

Run as ``python confine.py LIMITS STARTED_FD FILTER HARNESS [ARGS...]`` (only the standard
library is imported: nothing of the service is visible inside). In order, before any witness
code runs, it

1. lowers the resource limits named in ``LIMITS`` (JSON: ``{"RLIMIT_AS": [soft, hard]}``);
   a hard limit can never be raised again. The run is one process (the seccomp filter bwrap
   installed refuses new ones), so the address-space and CPU-time limits bound the run; and
   gives its session (bwrap made a new one) the run's niceness (``yield_in_session``);
2. installs the seccomp program ``FILTER`` (hex of ``struct sock_filter`` entries, see
   ``seccomp.exec_program``) on itself, which refuses ``execve``: from here on the process
   cannot turn into another program;
3. writes one byte to the inherited descriptor ``STARTED_FD`` and closes it. The host reads
   that byte to know the sandbox came up; without it, a failed run is the sandbox's failure,
   whatever the output says. Text a witness prints can never stand in for it;
4. runs ``HARNESS`` as ``__main__`` with ``ARGS``.

Any failure of steps 1-3 exits with status 125 before the byte is written.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import runpy
import sys
import time

_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_PR_SET_NO_NEW_PRIVS = 38
_AUTOGROUP_TRIES = 50  # 10 ms apart: the kernel allows one change per 100 ms


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def apply_limits(limits: dict[str, list[int]]) -> None:
    """Lower soft and hard limits (never above what is already set); a hard limit can never
    be raised again by the code. The harness loads this too (for unconfined runs)."""
    for name, (soft, hard) in limits.items():
        which = getattr(resource, name)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def yield_in_session() -> None:
    """Give this process's session the process's own niceness.

    Under the kernel's autogroup scheduling, niceness orders processes only within one
    session, and sessions share the CPU as equals: a run (bwrap starts it in a session of its
    own) or a judge would take as much of the CPU as the whole server, however niced. Raising
    a session's niceness needs no privilege, but the kernel takes one such change every tenth
    of a second from unprivileged processes (EAGAIN otherwise), so it is asked again for a
    while; without autogroups there is nothing to do."""
    niceness = str(os.getpriority(os.PRIO_PROCESS, 0))
    for _ in range(_AUTOGROUP_TRIES):
        try:
            with open("/proc/self/autogroup", "w", encoding="ascii") as autogroup:
                autogroup.write(niceness)
            return
        except BlockingIOError:  # another process changed a session's niceness just now
            time.sleep(0.01)
        except OSError:
            return


def install_filter(program: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if not program or len(program) % 8:
        raise ValueError("the seccomp program is not a list of 8-byte instructions")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def main(argv: list[str]) -> None:
    limits, started_fd, program, harness = argv[1], int(argv[2]), argv[3], argv[4]
    try:
        apply_limits(json.loads(limits))
        yield_in_session()
        if program != "-":
            install_filter(bytes.fromhex(program))
        os.write(started_fd, b"1")
        os.close(started_fd)
    except (OSError, ValueError) as error:
        print(f"sandbox launcher: {error}", file=sys.stderr)
        sys.exit(125)
    sys.argv = [harness, *argv[5:]]
    runpy.run_path(harness, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv)
