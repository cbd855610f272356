"""Witness checks as jobs in the PostgreSQL store's queue, taken by workers on any host.

Each test has its own database (emptied queue tables included). Workers here are real:
``readingroom worker`` processes, or the in-thread worker ``check`` and the server use, with
real sandbox runs of the fixture content's two witnesses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from server.app import create_app
from server.cli import main
from server.db import unit_of_work
from server.ingest.service import ingest
from server.witnesses import jobs
from server.witnesses.background import stale_jobs
from server.witnesses.records import latest_runs
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

ROOT = Path(__file__).resolve().parents[2]
ALPHA = "witness:demo-context/alpha/double"
BETA = "witness:demo-context/beta/double"
WAIT_S = 60

pytestmark = pytest.mark.sandbox


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not jobs.uses_job_queue(database_url):
        pytest.skip("the witness job queue is PostgreSQL's")
    return database_url


@pytest.fixture
def stored(pg_url: str, engine: Engine) -> str:
    with unit_of_work(engine) as session:
        ingest(session, VALID_CONTENT)
    return pg_url


def queued(engine: Engine) -> list[tuple[str, int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT args->>'witness_key', priority, status::text FROM procrastinate_jobs"
                " ORDER BY id"
            )
        ).all()
    return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def recorded(engine: Engine) -> dict[str, str]:
    with unit_of_work(engine, write=False) as session:
        return {key: run.status for key, run in latest_runs(session, [ALPHA, BETA]).items()}


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def worker_process(
    stored: str, engine: Engine, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``readingroom worker`` in a process of its own, as on another host."""
    env = {**os.environ, "READINGROOM_DATABASE_URL": stored, "PYTHONPATH": str(ROOT)}
    with (tmp_path / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker", "--concurrency", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: jobs.live_workers(engine) == 1, "the worker to register")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=WAIT_S)


def test_check_defers_jobs_that_a_worker_process_takes_and_records(
    stored: str, engine: Engine, worker_process: subprocess.Popen[bytes]
) -> None:
    result = CliRunner().invoke(main, ["check", "--database", stored])
    assert result.exit_code == 0, result.output
    assert "2 job(s) in the queue for the workers" in result.output
    assert "2 witness(es): 2 passed (0 cached), 0 failed" in result.output
    assert recorded(engine) == {ALPHA: "passed", BETA: "passed"}
    assert queued(engine) == []  # finished jobs are deleted
    # the worker stops on SIGTERM and says so to the queue
    worker_process.send_signal(signal.SIGTERM)
    assert worker_process.wait(timeout=WAIT_S) == 0
    assert jobs.live_workers(engine) == 0
    # a second check finds the passes cached and defers nothing
    again = CliRunner().invoke(main, ["check", "--database", stored])
    assert again.exit_code == 0 and "2 passed (2 cached)" in again.output
    assert queued(engine) == []


def test_check_with_no_worker_alive_takes_the_jobs_itself(stored: str, engine: Engine) -> None:
    result = CliRunner().invoke(main, ["check", ALPHA, "--database", stored])
    assert result.exit_code == 0, result.output
    assert "no `readingroom worker` is taking jobs: running them here" in result.output
    assert "1 witness(es): 1 passed (0 cached), 0 failed" in result.output
    assert recorded(engine) == {ALPHA: "passed"}
    assert jobs.live_workers(engine) == 0  # its own worker is gone with it


def test_a_failing_witness_fails_the_check_through_the_queue(
    pg_url: str, engine: Engine, content_copy: Path
) -> None:
    page = content_copy / "demo-context" / "alpha.md"
    source = page.read_text(encoding="utf-8")
    assert 'print("value:", 2.0)' in source
    page.write_text(source.replace('print("value:", 2.0)', 'print("value:", 3.0)'), "utf-8")
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    result = CliRunner().invoke(main, ["check", ALPHA, "--database", pg_url])
    assert result.exit_code == 1, result.output
    assert f"failed               {ALPHA}" in result.output
    assert recorded(engine) == {ALPHA: "failed"}


def test_a_users_check_raises_a_waiting_start_up_job_instead_of_queueing_twice(
    stored: str, engine: Engine
) -> None:
    assert jobs.defer_start_up_check(stored, engine) == 2
    assert jobs.defer_start_up_check(stored, engine) == 2  # a second server: the same jobs
    assert queued(engine) == [
        (ALPHA, jobs.BACKGROUND_PRIORITY, "todo"), (BETA, jobs.BACKGROUND_PRIORITY, "todo"),
    ]  # fmt: skip
    app = jobs.job_app(stored)
    beta = [job for job in stale_jobs(engine) if job.key == BETA]
    with app.open():
        ids = jobs.defer_checks(app, engine, beta, priority=jobs.USER_PRIORITY)
    assert queued(engine) == [
        (ALPHA, jobs.BACKGROUND_PRIORITY, "todo"), (BETA, jobs.USER_PRIORITY, "todo"),
    ]  # fmt: skip
    assert len(ids) == 1


def test_a_users_jobs_are_taken_before_the_start_up_checks(stored: str, engine: Engine) -> None:
    jobs.defer_start_up_check(stored, engine)  # alpha, then beta, both at low priority
    app = jobs.job_app(stored)
    beta = [job for job in stale_jobs(engine) if job.key == BETA]
    with app.open():
        jobs.defer_checks(app, engine, beta, priority=jobs.USER_PRIORITY)
    jobs.run_worker(stored, engine, jobs.WorkerOptions(concurrency=1, wait=False))
    with unit_of_work(engine, write=False) as session:
        runs = latest_runs(session, [ALPHA, BETA])
    assert {key: run.status for key, run in runs.items()} == {ALPHA: "passed", BETA: "passed"}
    assert runs[BETA].id is not None and runs[ALPHA].id is not None
    assert runs[BETA].id < runs[ALPHA].id  # the user's witness ran first
    assert queued(engine) == []


def test_a_waiting_workers_start_up_runs_share_one_revision_bump(
    stored: str, engine: Engine
) -> None:
    from server.store import current_revision

    jobs.defer_start_up_check(stored, engine)
    with unit_of_work(engine, write=False) as session:
        before = current_revision(session)
    worker = jobs.BackgroundWorker(stored, engine, jobs.WorkerOptions(concurrency=1)).start()
    try:
        wait_until(lambda: len(recorded(engine)) == 2, "both start-up runs")
        with unit_of_work(engine, write=False) as session:
            assert current_revision(session) == before  # recorded, the bump still to come
        assert [(key, status) for key, _, status in queued(engine)] == [("None", "todo")]

        def bumped() -> bool:
            with unit_of_work(engine, write=False) as session:
                return current_revision(session) > before

        wait_until(bumped, "the one scheduled bump")
    finally:
        worker.stop()
    with unit_of_work(engine, write=False) as session:
        assert current_revision(session) == before + 1


def test_start_up_jobs_run_at_the_lowest_cpu_priority(
    pg_url: str, engine: Engine, content_copy: Path
) -> None:
    page = content_copy / "demo-context" / "alpha.md"
    source = page.read_text(encoding="utf-8")
    niceness = 'import os\nprint(os.getpriority(os.PRIO_PROCESS, 0))\nprint("value:", 2.0)'
    page.write_text(source.replace('print("value:", 2.0)', niceness), "utf-8")
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    jobs.defer_start_up_check(pg_url, engine)
    jobs.run_worker(pg_url, engine, jobs.WorkerOptions(concurrency=1, wait=False))
    with unit_of_work(engine, write=False) as session:
        run = latest_runs(session, [ALPHA])[ALPHA]
    assert int(run.stdout.split()[0]) == 19


def test_a_server_on_postgresql_defers_its_start_up_check_and_takes_the_jobs(
    stored: str, engine: Engine
) -> None:
    settings = make_settings(stored, None, check_witnesses_on_start=True, serve_job_workers=1)
    with TestClient(create_app(settings), client=LOOPBACK) as client:
        wait_until(lambda: len(recorded(engine)) == 2, "the server's worker to run both")
        assert jobs.live_workers(engine) == 1

        def health_counts_the_worker() -> bool:
            state = client.get("/api/health").json()["witness_jobs"]
            return bool(state["workers"] == 1 and state["failed"] == 0)

        wait_until(health_counts_the_worker, "/api/health to show the queue")
    assert recorded(engine) == {ALPHA: "passed", BETA: "passed"}
    assert jobs.live_workers(engine) == 0  # the server's worker left with it


def test_worker_refuses_sqlite(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["worker", "--database", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code == 1
    assert "the witness job queue needs PostgreSQL" in result.output


def test_a_rerun_through_the_api_is_a_job_a_worker_takes(
    stored: str, engine: Engine, worker_process: subprocess.Popen[bytes]
) -> None:
    settings = make_settings(stored, None)  # this server takes no jobs itself
    with TestClient(create_app(settings), client=LOOPBACK) as client:

        def not_here(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("the rerun ran in the server, not through the job queue")

        client.app.state.runs.run_jobs = not_here  # type: ignore[attr-defined]
        response = client.post(f"/api/witnesses/{ALPHA}/runs")
        assert response.status_code == 200, response.text
        assert response.json()["runs"][0]["status"] == "passed"
    assert recorded(engine) == {ALPHA: "passed"}
    assert queued(engine) == []


def test_a_rerun_finds_the_job_queue_full_with_503(
    stored: str, engine: Engine, worker_process: subprocess.Popen[bytes]
) -> None:
    settings = make_settings(stored, None, witness_queue_backlog=0)
    with TestClient(create_app(settings), client=LOOPBACK) as client:
        response = client.post(f"/api/witnesses/{ALPHA}/runs")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "busy"
    assert int(response.headers["Retry-After"]) >= 1
    assert queued(engine) == []  # refused before anything was deferred
