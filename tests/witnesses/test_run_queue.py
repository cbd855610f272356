"""The witness run queue: bounded, off the request threads, and fair to users.

A stand-in runner (``GatedRunner``) holds every run until the test lets it go, so "the queue
is full" and "health answers while runs wait" are states the test builds, not timings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from server.app import create_app
from server.errors import Busy
from server.witnesses.background import check_stale_witnesses
from server.witnesses.queue import RunQueue
from server.witnesses.result import RunResult
from server.witnesses.service import CheckJob
from tests.conftest import LOOPBACK, VALID_CONTENT, make_settings

WITNESS = "witness:demo-context/alpha/double"
WAIT_S = 30  # how long a test waits for a state it expects; reached in milliseconds normally


class GatedRunner:
    """Runs nothing: each run waits for ``release`` and then passes, echoing its code."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.background: list[bool] = []  # per stored-witness run: asked for in background?
        self.lock = threading.Lock()

    def _hold(self, label: str) -> None:
        with self.lock:
            self.started.append(label)
        assert self.release.wait(WAIT_S), "the test never released its runs"

    def run_code(
        self, code: str, checks: Sequence[Mapping[str, Any]], timeout_s: float
    ) -> RunResult:
        self._hold(code)
        return RunResult(status="passed", stdout=code)

    def run_jobs(
        self, jobs: list[CheckJob], *, background: bool = False
    ) -> list[tuple[CheckJob, RunResult]]:
        with self.lock:
            self.background.append(background)
        self._hold(",".join(j.key for j in jobs))
        return [(job, RunResult(status="passed", stdout="held")) for job in jobs]

    def wait_started(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while len(self.started) < count:
            assert time.monotonic() < deadline, f"only {len(self.started)} run(s) started"
            time.sleep(0.01)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@contextmanager
def started_queue(runner: GatedRunner, **options: Any) -> Iterator[RunQueue]:
    queue = RunQueue(runner, **options).start()
    try:
        yield queue
    finally:
        runner.release.set()
        queue.close(timeout_s=WAIT_S)


# -- the queue itself -------------------------------------------------------------------------


def test_a_full_backlog_refuses_with_retry_after() -> None:
    runner = GatedRunner()
    with started_queue(runner, workers=1, backlog=2) as queue:
        running = queue.run_code("first", [], 1.0)
        runner.wait_started(1)
        waiting = [queue.run_code(f"waiting {n}", [], 1.0) for n in range(2)]
        with pytest.raises(Busy) as refused:
            queue.run_code("one too many", [], 1.0)
        assert refused.value.status_code == 503
        assert int(refused.value.headers()["Retry-After"]) >= 1
        assert queue.state().waiting == 2 and queue.state().running == 1
        runner.release.set()
        assert [f.result(WAIT_S).stdout for f in (running, *waiting)] == [
            "first", "waiting 0", "waiting 1",
        ]  # fmt: skip
        # once drained, runs are accepted again
        assert queue.run_code("again", [], 1.0).result(WAIT_S).stdout == "again"


def test_user_runs_go_before_background_runs_and_are_never_refused_for_them() -> None:
    runner = GatedRunner()
    job = CheckJob("witness:a/b/c", "print(1)", [], 1.0, "key")
    with started_queue(runner, workers=2, backlog=1, background_share=1) as queue:
        background = [queue.run_jobs([job], background=True) for _ in range(2)]
        runner.wait_started(1)  # the background lane takes one worker, never both
        time.sleep(0.05)
        assert len(runner.started) == 1
        user = queue.run_code("user", [], 1.0)
        runner.wait_started(2)
        assert runner.started[1] == "user"  # the second worker went to the user, not the check
        # the background backlog is its own: a user run still finds room in its lane
        queued_user = queue.run_code("queued user", [], 1.0)
        runner.release.set()
        assert user.result(WAIT_S).stdout == "user"
        assert queued_user.result(WAIT_S).stdout == "queued user"
        assert all(f.result(WAIT_S)[0][1].status == "passed" for f in background)


def test_a_run_dropped_by_its_caller_gives_its_place_back() -> None:
    runner = GatedRunner()
    with started_queue(runner, workers=1, backlog=1) as queue:
        queue.run_code("running", [], 1.0)
        runner.wait_started(1)
        assert queue.run_code("given up", [], 1.0).cancel()
        took_its_place = queue.run_code("took its place", [], 1.0)
        runner.release.set()
        assert took_its_place.result(WAIT_S).stdout == "took its place"
    assert "given up" not in runner.started


def test_closing_drops_waiting_runs_and_refuses_new_ones() -> None:
    runner = GatedRunner()
    queue = RunQueue(runner, workers=1, backlog=4).start()
    running = queue.run_code("running", [], 1.0)
    runner.wait_started(1)
    waiting = queue.run_code("waiting", [], 1.0)
    closer = threading.Thread(target=queue.close)
    closer.start()
    wait_until(waiting.cancelled, "the waiting run to be dropped")
    with pytest.raises(Busy):
        queue.run_code("late", [], 1.0)
    runner.release.set()
    closer.join(WAIT_S)
    assert running.result(WAIT_S).stdout == "running"
    assert runner.started == ["running"]


def test_a_failing_run_reports_its_error_to_the_waiting_caller() -> None:
    class Broken(GatedRunner):
        def run_code(
            self, code: str, checks: Sequence[Mapping[str, Any]], timeout_s: float
        ) -> RunResult:
            raise ValueError("bad checks")

    runner = Broken()
    with started_queue(runner, workers=1, backlog=1) as queue:
        with pytest.raises(ValueError, match="bad checks"):
            queue.run_code("x", [], 1.0).result(WAIT_S)
        assert queue.run_code("y", [], 1.0).exception(WAIT_S) is not None  # still serving


def test_the_start_up_check_goes_through_the_background_lane(engine: Engine) -> None:
    from server.db import unit_of_work
    from server.ingest.service import ingest

    with unit_of_work(engine) as session:
        ingest(session, VALID_CONTENT)
    runner = GatedRunner()
    runner.release.set()
    with started_queue(runner, workers=2, backlog=0) as queue:
        # backlog 0: any user run would be refused, yet the check runs every witness
        assert check_stale_witnesses(engine, threading.Event(), queue) == 2
    assert sorted(runner.started) == [
        "witness:demo-context/alpha/double", "witness:demo-context/beta/double",
    ]  # fmt: skip
    assert runner.background == [True, True]  # so the sandbox runs them at the lowest priority


def test_the_start_up_check_runs_at_most_its_share_at_once_and_records_in_batches(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.db import unit_of_work
    from server.ingest.service import ingest
    from server.store import current_revision
    from server.witnesses import background

    with unit_of_work(engine) as session:
        ingest(session, VALID_CONTENT)
    monkeypatch.setattr(background, "RECORD_EVERY", 1)
    jobs = [CheckJob(f"witness:demo-context/alpha/n{n}", "", [], 1.0, "k") for n in range(5)]
    monkeypatch.setattr(background, "stale_jobs", lambda _engine: jobs)
    with unit_of_work(engine, write=False) as session:
        before = current_revision(session)
    runner = GatedRunner()
    with started_queue(runner, workers=4, backlog=0, background_share=2) as queue:
        stop = threading.Event()
        thread = threading.Thread(
            target=background.check_stale_witnesses, args=(engine, stop, queue)
        )
        thread.start()
        runner.wait_started(2)
        time.sleep(0.05)
        assert len(runner.started) == 2  # four workers idle, yet the check takes two
        runner.release.set()
        thread.join(WAIT_S)
    with unit_of_work(engine, write=False) as session:
        assert current_revision(session) == before + 5  # one batch per run: shown as they come


# -- through the API --------------------------------------------------------------------------


@contextmanager
def gated_app(database_url: str, runner: GatedRunner, **settings: Any) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, VALID_CONTENT, **settings), runner=runner)
    with TestClient(app, client=LOOPBACK) as client:
        try:
            yield client
        finally:
            runner.release.set()


def test_api_queue_full_answers_503_with_retry_after(database_url: str) -> None:
    runner = GatedRunner()
    with (
        gated_app(database_url, runner, witness_workers=1, witness_queue_backlog=1) as client,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        body = {"code": "print(1)"}
        first = pool.submit(client.post, "/api/witnesses/run", json=body)
        runner.wait_started(1)
        second = pool.submit(client.post, f"/api/witnesses/{WITNESS}/runs")
        wait_until(lambda: client.app.state.runs.state().waiting == 1, "the second run to wait")
        refused = client.post("/api/witnesses/run", json=body)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit()
        assert refused.json()["error"]["code"] == "busy"
        rerun_refused = client.post(f"/api/witnesses/{WITNESS}/runs")
        assert rerun_refused.status_code == 503 and "Retry-After" in rerun_refused.headers
        runner.release.set()
        assert first.result(WAIT_S).json()["stdout"] == "print(1)"
        rerun = second.result(WAIT_S).json()
        assert rerun["key"] == WITNESS and rerun["runs"][0]["status"] == "passed"


def test_health_and_pages_answer_while_45_runs_are_queued(database_url: str) -> None:
    runner = GatedRunner()
    runs = 47  # two running, 45 waiting
    with (
        gated_app(database_url, runner, witness_workers=2, witness_queue_backlog=45) as client,
        ThreadPoolExecutor(max_workers=runs) as pool,
    ):
        held: list[Future[Any]] = [
            pool.submit(client.post, "/api/witnesses/run", json={"code": f"print({n})"})
            for n in range(runs)
        ]
        wait_until(lambda: client.app.state.runs.state().waiting == 45, "45 runs to wait")
        # Runs wait without holding a request thread: these answer while every run is held.
        started = time.monotonic()
        health = client.get("/api/health")
        page = client.get("/api/concepts/demo-context/alpha")
        assert health.status_code == 200 and page.status_code == 200
        assert not runner.release.is_set() and all(not f.done() for f in held)
        assert time.monotonic() - started < 10  # generous: held runs would block it forever
        runner.release.set()
        assert {f.result(WAIT_S).status_code for f in held} == {200}


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("concept:demo-context/alpha", "is a concept, not a witness"),
        ("claim:demo-context/alpha/nope", "no object has the key"),
        ("witness:demo-context/alpha/nope", "no object has the key"),
        ("concept:demo-context/nowhere", "no object has the key"),
    ],
)
def test_rerun_of_a_key_without_a_witness_answers_404(
    database_url: str, key: str, why: str
) -> None:
    runner = GatedRunner()
    runner.release.set()
    with gated_app(database_url, runner) as client:
        response = client.post(f"/api/witnesses/{key}/runs")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert why in response.json()["error"]["message"]
    assert runner.started == []
