"""Run one witness confined and judge it: ``run_in_sandbox`` and ``probe_confinement``.

A run: claim an unprivileged uid (as root), write the code and a job file to a fresh host
directory, start bubblewrap (``bwrap.py`` has the exact command line) with a seccomp filter,
read its output capped until it ends or the wall clock runs out, read the harness report
back safely, and judge the checks (``checks.py``). The launcher inside (``confine.py``)
lowers the CPU, address-space, thread, file-size, open-file and core limits and refuses
``execve`` before the harness runs; the run is one process, so those limits are the run's.

Thread-safe: runs share nothing but the per-process layout, so ``readingroom check`` runs
them in parallel from a thread pool (``run_many``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import stat
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.content import Check
from server.witnesses import bwrap, uid_slots
from server.witnesses import checks as checking
from server.witnesses.result import RunResult, RunStatus
from server.witnesses.supervise import Outcome, supervise

UNSAFE_ENV = "READINGROOM_UNSAFE_UNCONFINED_WITNESSES"
Report = checking.HarnessReport


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits. CPU seconds follow the wall-clock timeout (rounded up, plus one).

    A confined run is one process (new processes and ``execve`` are refused), so the
    address-space and CPU-time limits hold for the run as a whole, all threads included.
    """

    memory_bytes: int = 1 << 30  # RLIMIT_AS: the run's whole address space
    processes: int = 32  # RLIMIT_NPROC: the run's threads (it cannot start processes)
    file_size_bytes: int = 16 << 20  # RLIMIT_FSIZE: the largest file it may write
    open_files: int = 256  # RLIMIT_NOFILE
    scratch_bytes: int = 64 << 20  # size of the private tmpfs at /tmp
    scratch_inodes: int = 8192  # files and directories it may hold (as root)
    output_bytes: int = 256 << 10  # each of stdout and stderr; more ends the run
    report_bytes: int = 8 << 20  # the harness report read back from the run

    def rlimits(self, timeout_s: float) -> dict[str, list[int]]:
        cpu = math.ceil(timeout_s) + 1
        return {
            "RLIMIT_CPU": [cpu, cpu + 1],
            "RLIMIT_AS": [self.memory_bytes, self.memory_bytes],
            "RLIMIT_NPROC": [self.processes, self.processes],
            "RLIMIT_FSIZE": [self.file_size_bytes, self.file_size_bytes],
            "RLIMIT_NOFILE": [self.open_files, self.open_files],
            "RLIMIT_CORE": [0, 0],
        }


class ConfinementStatus(BaseModel):
    """Whether witnesses can be confined here, how, and what is missing if not."""

    model_config = ConfigDict(frozen=True)

    available: bool
    mode: Literal["bwrap+setpriv", "bwrap-userns", "none"]
    message: str
    missing: list[str] = []
    seccomp: bool = False


def run_in_sandbox(
    code: str,
    *,
    checks: Sequence[Mapping[str, Any]] | None = None,
    timeout_s: float = 10.0,
    limits: SandboxLimits | None = None,
    unconfined: bool | None = None,
) -> RunResult:
    """Run ``code`` under ``checks`` (content/README.md syntax); blocks until it is judged.

    ``unconfined=True`` runs it with no sandbox at all: unsafe, for a single trusted local
    user. Left as None, it follows ``READINGROOM_UNSAFE_UNCONFINED_WITNESSES``. Otherwise a
    sandbox that fails its start-up probe answers ``sandbox-unavailable``; nothing runs.
    Invalid ``checks`` raise :class:`server.errors.InvalidInput`.
    """
    parsed = checking.parse_checks([dict(c) for c in checks or []])
    limits = limits or SandboxLimits()
    if unconfined is None:
        unconfined = unconfined_allowed()
    if unconfined:
        return _run_unconfined(code, parsed, timeout_s, limits)
    status = probe_confinement()
    if not status.available:
        return RunResult(status="sandbox-unavailable", message=status.message)
    return _run_confined(bwrap.layout(), code, parsed, timeout_s, limits)


def run_many(
    jobs: Sequence[tuple[str, Sequence[Mapping[str, Any]] | None, float]],
    *,
    workers: int | None = None,
    limits: SandboxLimits | None = None,
    unconfined: bool | None = None,
) -> list[RunResult]:
    """Run ``(code, checks, timeout_s)`` jobs in parallel, results in the jobs' order."""

    def one(job: tuple[str, Sequence[Mapping[str, Any]] | None, float]) -> RunResult:
        code, checks, timeout_s = job
        return run_in_sandbox(
            code, checks=checks, timeout_s=timeout_s, limits=limits, unconfined=unconfined
        )

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(one, jobs))


def unconfined_allowed() -> bool:
    """``READINGROOM_UNSAFE_UNCONFINED_WITNESSES`` as the settings read it."""
    if not any(name.upper() == UNSAFE_ENV for name in os.environ):
        return False  # the usual case, without building Settings on every run
    from server.config import Settings

    return Settings().unsafe_unconfined_witnesses


def read_report(path: Path, limit: int) -> tuple[Report | None, str | None]:
    """Read the harness report: never through a symlink, never past ``limit`` bytes.

    Returns the report, or None and why it could not be used.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, "the run left no report"
    except OSError as error:
        return None, f"the report could not be opened safely ({error.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "the report is not a regular file"
        data = bytearray()
        while len(data) <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - len(data)))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > limit:
        return None, f"the report is larger than {limit} bytes"
    if not data:
        return None, "the run ended before its checks could be evaluated"
    try:
        return Report.model_validate(json.loads(data)), None
    except (ValueError, RecursionError, ValidationError):
        return None, "the report is not valid"


# ---------------------------------------------------------------------------------------
# One run


def _write_job(
    directory: Path, code: str, checks: list[Check], rlimits: dict[str, list[int]], inside: str
) -> None:
    (directory / "witness.py").write_text(code, encoding="utf-8", errors="replace")
    job = {
        "code_path": f"{inside}/witness.py",
        "result_path": f"{inside}/result.json",
        "limits": rlimits,
        **checking.harness_job(checks),
    }
    (directory / "job.json").write_text(json.dumps(job), encoding="utf-8")
    for name in ("witness.py", "job.json"):
        (directory / name).chmod(0o644)


def _rlimits(limits: SandboxLimits, timeout_s: float) -> dict[str, list[int]]:
    rlimits = limits.rlimits(timeout_s)
    if os.geteuid() != 0:  # the run keeps the caller's uid, whose other tasks count too
        in_use = 0
        for pid in uid_slots.processes_of({os.getuid()}):
            with contextlib.suppress(OSError):
                in_use += len(os.listdir(f"/proc/{pid}/task"))
        rlimits["RLIMIT_NPROC"] = [in_use + limits.processes] * 2
    return rlimits


def _run_confined(
    layout: bwrap.Layout, code: str, checks: list[Check], timeout_s: float, limits: SandboxLimits
) -> RunResult:
    if layout.mode != "bwrap+setpriv":
        outcome, report, problem = _confined_once(layout, code, checks, timeout_s, limits, None)
        return _judge(outcome, report, problem, checks, timeout_s, limits, confined=True)
    try:
        with uid_slots.claim_uid(layout.state_dir / "uids", wait_s=timeout_s) as claim:
            outcome, report, problem = _confined_once(
                layout, code, checks, timeout_s, limits, claim.uid
            )
            # Killed from outside: the pid namespace may take a moment to empty.
            claim.sweep = outcome.timed_out or bool(outcome.overflow) or (
                outcome.returncode is not None and outcome.returncode < 0
            )  # fmt: skip
    except uid_slots.NoFreeUid as error:
        return RunResult(status="error", message=str(error))
    return _judge(outcome, report, problem, checks, timeout_s, limits, confined=True)


def _confined_once(
    layout: bwrap.Layout,
    code: str,
    checks: list[Check],
    timeout_s: float,
    limits: SandboxLimits,
    uid: int | None,
) -> tuple[Outcome, Report | None, str | None]:
    rlimits = _rlimits(limits, timeout_s)
    with (
        bwrap.run_dir(layout.runs_dir, uid) as directory,
        bwrap.scratch_mount(layout, limits.scratch_bytes, limits.scratch_inodes) as scratch,
    ):
        _write_job(directory, code, checks, rlimits, bwrap.RUN_DIR_INSIDE)
        fds: list[int] = []
        read_end: int | None = None
        if layout.seccomp is not None:
            read_end, write_end = os.pipe()
            fds.append(read_end)
            os.write(write_end, layout.seccomp)  # a few hundred bytes: fits the pipe buffer
            os.close(write_end)
        started_read, started_write = os.pipe()  # the launcher writes one byte once confined
        fds += [started_read, started_write]
        try:
            command = bwrap.confined_command(
                layout,
                directory,
                limits.scratch_bytes if scratch is None else scratch,
                uid,
                read_end,
                rlimits=rlimits,
                started_fd=started_write,
            )
            outcome = supervise(
                command,
                timeout_s=timeout_s,
                output_cap=limits.output_bytes,
                env={"PATH": bwrap.INNER_PATH},
                cwd="/",
                pass_fds=(started_write,) if read_end is None else (read_end, started_write),
            )
            os.close(started_write)
            fds.remove(started_write)
            os.set_blocking(started_read, False)
            try:  # the byte is there if the launcher ever wrote it
                outcome.started = os.read(started_read, 1) == b"1"
            except BlockingIOError:  # nothing written, a writer still open somewhere
                outcome.started = False
        finally:
            for fd in fds:
                os.close(fd)
        report, problem = read_report(directory / "result.json", limits.report_bytes)
    return outcome, report, problem


def _run_unconfined(
    code: str, checks: list[Check], timeout_s: float, limits: SandboxLimits
) -> RunResult:
    runs_dir = bwrap.private_dir(bwrap.state_dir() / "runs")
    with bwrap.run_dir(runs_dir, None) as directory:
        _write_job(directory, code, checks, _rlimits(limits, timeout_s), str(directory))
        command, env = bwrap.unconfined_command(directory)
        outcome = supervise(
            command,
            timeout_s=timeout_s,
            output_cap=limits.output_bytes,
            env=env,
            cwd=env["TMPDIR"],
        )
        report, problem = read_report(directory / "result.json", limits.report_bytes)
    return _judge(outcome, report, problem, checks, timeout_s, limits, confined=False)


# ---------------------------------------------------------------------------------------
# Verdict


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _ended_by(
    outcome: Outcome, report: Report | None, timeout_s: float, limits: SandboxLimits
) -> tuple[RunStatus, int, str] | None:
    """(status, signal, message) when the run did not end on its own terms, else None."""
    code = outcome.returncode
    if outcome.timed_out:
        why = f"the run exceeded its wall-clock limit of {timeout_s:g} s and was killed"
        return "timeout", int(signal.SIGKILL), why
    if outcome.overflow:
        why = f"{outcome.overflow} exceeded {limits.output_bytes} bytes; the run was killed"
        return "output-limit", int(signal.SIGKILL), why
    if code is not None and code < 0:
        return "killed", -code, f"killed by {_signal_name(-code)}"
    # bwrap reports a child killed by signal N as exit status 128 + N. The harness records
    # the status it exits with, which tells a real `exit(139)` apart from a SIGSEGV.
    if code is not None and code > 128 and (report is None or report.exit_code != code):
        return "killed", code - 128, f"killed by {_signal_name(code - 128)}"
    return None


def _judge(
    outcome: Outcome,
    report: Report | None,
    problem: str | None,
    checks: list[Check],
    timeout_s: float,
    limits: SandboxLimits,
    *,
    confined: bool,
) -> RunResult:
    stdout = outcome.stdout.decode("utf-8", errors="replace")
    stderr = outcome.stderr.decode("utf-8", errors="replace")
    ended = _ended_by(outcome, report, timeout_s, limits)
    if ended is not None:
        status, signal_number, message = ended
        return RunResult(
            status=status,
            stdout=stdout,
            stderr=stderr,
            signal=signal_number,
            duration_ms=outcome.duration_ms,
            checks=checking.not_evaluated(checks, status),
            message=message,
            stdout_truncated=outcome.overflow == "stdout",
            stderr_truncated=outcome.overflow == "stderr",
            confined=confined,
        )
    results = checking.evaluate_checks(checks, stdout, report)
    verdict = checking.verdict(checks, results, outcome.returncode, report)
    note: str | None = problem if (report is None and checks) else None
    if outcome.started is False:  # decided by the launcher's signal, never by the output
        lines = stderr.strip().splitlines()
        verdict = "error"
        note = f"the sandbox could not start: {lines[0] if lines else 'no message'}"
    return RunResult(
        status=verdict,
        stdout=stdout,
        stderr=stderr,
        exit_code=outcome.returncode,
        duration_ms=outcome.duration_ms,
        checks=results,
        message=note,
        confined=confined,
    )


# ---------------------------------------------------------------------------------------
# Start-up probe

_probe_lock = threading.Lock()
_probe_result: ConfinementStatus | None = None

PROBE_CODE = """
import ctypes, errno, importlib.util, json, os, resource, socket, threading, numpy
libc = ctypes.CDLL(None, use_errno=True)

def refused(attempt):
    try:
        attempt()
    except OSError as error:
        return error.errno == errno.EPERM
    return False

def fork():
    if os.fork() == 0:
        os._exit(0)

thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
with open("/proc/self/mountinfo") as handle:
    mounts = handle.read()
scratch = os.statvfs("/tmp")
print(json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "numpy": numpy.__version__,
                  "interfaces": sorted(name for _, name in socket.if_nameindex()),
                  "unshare_refused": libc.unshare(0x10000000) != 0,
                  "fork_refused": refused(fork),
                  "exec_refused": refused(lambda: os.execv("/nonexistent", ["x"])),
                  "address_space": resource.getrlimit(resource.RLIMIT_AS)[1],
                  "importable": [name for name in ("pydantic", "sqlalchemy", "fastapi")
                                 if importlib.util.find_spec(name) is not None],
                  "scratch_inodes": scratch.f_files, "mountinfo": mounts}))
"""


def leaked_paths(mountinfo: str, host_paths: set[str]) -> list[str]:
    """The ``host_paths`` that a mount table (``/proc/self/mountinfo``) names: as the root
    of a mount or its mount point, or anywhere below either."""
    named = set()
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            named |= {fields[3].replace("\\040", " "), fields[4].replace("\\040", " ")}
    return sorted(
        host for host in host_paths if any(p == host or p.startswith(host + "/") for p in named)
    )


def _host_paths() -> set[str]:
    """Paths of the service's own installation that must not show inside the sandbox."""
    paths = {sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parents[2])}
    paths |= {os.path.realpath(p) for p in paths}
    with contextlib.suppress(RuntimeError, KeyError):
        paths.add(str(Path.home()))
    return {p for p in paths if p not in ("/", "/usr", "/usr/local")}


def _confinement_problems(seen: dict[str, Any], limits: SandboxLimits, root: bool) -> list[str]:
    problems = []
    if root and 0 in (seen["uid"], seen["euid"]):
        problems.append("the sandboxed process still runs as root")
    if seen["interfaces"] != ["lo"]:
        problems.append(f"the sandbox sees network interfaces {seen['interfaces']}")
    if not seen["unshare_refused"]:
        problems.append("the sandbox may create user namespaces")
    if not seen["fork_refused"]:
        problems.append("the sandbox may start new processes (one process per run is the rule)")
    if not seen["exec_refused"]:
        problems.append("the sandbox may execute other programs")
    if seen["address_space"] != limits.memory_bytes:
        problems.append(f"the run's address-space limit is {seen['address_space']}")
    if seen["importable"]:
        problems.append(f"the sandbox can import {', '.join(seen['importable'])}")
    if root and seen["scratch_inodes"] != limits.scratch_inodes:
        problems.append(f"the scratch directory holds {seen['scratch_inodes']} inodes")
    leaked = leaked_paths(seen["mountinfo"], _host_paths())
    if leaked:
        problems.append(f"host paths show through the sandbox's mount table: {leaked}")
    return problems


def probe_confinement(*, refresh: bool = False) -> ConfinementStatus:
    """Check (once per process; ``refresh`` re-checks) that a sandboxed run is confined.

    Runs a small program in the sandbox: it must be able to import numpy and start a
    thread, must not be root, must see no network interface but its own loopback, must be
    refused a new user namespace, a new process and ``execve``, must run under the run's
    address-space limit (and, as root, on a scratch tmpfs with the inode cap), must not find
    the service's own packages, and its mount table must name no path of the checkout, the
    virtualenv, the interpreter's prefix or the home directory. Otherwise witnesses are not
    run. The service calls this at start-up.
    """
    global _probe_result
    with _probe_lock:
        if _probe_result is None or refresh:
            if refresh:
                bwrap.layout.cache_clear()
            _probe_result = _probe()
        return _probe_result


def _unavailable(message: str, missing: list[str]) -> ConfinementStatus:
    return ConfinementStatus(
        available=False,
        mode="none",
        message=(
            f"the witness sandbox is unavailable: {message}. Witnesses are not run "
            f"unconfined; a single trusted local user may opt out with --unsafe-no-sandbox "
            f"({UNSAFE_ENV}=true), which is unsafe"
        ),
        missing=missing,
    )


def _probe() -> ConfinementStatus:
    root_mode = os.geteuid() == 0
    missing = []
    if shutil.which("bwrap") is None:
        missing.append("bubblewrap (bwrap): install the Debian package 'bubblewrap'")
    if root_mode and shutil.which("setpriv") is None:
        missing.append("setpriv: install the Debian package 'util-linux'")
    if bwrap.numpy_dir() is None:
        missing.append("numpy in the service's Python environment")
    if missing:
        return _unavailable("missing " + "; ".join(missing), missing)
    try:
        layout = bwrap.layout()
    except OSError as error:
        return _unavailable(f"its files cannot be prepared ({error})", [str(error)])
    limits = SandboxLimits()
    result = _run_confined(layout, PROBE_CODE, [], 30.0, limits)
    if result.status != "passed":
        lines = result.stderr.strip().splitlines()
        why = result.message or (lines[-1] if lines else result.status)
        what = "namespaces" if root_mode else "user namespaces"
        return _unavailable(
            f"a confined test run failed: {why} (can {what} be created here?)",
            [f"a working bwrap sandbox: {why}"],
        )
    try:
        seen = json.loads(result.stdout)
        problems = _confinement_problems(seen, limits, root_mode)
    except (ValueError, KeyError, TypeError):
        return _unavailable("the confined test run printed nothing readable", ["probe output"])
    if problems:
        return _unavailable("; ".join(problems), problems)
    return ConfinementStatus(
        available=True,
        mode=layout.mode,
        message=f"witnesses run confined ({layout.mode}, one process, no network, "
        f"numpy {seen['numpy']})",
        seccomp=True,
    )
