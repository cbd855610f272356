"""Run one witness confined and have it judged: ``run_in_sandbox`` and ``probe_confinement``.

A run: take a judge (``checks.JudgeProcess``: its own process, which never runs witness
code, judges this one run and exits; ``judge_pool`` starts them ahead) when there are
checks, claim an unprivileged uid (as root), write the code and a job file (the judge's
requests: variables to hand back, points to evaluate functions at) to a fresh host
directory, start bubblewrap (``bwrap.py`` has the exact command line) with a seccomp filter
and a pipe for the harness's raw output, read stdout, stderr and that pipe, each capped,
until the run ends or the wall clock runs out, then hand all of it, unparsed, to the judge,
whose answer is the verdict. The launcher inside (``confine.py``) lowers the CPU,
address-space, thread, file-size, open-file and core limits and refuses ``execve`` before the
harness runs; the run is one process, so those limits are the run's.

Thread-safe: runs share nothing but the per-process layout, so ``readingroom check`` runs
them in parallel from a thread pool (``run_many``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import select
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from schemas.content import Check
from server.witnesses import bwrap, uid_slots
from server.witnesses import checks as checking
from server.witnesses.checks import JudgeFailed, JudgeProcess, as_plain, judge_process
from server.witnesses.judge import plan as plan_requests
from server.witnesses.judge import raw_output_cap
from server.witnesses.judge_pool import default_pool
from server.witnesses.result import RunResult, RunStatus
from server.witnesses.supervise import Outcome, supervise

UNSAFE_ENV = "READINGROOM_UNSAFE_UNCONFINED_WITNESSES"


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
    report_bytes: int = 8 << 20  # raw output beyond the values the judge asked for
    judge_memory_bytes: int = 2 << 30  # RLIMIT_AS of the judge process
    judge_timeout_s: float = 30.0  # wall time of the judge (its CPU limit follows it)
    niceness: int = 10  # RUN_NICENESS; the start-up check runs at BACKGROUND_NICENESS

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


RUN_NICENESS = SandboxLimits.niceness  # the judges' too: on a busy machine, requests come first
BACKGROUND_NICENESS = 19  # the start-up check's runs: after requests and after users' runs
BACKGROUND_LIMITS = SandboxLimits(niceness=BACKGROUND_NICENESS)


@functools.lru_cache(maxsize=1)
def _nice_program() -> str | None:
    return shutil.which("nice")


def yielding(command: list[str], niceness: int = RUN_NICENESS) -> list[str]:
    """``command`` at ``niceness`` (``nice`` execs it: same pid, same fds), so that runs take
    the CPU the server's requests leave; on an idle machine nothing changes. As it is, where
    there is no ``nice``."""
    program = _nice_program()
    return command if program is None else [program, "-n", str(niceness), *command]


def unconfined_allowed() -> bool:
    """``READINGROOM_UNSAFE_UNCONFINED_WITNESSES`` as the settings read it."""
    if not any(name.upper() == UNSAFE_ENV for name in os.environ):
        return False  # the usual case, without building Settings on every run
    from server.config import Settings

    return Settings().unsafe_unconfined_witnesses


class RawCapture(threading.Thread):
    """Drains the pipe the harness writes its raw output to, keeping at most ``cap`` bytes.

    Read while the run goes on (so the harness never blocks on a full pipe); what is past the
    cap is read and dropped. The bytes are not parsed here: that is the judge's work.
    """

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.cap = fd, cap
        self.data = bytearray()
        self.overflow = False
        self._stop_reading = threading.Event()

    def run(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                if self._stop_reading.is_set():
                    return
                continue
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            if len(self.data) + len(chunk) > self.cap:
                self.overflow = True
                continue
            self.data += chunk

    def finish(self, grace_s: float = 1.0) -> None:
        """Wait for the end of the pipe (``grace_s`` at most: a leftover process may hold it)."""
        self.join(grace_s)
        self._stop_reading.set()
        self.join()
        os.close(self.fd)

    def problem(self) -> str | None:
        if self.overflow:
            return f"the raw output is larger than {self.cap} bytes"
        return None


@dataclass
class Ended:
    """What the host saw of one run: the supervised process and its raw output."""

    outcome: Outcome
    raw: bytes
    raw_problem: str | None


# ---------------------------------------------------------------------------------------
# One run


def _write_job(
    directory: Path,
    code: str,
    requests: list[dict[str, Any]],
    rlimits: dict[str, list[int]],
    inside: str,
    raw_fd: int,
) -> None:
    (directory / "witness.py").write_text(code, encoding="utf-8", errors="replace")
    job = {
        "code_path": f"{inside}/witness.py",
        "raw_fd": raw_fd,
        "limits": rlimits,
        "requests": requests,
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


@contextlib.contextmanager
def _judge_for(checks: list[Check], limits: SandboxLimits) -> Iterator[JudgeProcess | None]:
    """A judge for this run alone when there is something to judge: one that the pool started
    ahead (its imports done, or overlapping the run), or a fresh one."""
    if not checks:
        yield None
        return
    wanted = (limits.judge_memory_bytes, limits.judge_timeout_s)
    pool = default_pool(wanted)
    try:
        process = pool.take(*wanted)
    except OSError:
        pool.release()
        yield None  # the verdict then tries once more, and says why if it cannot
        return
    try:
        yield process
    finally:
        process.kill()
        pool.release()


def _run_confined(
    layout: bwrap.Layout, code: str, checks: list[Check], timeout_s: float, limits: SandboxLimits
) -> RunResult:
    with _judge_for(checks, limits) as judge:
        if layout.mode != "bwrap+setpriv":
            ended = _confined_once(layout, code, checks, timeout_s, limits, None)
            return _decide(ended, judge, checks, timeout_s, limits, confined=True)
        try:
            with uid_slots.claim_uid(layout.state_dir / "uids", wait_s=timeout_s) as claim:
                ended = _confined_once(layout, code, checks, timeout_s, limits, claim.uid)
                outcome = ended.outcome
                # Killed from outside: the pid namespace may take a moment to empty.
                claim.sweep = outcome.timed_out or bool(outcome.overflow) or (
                    outcome.returncode is not None and outcome.returncode < 0
                )  # fmt: skip
        except uid_slots.NoFreeUid as error:
            return RunResult(status="error", message=str(error))
        return _decide(ended, judge, checks, timeout_s, limits, confined=True)


def _supervised_with_raw_pipe(
    checks: list[Check],
    limits: SandboxLimits,
    start: Callable[[int, list[dict[str, Any]]], Outcome],
) -> Ended:
    """Run ``start(raw_fd, requests)`` while a thread drains the raw-output pipe."""
    requests, _ = plan_requests(as_plain(checks))
    read_end, write_end = os.pipe()
    capture = RawCapture(read_end, raw_output_cap(requests, limits.report_bytes))
    capture.start()
    try:
        outcome = start(write_end, requests)
    finally:
        os.close(write_end)
        capture.finish()
    return Ended(outcome, bytes(capture.data), capture.problem())


def _confined_once(
    layout: bwrap.Layout,
    code: str,
    checks: list[Check],
    timeout_s: float,
    limits: SandboxLimits,
    uid: int | None,
) -> Ended:
    rlimits = _rlimits(limits, timeout_s)
    with (
        bwrap.run_dir(layout.runs_dir, uid) as directory,
        bwrap.scratch_mount(layout, limits.scratch_bytes, limits.scratch_inodes) as scratch,
    ):

        def start(raw_fd: int, requests: list[dict[str, Any]]) -> Outcome:
            _write_job(directory, code, requests, rlimits, bwrap.RUN_DIR_INSIDE, raw_fd)
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
                passed = (raw_fd, started_write) + (() if read_end is None else (read_end,))
                outcome = supervise(
                    yielding(command, limits.niceness),
                    timeout_s=timeout_s,
                    output_cap=limits.output_bytes,
                    env={"PATH": bwrap.INNER_PATH},
                    cwd="/",
                    pass_fds=passed,
                )
                os.close(started_write)
                fds.remove(started_write)
                os.set_blocking(started_read, False)
                try:  # the byte is there if the launcher ever wrote it
                    outcome.started = os.read(started_read, 1) == b"1"
                except BlockingIOError:  # nothing written, a writer still open somewhere
                    outcome.started = False
                return outcome
            finally:
                for fd in fds:
                    os.close(fd)

        return _supervised_with_raw_pipe(checks, limits, start)


def _run_unconfined(
    code: str, checks: list[Check], timeout_s: float, limits: SandboxLimits
) -> RunResult:
    runs_dir = bwrap.private_dir(bwrap.state_dir() / "runs")
    with _judge_for(checks, limits) as judge, bwrap.run_dir(runs_dir, None) as directory:

        def start(raw_fd: int, requests: list[dict[str, Any]]) -> Outcome:
            rlimits = _rlimits(limits, timeout_s)
            _write_job(directory, code, requests, rlimits, str(directory), raw_fd)
            command, env = bwrap.unconfined_command(directory)
            return supervise(
                yielding(command, limits.niceness),
                timeout_s=timeout_s,
                output_cap=limits.output_bytes,
                env=env,
                cwd=env["TMPDIR"],
                pass_fds=(raw_fd,),
            )

        ended = _supervised_with_raw_pipe(checks, limits, start)
        return _decide(ended, judge, checks, timeout_s, limits, confined=False)


# ---------------------------------------------------------------------------------------
# Verdict: only the judge's


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _ended_by(
    outcome: Outcome, timeout_s: float, limits: SandboxLimits
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
    return None


def _decide(
    ended: Ended,
    judge: JudgeProcess | None,
    checks: list[Check],
    timeout_s: float,
    limits: SandboxLimits,
    *,
    confined: bool,
) -> RunResult:
    outcome = ended.outcome
    stdout = outcome.stdout.decode("utf-8", errors="replace")
    stderr = outcome.stderr.decode("utf-8", errors="replace")
    common: dict[str, Any] = {"stdout": stdout, "stderr": stderr, "confined": confined,
                              "duration_ms": outcome.duration_ms}  # fmt: skip
    stopped = _ended_by(outcome, timeout_s, limits)
    if stopped is not None:
        status, signal_number, message = stopped
        return RunResult(
            status=status,
            signal=signal_number,
            checks=checking.not_evaluated(checks, status),
            message=message,
            stdout_truncated=outcome.overflow == "stdout",
            stderr_truncated=outcome.overflow == "stderr",
            **common,
        )
    if outcome.started is False:  # decided by the launcher's signal, never by the output
        lines = stderr.strip().splitlines()
        return RunResult(
            status="error",
            exit_code=outcome.returncode,
            checks=checking.not_evaluated(checks, "the sandbox could not start"),
            message=f"the sandbox could not start: {lines[0] if lines else 'no message'}",
            **common,
        )
    code = outcome.returncode
    # bwrap reports a child killed by signal N as exit status 128 + N; the harness hands back
    # the status it exits with, which tells a real `exit(139)` apart from a SIGSEGV.
    maybe_signal = code is not None and code > 128
    if not checks and not maybe_signal:  # nothing to judge: the exit status is the verdict
        return RunResult(status="passed" if code == 0 else "error", exit_code=code, **common)
    try:
        with contextlib.ExitStack() as stack:
            if judge is None:
                judge = stack.enter_context(
                    judge_process(limits.judge_memory_bytes, limits.judge_timeout_s)
                )
            answer = judge.decide(checks, code, bytes(outcome.stdout), ended.raw, ended.raw_problem)
    except (JudgeFailed, OSError) as error:
        return RunResult(
            status="error",
            exit_code=code,
            checks=checking.not_evaluated(checks, "the judge gave no verdict"),
            message=str(error),
            **common,
        )
    if maybe_signal and answer.reported_exit_code != code:
        assert code is not None
        return RunResult(
            status="killed",
            signal=code - 128,
            checks=checking.not_evaluated(checks, "killed"),
            message=f"killed by {_signal_name(code - 128)}",
            **common,
        )
    note = answer.message
    return RunResult(
        status=answer.status, exit_code=code, checks=answer.checks, message=note, **common
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
