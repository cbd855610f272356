"""``readingroom check --mutants``: strong and weak fixture witnesses, in the sandbox.

The fixture concept has two small witnesses with the same kind of code: ``strong`` prints its
values and checks them, ``weak`` has no checks at all (it passes whenever it exits 0). The
strong one must catch at least 80% of its mutants, the weak one none, and the weak one is
then labelled weak and never counts as verified evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import select

from server.app import create_app
from server.cli import main
from server.db import make_engine, unit_of_work
from server.ingest.service import ingest
from server.models import MutantRun, WitnessStrength
from server.witnesses.mutants import generate
from server.witnesses.strength import code_hash
from tests.conftest import make_settings

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
STRONG = "witness:demo-context/alpha/strong"
WEAK = "witness:demo-context/alpha/weak"
CONCEPT = "concept:demo-context/alpha"

STRONG_CODE = """\
def f(x):
    return 2.0 * x + 1.0


y = [f(0.5), f(-1.0)]
print("y:", y[0], y[1])
"""
WEAK_CODE = """\
def g(x):
    return 3.0 * x - 1.0


z = g(0.5)
"""
ENTRIES = """\
witnesses:
  - id: strong
    demonstrates: An affine map at two points, printed and checked.
    checks:
      - kind: stdout
        expected: |
          y: 2.0 -1.0
        tolerance: 1.0e-9
  - id: weak
    demonstrates: The same kind of map with checks that assert nothing.
"""


def write_fixture(content: Path, equivalent: str = "") -> None:
    page = content / "demo-context" / "alpha.md"
    text = page.read_text(encoding="utf-8")
    head, _, rest = text.partition("witnesses:\n")
    _, _, rest = rest.partition("sources:\n")
    text = head + ENTRIES + equivalent + "sources:\n" + rest
    block = '```python witness=double\nprint("value:", 2.0)\n```\n'
    blocks = (
        f"```python witness=strong\n{STRONG_CODE}```\n\n```python witness=weak\n{WEAK_CODE}```\n"
    )
    page.write_text(text.replace(block, blocks), encoding="utf-8")


def load(database_url: str, content: Path) -> None:
    engine = make_engine(database_url)
    with unit_of_work(engine) as session:
        ingest(session, content)
    engine.dispose()


def check(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", "--mutants", "--jobs", "2", *args,
                                       "--database", database_url])  # fmt: skip
    return result.exit_code, result.stdout


def row_of(out: str, key: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(key + " "))
    return line.split()


@pytest.fixture
def measured(database_url: str, content_copy: Path, tmp_path: Path) -> tuple[int, str, Path]:
    write_fixture(content_copy)
    load(database_url, content_copy)
    record = tmp_path / "strength.json"
    code, out = check(database_url, CONCEPT, "--record", str(record))
    return code, out, record


def test_strong_catches_most_weak_catches_none_and_the_check_fails(
    measured: tuple[int, str, Path], database_url: str
) -> None:
    code, out, _ = measured
    assert code == 1, out
    strong = row_of(out, STRONG)
    mutants, caught = int(strong[1]), int(strong[2])
    assert mutants == len(generate(STRONG_CODE).mutants) >= 10
    assert caught / mutants >= 0.8 and strong[4] == "ok", out
    weak = row_of(out, WEAK)
    assert weak[1] == str(len(generate(WEAK_CODE).mutants)) and weak[2] == "0"
    assert weak[3:5] == ["0%", "weak"]
    survivors = [line.split()[1] for line in out.splitlines() if "survivor " in line]
    assert {m.id for m in generate(WEAK_CODE).mutants} <= set(survivors)
    summary, written = out.strip().splitlines()[-2:]
    assert summary.startswith(
        "2 witness(es), at most 40 mutants each: 1 meet the target (80%), 1 below, 0 not measured;"
    )
    assert written.startswith("strength record written to ")


def test_the_second_run_uses_the_cache(measured: tuple[int, str, Path], database_url: str) -> None:
    _, first, _ = measured
    engine = make_engine(database_url)
    with unit_of_work(engine, write=False) as session:
        runs = session.exec(select(MutantRun)).all()
    engine.dispose()
    total = len(generate(STRONG_CODE).mutants) + len(generate(WEAK_CODE).mutants)
    assert len(runs) == total and f"{total} mutant run(s), 0 cached" in first
    code, again = check(database_url, CONCEPT)
    assert code == 1
    assert again.strip().endswith(f"0 mutant run(s), {total} cached")
    assert row_of(again, STRONG) == row_of(first, STRONG)


def test_strength_is_stored_by_code_hash_and_in_the_record(
    measured: tuple[int, str, Path], database_url: str
) -> None:
    _, _, record = measured
    engine = make_engine(database_url)
    with unit_of_work(engine, write=False) as session:
        rows = {r.witness_key: r for r in session.exec(select(WitnessStrength))}
    engine.dispose()
    assert rows[WEAK].caught == 0 and rows[WEAK].mutants > 0
    strong_checks = [{"kind": "stdout", "expected": "y: 2.0 -1.0\n", "tolerance": 1.0e-9}]
    assert rows[STRONG].code_hash == code_hash(STRONG_CODE, strong_checks)
    data = json.loads(record.read_text())
    assert data["target"] == 0.8 and data["cap"] == 40
    assert data["witnesses"][STRONG]["code_hash"] == rows[STRONG].code_hash
    assert data["witnesses"][WEAK]["caught"] == 0
    assert sorted(data["witnesses"][WEAK]["survivors"]) == sorted(
        s["id"] for s in rows[WEAK].survivors
    )
    assert data["witnesses"][WEAK]["descriptions"] == {  # what ingest shows from the record
        s["id"]: s["description"] for s in rows[WEAK].survivors
    }


def test_weak_is_shown_and_never_verified(
    measured: tuple[int, str, Path], database_url: str
) -> None:
    settings = make_settings(database_url, None)
    with TestClient(create_app(settings)) as client:
        weak = client.get(f"/api/objects/{WEAK}").json()
        strong = client.get(f"/api/objects/{STRONG}").json()
        assert weak["status"] == "passed" and weak["strength"]["weak"] is True
        assert weak["strength"]["caught"] == 0 and weak["strength"]["share"] == 0.0
        assert {"mutants", "caught", "share", "survivors", "weak", "computed_at"} <= set(
            strong["strength"]
        )
        assert strong["strength"]["weak"] is False and strong["strength"]["share"] >= 0.8
        page = client.get("/concepts/demo-context/alpha").text
        prompt = client.get(
            "/api/objects/concept:demo-context/alpha/prompt", params={"format": "json"}
        )
    assert 'class="status weak">weak<' in page
    assert "they catch none, so this passing run is not evidence" in page
    assert 'class="status passed">passed<' in page  # the strong one keeps its badge
    assert prompt.status_code == 200, prompt.text
    body = prompt.json()
    verified = {f["key"]: f["why"] for f in body["verified"]}
    unverified = {f["key"]: f["why"] for f in body["unverified"]}
    assert WEAK not in verified and "catch none of its mutants" in unverified[WEAK]
    assert STRONG in verified and STRONG not in unverified
    assert "Strength: checks catch 0 of" in json.dumps(body)


def test_declared_equivalent_survivors_are_shown_and_never_excuse_a_weak_witness(
    database_url: str, content_copy: Path
) -> None:
    # y[1] -> y[-1] names the same element of a two-element list: the one equivalent mutant.
    (same,) = [m.id for m in generate(STRONG_CODE).mutants if m.description.endswith("1 -> -1")]
    every_weak = [m.id for m in generate(WEAK_CODE).mutants]
    write_fixture(content_copy)
    page = content_copy / "demo-context" / "alpha.md"
    text = page.read_text()
    text = text.replace(
        "        tolerance: 1.0e-9\n",
        f"        tolerance: 1.0e-9\n    equivalent_mutants:\n"
        f"      - {{id: {same}, why: 'y[-1] is y[1] in a list of two'}}\n",
    )
    listed = "".join(f"      - {{id: {i}, why: claimed equivalent}}\n" for i in every_weak)
    text = text.replace(
        "    demonstrates: The same kind of map with checks that assert nothing.\n",
        "    demonstrates: The same kind of map with checks that assert nothing.\n"
        "    equivalent_mutants:\n" + listed,
    )
    page.write_text(text)
    load(database_url, content_copy)
    code, out = check(database_url, STRONG)
    assert code == 0, out
    survivors = [line.split()[1] for line in out.splitlines() if "survivor " in line]
    assert survivors == [same]
    assert "[equivalent: y[-1] is y[1] in a list of two]" in out
    code, out = check(database_url, WEAK)
    assert code == 1 and row_of(out, WEAK)[4] == "weak"


def test_a_failing_witness_is_not_measured(database_url: str, content_copy: Path) -> None:
    write_fixture(content_copy)
    page = content_copy / "demo-context" / "alpha.md"
    page.write_text(page.read_text().replace("y: 2.0 -1.0", "y: 2.5 -1.0"))
    load(database_url, content_copy)
    code, out = check(database_url, STRONG)
    assert code == 1
    assert row_of(out, STRONG)[1:] == ["-", "-", "-", "not", "measured:", "the", "witness",
                                        "failed"]  # fmt: skip
    assert "0 mutant run(s)" in out


def test_record_needs_mutants(database_url: str) -> None:
    result = CliRunner().invoke(main, ["check", "--record", "x.json", "--database", database_url])
    assert result.exit_code == 1 and "--record needs --mutants" in result.output
