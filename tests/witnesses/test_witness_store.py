"""Stored witnesses: `readingroom check`, run records, staleness, and the witness API."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import select

from server.app import create_app
from server.cli import main
from server.db import make_engine, unit_of_work
from server.ingest.service import ingest
from server.models import WitnessRun
from tests.conftest import FIXTURES, make_settings

pytestmark = pytest.mark.sandbox
WITNESS = "witness:demo-context/alpha/double"


def check(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args, "--database", database_url])
    return result.exit_code, result.stdout


def ingest_alpha(database_url: str, content: Path, code: str) -> None:
    """Ingest ``content`` with ``code`` in place of the body of alpha's witness."""
    page = content / "demo-context" / "alpha.md"
    page.write_text(page.read_text().replace('print("value:", 2.0)', code))
    engine = make_engine(database_url)
    with unit_of_work(engine) as session:
        ingest(session, content)
    engine.dispose()


def test_check_runs_records_and_then_reuses_passes(database_url: str) -> None:
    engine = make_engine(database_url)
    with unit_of_work(engine) as session:
        ingest(session, FIXTURES / "content" / "valid")
    code, out = check(database_url)
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "2 witness(es): 2 passed (0 cached), 0 failed"
    code, out = check(database_url, WITNESS)
    assert code == 0
    assert out.strip().splitlines()[-1] == "1 witness(es): 1 passed (1 cached), 0 failed"
    with unit_of_work(engine, write=False) as session:
        runs = session.exec(select(WitnessRun).where(WitnessRun.witness_key == WITNESS)).all()
    assert [r.status for r in runs] == ["passed"]
    assert runs[0].environment["numpy"] and runs[0].environment["confined"] is True
    engine.dispose()


def test_a_failing_witness_fails_the_check(database_url: str, content_copy: Path) -> None:
    ingest_alpha(database_url, content_copy, 'print("value:", 2.5)')
    code, out = check(database_url, "concept:demo-context/alpha")
    assert code == 1
    assert f"failed               {WITNESS}" in out
    assert out.strip().splitlines()[-1] == "1 witness(es): 0 passed (0 cached), 1 failed"


def test_check_prints_a_failing_witness_with_controls_escaped(
    database_url: str, content_copy: Path
) -> None:
    hostile = 'import sys\nprint("\\x1b]0;pwned\\x07")\nsys.exit("\\x1b[2J\\rwiped \\x9b1m")'
    ingest_alpha(database_url, content_copy, hostile)
    code, out = check(database_url, "concept:demo-context/alpha")
    assert code == 1
    assert f"error                {WITNESS}" in out
    assert "\\x1b[2J\\rwiped \\x9b1m" in out  # the witness's last words, escaped
    assert not any(raw in out for raw in ("\x1b", "\r", "\x9b", "\x07")), repr(out)


def test_pages_show_latest_status_and_stale_runs(database_url: str, content_copy: Path) -> None:
    app = create_app(make_settings(database_url, content_copy))
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        page = client.get("/api/concepts/demo-context/alpha").json()
        assert page["witnesses"][0]["status"] == "unchecked"
        rerun = client.post(f"/api/witnesses/{WITNESS}/runs").json()
        assert rerun["status"] == "passed" and len(rerun["runs"]) == 1
        assert rerun["latest_run"]["environment"]["python"].startswith("CPython")
        page = client.get("/api/concepts/demo-context/alpha").json()
        assert page["witnesses"][0]["status"] == "passed"

        source = content_copy / "demo-context" / "alpha.md"
        source.write_text(source.read_text().replace("value:", "value: "))
        with unit_of_work(app.state.engine) as session:
            ingest(session, content_copy)
        page = client.get("/api/concepts/demo-context/alpha").json()
        assert page["witnesses"][0]["status"] == "stale"
        assert page["witnesses"][0]["latest_run"]["stale"] is True
        detail = client.get(f"/api/witnesses/{WITNESS}").json()
        assert [r["stale"] for r in detail["runs"]] == [True]


def test_adhoc_runs_only_from_this_machine(database_url: str) -> None:
    app = create_app(make_settings(database_url, None))
    body = {"code": "print(1 + 1)", "checks": [{"kind": "stdout", "expected": "2"}]}
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        result = local.post("/api/witnesses/run", json=body).json()
        assert result["status"] == "passed" and result["stdout"] == "2\n"
        bad = local.post("/api/witnesses/run", json={**body, "checks": [{"kind": "nope"}]})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    with TestClient(app, client=("203.0.113.9", 5000)) as remote:
        response = remote.post("/api/witnesses/run", json=body)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


def test_team_mode_refuses_adhoc_runs_without_an_editor(database_url: str) -> None:
    app = create_app(make_settings(database_url, None, mode="team"))
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        response = client.post("/api/witnesses/run", json={"code": "print(1)"})
    assert response.status_code == 401  # no credentials; the roles: tests/people/test_roles.py


def test_unknown_witness_is_not_found(client: TestClient) -> None:
    response = client.get("/api/witnesses/witness:demo-context/alpha/nope")
    assert response.status_code == 404
    assert (
        client.post("/api/witnesses/claim:demo-context/alpha/scaling-claim/runs").status_code == 404
    )


def test_oversized_adhoc_code_is_refused(client: TestClient) -> None:
    response = client.post("/api/witnesses/run", json={"code": "x" * 200_001})
    assert response.status_code == 422


FORGED_DOUBLE = """import json, os, struct
print("value:", 2.0)
doubled = 5.0  # wrong: the kernel says 4.0
with open("/sandbox/run/job.json") as handle:
    job = json.load(handle)
# A made-up answer claiming 4.0, and an old-style "passed" report, then out before the harness.
manifest = json.dumps({"exit_code": 0, "exception": None, "status": "passed",
                       "values": [{"id": "1", "shape": [1]}, {"id": "1", "shape": [1]}]}).encode()
os.write(job["raw_fd"], b"RRRAW1\\n" + struct.pack("<Q", len(manifest)) + manifest
         + struct.pack("<2d", 4.0, 4.0))
os._exit(0)
"""
DOUBLED_CHECK = """      - kind: variable
        name: doubled
        kernel:
          spec:
            {type: chain, dim: 1, base: {type: normal},
             layers: [{type: affine, A: [[2.0]], b: [0.0]}]}
          op: forward
          input: [[2.0]]
          index: 0
"""


def test_a_forged_pass_is_recorded_failed_and_never_shown_as_verified(
    database_url: str, content_copy: Path
) -> None:
    page = content_copy / "demo-context" / "alpha.md"
    text = page.read_text().replace('print("value:", 2.0)\n', FORGED_DOUBLE)
    text = text.replace("        tolerance: 0.001\nsources:", "        tolerance: 0.001\n"
                        + DOUBLED_CHECK + "sources:", 1)  # fmt: skip
    page.write_text(text)
    engine = make_engine(database_url)
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    code, out = check(database_url, WITNESS)
    assert code == 1 and f"failed               {WITNESS}" in out
    with unit_of_work(engine, write=False) as session:
        [run] = session.exec(select(WitnessRun).where(WitnessRun.witness_key == WITNESS)).all()
    engine.dispose()
    assert run.status == "failed"
    [stdout_check, doubled] = run.checks
    assert stdout_check["ok"] and not doubled["ok"]
    assert doubled["detail"].startswith("the raw output is not valid: ")
    result = CliRunner().invoke(
        main, ["prompt", WITNESS, "--format", "json", "--database", database_url]
    )
    assert result.exit_code == 0, result.output
    assert "last run failed" in result.stdout
    assert "passing current run" not in result.stdout
