"""Seccomp filters for the sandbox: one process, no new namespaces, no mounts, no extras.

Two classic BPF programs (``struct sock_filter``). The first, :func:`seccomp_program`, is
handed to ``bwrap --seccomp`` and holds from the first program bwrap starts. It returns
EPERM for:

- new processes: ``fork``, ``vfork`` and any ``clone`` without ``CLONE_THREAD`` (threads
  stay allowed); ``clone3`` gets ENOSYS so that libc falls back to ``clone``, whose flags a
  classic BPF filter can inspect. A run is therefore one process, and the per-process
  rlimits (address space, CPU time) bound the run as a whole;
- ``unshare``, ``setns`` and ``clone`` with any namespace flag: without this the
  unprivileged sandbox user could make its own user namespace and mount an uncapped tmpfs
  there, or reach kernel code only exposed to namespace-root;
- ``mount``, ``umount2``, ``pivot_root``, ``chroot`` and the new mount API;
- memory that no rlimit counts: ``memfd_create``, ``memfd_secret`` and System V shared
  memory (``shmget``), whose pages outlive their mapping;
- ``bpf``, ``perf_event_open``, ``userfaultfd``, ``ptrace``, the keyring calls and io_uring.

The second, :func:`exec_program`, refuses ``execve`` and ``execveat``. It cannot be part of
the first (bwrap and setpriv must still start the interpreter), so the in-sandbox launcher
(``confine.py``) installs it on itself before any witness code runs: from then on the
process can neither start nor become another program.

System calls of any other architecture (32-bit calls from a 64-bit process, x32) kill the
process, in both programs.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64).
_NR, _ARCH, _ARG0_LOW = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_X32_BIT = 0x40000000

_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)  # (CLONE_NEWTIME only exists for unshare and clone3, both refused)

_CLONE_THREAD = 0x00010000

# fmt: off
_DENIED_NAMES = (
    "fork", "vfork", "memfd_create", "memfd_secret", "shmget", "unshare", "setns", "mount",
    "umount2", "pivot_root", "chroot", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "bpf",
    "perf_event_open", "userfaultfd", "ptrace", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)
_EXEC_NAMES = ("execve", "execveat")

# (audit arch, syscall numbers by name) for the architectures the filter knows.
_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "memfd_create": 319,
        "memfd_secret": 447, "shmget": 29, "clone": 56, "clone3": 435, "unshare": 272,
        "setns": 308, "mount": 165,
        "umount2": 166, "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "ptrace": 101, "keyctl": 250,
        "add_key": 248, "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427,
    }),
    "aarch64": (0xC00000B7, {  # no fork or vfork here: libc uses clone
        "execve": 221, "execveat": 281, "memfd_create": 279, "memfd_secret": 447,
        "shmget": 194, "clone": 220, "clone3": 435, "unshare": 97, "setns": 268, "mount": 40,
        "umount2": 39, "pivot_root": 41, "chroot": 51, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "ptrace": 117, "keyctl": 219,
        "add_key": 217, "request_key": 218, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427,
    }),
}
# fmt: on


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _prologue(audit_arch: int) -> list[bytes]:
    """Kill a call of another architecture; leave the system call number loaded."""
    program = [
        _op(_LD_W_ABS, _ARCH),
        _op(_JEQ_K, audit_arch, jt=1),
        _op(_RET_K, _KILL_PROCESS),
        _op(_LD_W_ABS, _NR),
    ]
    if audit_arch == 0xC000003E:  # x32 system calls share the arch but set this bit
        program += [_op(_JGE_K, _X32_BIT, jf=1), _op(_RET_K, _KILL_PROCESS)]
    return program


def _refuse(names: tuple[str, ...], numbers: dict[str, int], action: int) -> list[bytes]:
    program: list[bytes] = []
    for name in names:
        if name in numbers:
            program += [_op(_JEQ_K, numbers[name], jf=1), _op(_RET_K, action)]
    return program


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The sandbox filter for this machine's architecture, or None when it is not known."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, numbers = arch
    eperm = _ERRNO | errno.EPERM
    program = _prologue(audit_arch) + _refuse(_DENIED_NAMES, numbers, eperm)
    program += [
        _op(_JEQ_K, numbers["clone3"], jf=1),
        _op(_RET_K, _ERRNO | errno.ENOSYS),
        _op(_JEQ_K, numbers["clone"], jf=4),
        _op(_LD_W_ABS, _ARG0_LOW),  # clone's flags
        _op(_JSET_K, _NAMESPACE_FLAGS, jt=1),
        _op(_JSET_K, _CLONE_THREAD, jt=1),  # a thread of this process: allowed
        _op(_RET_K, eperm),  # a new process, or new namespaces
        _op(_RET_K, _ALLOW),
    ]
    return b"".join(program)


def exec_program(machine: str | None = None) -> bytes | None:
    """The filter ``confine.py`` installs on itself: no ``execve`` from then on."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, numbers = arch
    program = _prologue(audit_arch) + _refuse(_EXEC_NAMES, numbers, _ERRNO | errno.EPERM)
    program.append(_op(_RET_K, _ALLOW))
    return b"".join(program)
