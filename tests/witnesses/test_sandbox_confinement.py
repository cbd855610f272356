"""The confinement model: one process per run, capped scratch inodes, only numpy and the
standard library visible, no host path in the mount table, and a start-up signal that
witness output cannot imitate."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.witnesses import bwrap, sandbox, seccomp
from server.witnesses.sandbox import leaked_paths, probe_confinement, run_in_sandbox

from .conftest import LIMITS, Contained, hostile

pytestmark = pytest.mark.sandbox
Run = Callable[..., Contained]
CHECKOUT = Path(__file__).resolve().parents[2]
SLOW_OK_S = 30.0  # for runs that must end on their own, even on a loaded machine


def test_forked_children_cannot_multiply_the_memory_limit(run_hostile: Run) -> None:
    contained = run_hostile(hostile("forked_memory"), timeout_s=SLOW_OK_S)
    assert contained.result.status == "error"
    assert "PermissionError: [Errno 1] Operation not permitted" in contained.result.stderr
    assert "six children" not in contained.result.stdout


def test_threads_share_the_one_address_space_limit(run_hostile: Run) -> None:
    contained = run_hostile(hostile("threads_memory"), timeout_s=SLOW_OK_S)
    assert contained.result.status == "passed", contained.result.stderr
    allocated, refused = (int(word) for word in contained.result.stdout.split()[1::2])
    assert allocated + refused == 6
    assert refused >= 3  # 6 x 150 MiB cannot fit in 512 MiB for the whole run
    assert allocated * 150 < LIMITS.memory_bytes >> 20


def test_no_other_process_or_program_can_be_started(run_hostile: Run) -> None:
    contained = run_hostile(hostile("spawn_programs"), timeout_s=SLOW_OK_S)
    assert contained.result.status == "passed", contained.result.stderr
    lines = contained.result.stdout.splitlines()
    assert lines == [
        f"refused {name} 1" for name in ("fork", "subprocess", "posix_spawn", "execv", "execv self")
    ]


def test_the_run_limits_are_the_ones_set_for_the_run() -> None:
    code = (
        "import resource, threading\n"
        "for name in ('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_NPROC', 'RLIMIT_FSIZE'):\n"
        "    print(name, *resource.getrlimit(getattr(resource, name)))\n"
        "import numpy as np\n"
        "a = np.random.default_rng(0).normal(size=(200, 200))\n"
        "print('solve', np.allclose(a @ np.linalg.solve(a, np.ones(200)), 1))\n"
        "print('threads', threading.active_count())\n"
    )
    result = run_in_sandbox(code, timeout_s=SLOW_OK_S, limits=LIMITS)
    assert result.status == "passed", result.stderr
    cpu = int(SLOW_OK_S) + 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"RLIMIT_AS {LIMITS.memory_bytes} {LIMITS.memory_bytes}"
    assert lines[1] == f"RLIMIT_CPU {cpu} {cpu + 1}"
    if os.geteuid() == 0:  # a uid of its own: the budget is exactly the run's threads
        assert lines[2] == f"RLIMIT_NPROC {LIMITS.processes} {LIMITS.processes}"
    assert lines[3] == f"RLIMIT_FSIZE {LIMITS.file_size_bytes} {LIMITS.file_size_bytes}"
    assert lines[4:] == ["solve True", "threads 1"]  # numpy works, OpenBLAS single-threaded


def test_an_unconfined_run_lowers_the_same_limits() -> None:
    """Unconfined runs start in the harness, not in the launcher: it lowers them itself."""
    code = "import resource\nprint(*resource.getrlimit(resource.RLIMIT_AS))\n"
    code += "print(*resource.getrlimit(resource.RLIMIT_FSIZE))\n"
    result = run_in_sandbox(code, timeout_s=SLOW_OK_S, limits=LIMITS, unconfined=True)
    assert result.status == "passed" and not result.confined, result.stderr
    assert result.stdout.splitlines() == [
        f"{LIMITS.memory_bytes} {LIMITS.memory_bytes}",
        f"{LIMITS.file_size_bytes} {LIMITS.file_size_bytes}",
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="the inode cap needs the service to be root")
def test_empty_files_stop_at_the_scratch_inode_cap(run_hostile: Run) -> None:
    contained = run_hostile(hostile("many_empty_files"), timeout_s=SLOW_OK_S)
    assert contained.result.status == "passed", contained.result.stderr
    words = contained.result.stdout.split()
    assert words[0] == "created" and words[2:] == ["then", "No", "space", "left", "on", "device"]
    assert 0 < int(words[1]) < LIMITS.scratch_inodes  # the root directory is one of them


@pytest.mark.skipif(os.geteuid() != 0, reason="the inode cap needs the service to be root")
def test_scratch_mounts_are_gone_after_the_run() -> None:
    scratch_dir = bwrap.layout().scratch_dir
    assert scratch_dir is not None
    result = run_in_sandbox("open('/tmp/x', 'w').write('x')", timeout_s=SLOW_OK_S, limits=LIMITS)
    assert result.status == "passed"
    mine = f"{scratch_dir}/{os.getpid()}-"  # other services' runs may be mounted meanwhile
    assert [p for p in scratch_dir.iterdir() if str(p).startswith(mine)] == []
    assert f" {mine}" not in Path("/proc/self/mountinfo").read_text()


def _host_paths() -> list[str]:
    paths = {
        str(CHECKOUT),
        sys.prefix,
        os.path.realpath(sys.prefix),
        sys.base_prefix,
        os.path.realpath(sys.base_prefix),
        str(Path.home()),
    }
    return sorted(p for p in paths if p not in ("/", "/usr"))


def test_only_numpy_and_the_standard_library_are_visible(run_hostile: Run) -> None:
    contained = run_hostile(hostile("visible_files"), timeout_s=SLOW_OK_S)
    assert contained.result.status == "passed", contained.result.stderr
    out = contained.result.stdout
    assert " /sandbox/python " in out  # the mount table was read
    assert leaked_paths(out, set(_host_paths())) == []
    for path in _host_paths():
        assert path not in out, f"{path} shows through the sandbox's mount table"
    for name in ("sqlalchemy", "fastapi", "pydantic", "yaml", "pytest", "server"):
        assert f"refused {name}" in out
    assert "IMPORTED" not in out
    assert "/usr/lib/python3 []" in out  # the host's own packages are covered
    assert "/sandbox/site ['numpy', 'numpy.libs']" in out or "/sandbox/site ['numpy']" in out


def test_the_staged_runtime_leaves_out_installed_packages() -> None:
    stage = bwrap.stage_runtime(bwrap.layout().state_dir)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = stage / "python" / "lib" / version
    assert (stdlib / "os.py").is_file() and (stdlib / "lib-dynload").is_dir()
    assert not (stdlib / "site-packages").exists()
    assert sorted(p.name for p in (stage / "site").iterdir()) in (
        ["numpy"],
        ["numpy", "numpy.libs"],
    )
    assert bwrap.stage_runtime(bwrap.layout().state_dir) == stage  # made once


@pytest.mark.parametrize("status", [0, 1])
def test_stderr_starting_with_bwrap_is_the_witnesses_own(status: int) -> None:
    result = run_in_sandbox(
        hostile("bwrap_lookalike", status=str(status)), timeout_s=SLOW_OK_S, limits=LIMITS
    )
    assert result.stderr.startswith("bwrap: Can't mount proc")
    assert result.status == ("passed" if status == 0 else "error")
    assert result.exit_code == status
    assert result.message is None  # not "the sandbox could not start"


def test_a_launcher_that_never_signals_is_a_sandbox_failure() -> None:
    """A confinement step that fails before the witness starts is reported as such."""
    broken = dataclasses.replace(bwrap.layout(), exec_filter=b"\x00" * 7)
    result = sandbox._run_confined(broken, "print('never')", [], SLOW_OK_S, LIMITS)
    assert result.status == "error"
    assert result.stdout == ""
    assert (result.message or "").startswith("the sandbox could not start: sandbox launcher:")


def test_the_seccomp_programs_are_whole_instructions() -> None:
    for machine in ("x86_64", "aarch64"):
        for program in (seccomp.seccomp_program(machine), seccomp.exec_program(machine)):
            assert program is not None and len(program) % 8 == 0
    assert seccomp.seccomp_program("sparc") is None and seccomp.exec_program("sparc") is None



def test_memory_outside_the_address_space_limit_is_refused(run_hostile: Run) -> None:
    contained = run_hostile(hostile("unaccounted_memory"), timeout_s=SLOW_OK_S)
    assert contained.result.status == "passed", contained.result.stderr
    assert contained.result.stdout.splitlines() == ["refused memfd 1", "refused shmget 1"]


@pytest.fixture
def broken_layout(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Make the next layout a weakened one; the real probe result comes back afterwards."""
    real = bwrap.build_layout

    def weaken(**changes: object) -> None:
        monkeypatch.setattr(bwrap, "build_layout", lambda: dataclasses.replace(real(), **changes))

    try:
        yield weaken
    finally:
        monkeypatch.undo()
        assert probe_confinement(refresh=True).available


def test_the_probe_refuses_a_sandbox_that_lets_processes_start(
    broken_layout: Callable[..., None],
) -> None:
    broken_layout(seccomp=None, exec_filter=None)
    status = probe_confinement(refresh=True)
    assert not status.available
    assert "may start new processes" in status.message
    assert "may execute other programs" in status.message
    assert run_in_sandbox("print(1)", timeout_s=SLOW_OK_S).status == "sandbox-unavailable"


def test_the_probe_refuses_a_sandbox_that_shows_the_checkout(
    broken_layout: Callable[..., None],
) -> None:
    args = (*bwrap.layout().static_args, "--ro-bind", str(CHECKOUT), "/sandbox/leak")
    broken_layout(static_args=args)
    status = probe_confinement(refresh=True)
    assert not status.available
    assert f"host paths show through the sandbox's mount table: ['{CHECKOUT}'" in status.message


def test_leaked_paths_reads_mount_roots_and_mount_points() -> None:
    table = (
        "76 70 254:0 /work/x/.venv/lib /sandbox/site ro - ext4 /dev/vda rw\n"
        "80 70 0:41 /newroot / rw - tmpfs tmpfs rw\n"
    )
    assert leaked_paths(table, {"/work/x", "/root", "/work/xy"}) == ["/work/x"]


@pytest.mark.skipif(os.geteuid() != 0, reason="scratch mounts are made as root only")
def test_scratch_left_by_a_dead_service_is_unmounted_and_removed() -> None:
    layout = bwrap.layout()
    assert layout.scratch_dir is not None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = layout.scratch_dir / f"{dead.pid}-stale"
    stale.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(stale)])
    assert mounted.returncode == 0
    try:
        assert str(stale) in Path("/proc/self/mountinfo").read_text()
        bwrap.remove_stale_run_dirs(layout.runs_dir, layout.scratch_dir)
        assert not stale.exists()
        assert str(stale) not in Path("/proc/self/mountinfo").read_text()
    finally:
        subprocess.run(["umount", "-l", str(stale)], capture_output=True)
        with contextlib.suppress(OSError):
            stale.rmdir()


def test_cpu_time_is_counted_for_the_whole_run(run_hostile: Run) -> None:
    contained = run_hostile(hostile("threads_cpu"), timeout_s=SLOW_OK_S)
    assert contained.result.status == "killed", contained.result
    assert contained.result.signal == signal.SIGXCPU
    assert "burnt" not in contained.result.stdout
