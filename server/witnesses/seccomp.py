"""A small seccomp filter for the sandbox: no new namespaces, no mounts, no kernel extras.

Without it, the unprivileged sandbox user could create its own user namespace and, inside
it, mount an uncapped tmpfs (filling the host's memory past the capped scratch dir) or reach
kernel code that is only exposed to namespace-root. The filter returns EPERM for:

- ``unshare``, ``setns`` and ``clone`` with any namespace flag; ``clone3`` gets ENOSYS so
  that libc falls back to ``clone``, whose flags a classic BPF filter can inspect;
- ``mount``, ``umount2``, ``pivot_root``, ``chroot`` and the new mount API;
- ``bpf``, ``perf_event_open``, ``userfaultfd``, ``ptrace``, the keyring calls and io_uring.

System calls of any other architecture (32-bit calls from a 64-bit process, x32) kill the
process. The program is classic BPF (``struct sock_filter``), handed to ``bwrap --seccomp``.
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

# fmt: off
_DENIED_NAMES = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "bpf",
    "perf_event_open", "userfaultfd", "ptrace", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)

# (audit arch, syscall numbers by name) for the architectures the filter knows.
_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "clone": 56, "clone3": 435, "unshare": 272, "setns": 308, "mount": 165,
        "umount2": 166, "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "ptrace": 101, "keyctl": 250,
        "add_key": 248, "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427,
    }),
    "aarch64": (0xC00000B7, {
        "clone": 220, "clone3": 435, "unshare": 97, "setns": 268, "mount": 40,
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


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, or None when it is not one we know."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, numbers = arch
    eperm = _ERRNO | errno.EPERM
    program = [
        _op(_LD_W_ABS, _ARCH),
        _op(_JEQ_K, audit_arch, jt=1),
        _op(_RET_K, _KILL_PROCESS),
        _op(_LD_W_ABS, _NR),
    ]
    if audit_arch == 0xC000003E:  # x32 system calls share the arch but set this bit
        program += [_op(_JGE_K, _X32_BIT, jf=1), _op(_RET_K, _KILL_PROCESS)]
    for name in _DENIED_NAMES:
        program += [_op(_JEQ_K, numbers[name], jf=1), _op(_RET_K, eperm)]
    program += [
        _op(_JEQ_K, numbers["clone3"], jf=1),
        _op(_RET_K, _ERRNO | errno.ENOSYS),
        _op(_JEQ_K, numbers["clone"], jf=3),
        _op(_LD_W_ABS, _ARG0_LOW),
        _op(_JSET_K, _NAMESPACE_FLAGS, jf=1),
        _op(_RET_K, eperm),
        _op(_RET_K, _ALLOW),
    ]
    return b"".join(program)
