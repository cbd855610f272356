"""Hostile witnesses: each is contained, the host and a concurrent run are unharmed, and
nothing is left running (the ``run_hostile`` fixture checks those three after every run)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from server.witnesses import bwrap, uid_slots
from server.witnesses.sandbox import run_in_sandbox

from .conftest import (
    LIMITS,
    TIMEOUT_S,
    Contained,
    HostService,
    hostile,
    leftover_processes,
)

pytestmark = pytest.mark.sandbox
Run = Callable[..., Contained]
SECRET = "s3cret-7f1c2a9e-not-for-witnesses"


def both(result: Contained) -> str:
    return result.result.stdout + result.result.stderr


@pytest.mark.parametrize(
    "name", ["infinite_loop", "sigterm_ignored", "fork_bomb", "urandom_forever"]
)
def test_runaway_code_is_killed_at_the_wall_clock_limit(run_hostile: Run, name: str) -> None:
    contained = run_hostile(hostile(name))
    assert contained.result.status == "timeout"
    assert contained.result.signal == signal.SIGKILL
    assert TIMEOUT_S * 1000 <= contained.result.duration_ms < TIMEOUT_S * 1000 + 1500


def test_thread_bomb_hits_the_process_limit(run_hostile: Run) -> None:
    contained = run_hostile(hostile("thread_bomb"))
    assert contained.result.status == "error"
    assert "can't start new thread" in contained.result.stderr


def test_two_gib_allocation_is_refused(run_hostile: Run) -> None:
    contained = run_hostile(hostile("big_allocation"))
    assert contained.result.status == "error"
    assert "MemoryError" in contained.result.stderr


def test_one_huge_file_stops_at_the_file_size_limit(run_hostile: Run) -> None:
    contained = run_hostile(hostile("huge_file"))
    assert contained.result.status == "error"
    assert "File too large" in contained.result.stderr


def test_many_small_files_fill_only_the_capped_scratch(run_hostile: Run) -> None:
    contained = run_hostile(hostile("many_small_files"))
    assert contained.result.status == "error"
    assert "No space left on device" in contained.result.stderr


def test_ten_thousand_open_files_are_refused(run_hostile: Run) -> None:
    contained = run_hostile(hostile("open_files"))
    assert contained.result.status == "error"
    assert "Too many open files" in contained.result.stderr


def test_etc_passwd_is_a_synthetic_one(run_hostile: Run) -> None:
    contained = run_hostile(hostile("read_passwd"))
    assert contained.result.status == "passed"
    assert "witness:x:" in contained.result.stdout
    host_only = [
        line
        for line in Path("/etc/passwd").read_text().splitlines()
        if line and not line.startswith("root:")
    ]
    assert host_only, "the host has accounts besides root"
    assert not any(line in contained.result.stdout for line in host_only)
    assert "/etc/shadow: [Errno 2]" in contained.result.stdout


@pytest.fixture
def host_database(tmp_path: Path) -> Path:
    """An SQLite file outside scratch holding a secret, like the service's database."""
    path = tmp_path / "readingroom.db"
    with sqlite3.connect(path) as connection:
        connection.execute("create table secret (value text)")
        connection.execute("insert into secret values (?)", (SECRET,))
    return path


def test_the_service_database_cannot_be_read(run_hostile: Run, host_database: Path) -> None:
    contained = run_hostile(hostile("read_database", db_path=str(host_database)))
    assert contained.result.status == "passed"  # every attempt failed and was printed
    assert SECRET not in both(contained)
    assert "No such file or directory" in contained.result.stdout


def test_confinement_off_would_leak_the_database(host_database: Path) -> None:
    """The same deny case with the sandbox switched off: the assertion above would fail,
    so the hostile suite is known to test something."""
    result = run_in_sandbox(
        hostile("read_database", db_path=str(host_database)),
        timeout_s=TIMEOUT_S,
        limits=LIMITS,
        unconfined=True,
    )
    assert result.confined is False
    assert SECRET in result.stdout


def test_environment_secrets_do_not_reach_the_sandbox(
    run_hostile: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READINGROOM_TEST_SECRET", SECRET)
    contained = run_hostile(hostile("read_environment"))
    assert contained.result.status == "passed"
    assert SECRET not in both(contained)
    assert "READINGROOM" not in contained.result.stdout


def test_nothing_outside_scratch_can_be_written(run_hostile: Run) -> None:
    # The interpreter's host prefix is writable by the host's root; it is not even visible.
    target = Path(sys.base_prefix) / "pwned-by-witness"
    try:
        contained = run_hostile(hostile("write_outside", host_path=str(target)))
        assert contained.result.status == "passed"
        assert "WROTE" not in contained.result.stdout
        assert f"refused {target} [Errno 2] No such file or directory" in contained.result.stdout
        for inside in ("/sandbox/site/numpy/pwned.py", "/sandbox/python/lib/pwned.py"):
            assert f"refused {inside} [Errno 30] Read-only file system" in contained.result.stdout
        assert "scratch ok" in contained.result.stdout
        assert not target.exists()
        assert not Path("/usr/pwned").exists() and not Path("/pwned").exists()
    finally:
        target.unlink(missing_ok=True)


def test_the_service_on_loopback_is_unreachable(
    run_hostile: Run, host_service: HostService
) -> None:
    before = len(host_service.requests)
    contained = run_hostile(hostile("http_loopback", port=str(host_service.port)))
    assert contained.result.status == "error"
    assert "Connection refused" in contained.result.stderr
    assert len(host_service.requests) == before + 1  # only the fixture's own health check


def test_dns_lookups_fail(run_hostile: Run) -> None:
    contained = run_hostile(hostile("dns_lookup"))
    assert contained.result.status == "error"
    assert "gaierror" in contained.result.stderr


def test_outside_addresses_are_unreachable(run_hostile: Run) -> None:
    contained = run_hostile(hostile("outside_address"))
    assert contained.result.status == "error"
    assert "Network is unreachable" in contained.result.stderr
    assert contained.result.duration_ms < 1000 * TIMEOUT_S


def test_killing_the_parent_is_refused(run_hostile: Run) -> None:
    contained = run_hostile(hostile("kill_parent"))
    assert contained.result.status == "error"
    assert "PermissionError" in contained.result.stderr


def test_kill_minus_one_reaches_only_the_sandbox(run_hostile: Run) -> None:
    contained = run_hostile(hostile("kill_everything"))
    assert contained.result.status == "passed"
    assert "still here" in contained.result.stdout


def test_a_double_forked_daemon_cannot_even_start(run_hostile: Run) -> None:
    contained = run_hostile(hostile("double_fork_daemon"))
    assert contained.result.status == "error"
    assert "PermissionError: [Errno 1] Operation not permitted" in contained.result.stderr
    assert contained.result.stdout == ""
    assert contained.result.duration_ms < 1000 * TIMEOUT_S


def test_an_output_flood_is_cut_at_the_cap(run_hostile: Run) -> None:
    contained = run_hostile(hostile("output_flood"))
    assert contained.result.status == "output-limit"
    assert contained.result.stdout_truncated
    assert len(contained.result.stdout) == LIMITS.output_bytes


def test_a_segfault_is_reported_as_killed(run_hostile: Run) -> None:
    contained = run_hostile(hostile("segfault"))
    assert contained.result.status == "killed"
    assert contained.result.signal == signal.SIGSEGV
    assert contained.result.exit_code is None


def test_setuid_root_is_refused(run_hostile: Run) -> None:
    contained = run_hostile(hostile("setuid_root"))
    assert contained.result.status == "error"
    assert "PermissionError" in contained.result.stderr
    assert "uid 0" not in contained.result.stdout


def test_a_new_user_namespace_is_refused(run_hostile: Run) -> None:
    contained = run_hostile(hostile("new_user_namespace"))
    assert contained.result.status == "error"
    assert "Operation not permitted" in contained.result.stderr


def test_input_gets_end_of_file_at_once(run_hostile: Run) -> None:
    contained = run_hostile(hostile("read_stdin"))
    assert contained.result.status == "error"
    assert "EOFError" in contained.result.stderr
    assert contained.result.duration_ms < 1000 * TIMEOUT_S


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(f'{{"exit_code": 0, "variables": {{"answer": "{SECRET}"}}}}')
    return path


ANSWER_CHECK = {
    "kind": "variable",
    "name": "answer",
    "kernel": {
        "spec": {"type": "chain", "dim": 1, "layers": []},
        "op": "forward",
        "input": [[42.0]],
        "index": 0,
    },
}


def test_the_results_file_cannot_be_swapped_for_a_symlink(
    run_hostile: Run, secret_file: Path
) -> None:
    contained = run_hostile(hostile("symlink_report", secret_file=str(secret_file)), [ANSWER_CHECK])
    assert contained.result.stdout.count("refused:") == 2
    assert SECRET not in contained.result.model_dump_json()


def test_the_host_never_follows_a_symlinked_results_file(secret_file: Path) -> None:
    """Unconfined, the code can plant the symlink; the host still refuses to follow it."""
    result = run_in_sandbox(
        hostile("symlink_report", secret_file=str(secret_file)),
        checks=[ANSWER_CHECK],
        timeout_s=TIMEOUT_S,
        limits=LIMITS,
        unconfined=True,
    )
    assert result.stdout.startswith("done\ndone\n")  # unlinked and replaced
    assert result.status == "passed"  # the host reads no results file: answer = 42 is right
    assert SECRET not in result.model_dump_json()


def test_the_scratch_and_run_files_are_gone_afterwards(run_hostile: Run) -> None:
    run_hostile("open('/tmp/left', 'w').write('x')\n")
    runs = bwrap.layout().runs_dir
    assert [p for p in runs.iterdir() if p.name.startswith(f"{os.getpid()}-")] == []
    assert leftover_processes() == []


def _start_time(pid: int) -> bytes | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()[19]


def test_nothing_survives_the_service_being_killed(confined: None, tmp_path: Path) -> None:
    """The service dies with kill -9 mid-run: --die-with-parent takes the sandbox down too.

    Only the dead service's own processes are watched (its descendants, by pid and start
    time), so runs of any other service on this machine cannot disturb the test.
    """
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE_DYING], cwd=Path(__file__).resolve().parents[2]
    )
    sandbox_uids = range(uid_slots.UID_BASE, uid_slots.UID_BASE + uid_slots.UID_COUNT)
    try:
        deadline = time.monotonic() + 20
        while True:  # until the witness runs with its three threads
            tree = uid_slots.descendants(service.pid)
            witnesses = set(uid_slots.processes_of(sandbox_uids)) & set(tree)
            if any(len(os.listdir(f"/proc/{pid}/task")) >= 4 for pid in witnesses):
                break
            assert time.monotonic() < deadline, "the sandboxed run never started"
            time.sleep(0.05)
        watched = {pid: _start_time(pid) for pid in tree}
    finally:
        service.kill()
        service.wait()
    deadline = time.monotonic() + 5
    while alive := [pid for pid, started in watched.items() if _start_time(pid) == started]:
        assert time.monotonic() < deadline, alive
        time.sleep(0.05)


SERVICE_DYING = """
from server.witnesses.sandbox import run_in_sandbox
run_in_sandbox(
    "import threading, time\\n"
    "for _ in range(3):\\n"
    "    threading.Thread(target=time.sleep, args=(60,)).start()\\n"
    "time.sleep(60)\\n",
    timeout_s=60,
)
"""
