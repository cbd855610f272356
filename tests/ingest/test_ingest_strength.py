"""Ingest loads the committed witness strength record: a fresh store shows measured strength.

The record (``witness-strength.json`` beside the concept files) is keyed by a hash of each
witness's code and checks. An entry that matches the witness is shown, on the page, in the
witness JSON and in its prompt, as coming from the record; one that no longer matches is not
shown as measured; a strength measured in the store itself for the current code is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from server.app import create_app
from server.db import unit_of_work
from server.errors import ContentError
from server.ingest.service import ingest
from server.models import Witness, WitnessStrength
from server.witnesses.strength import Measure, code_hash, store_strength
from tests.conftest import BUNDLED_CONTENT, LOOPBACK, make_settings

DOUBLE = "witness:demo-context/alpha/double"
ALPHA_MD = "demo-context/alpha.md"
PAGE = "/concepts/demo-context/alpha"


def the_witness(engine: Engine) -> Witness:
    with unit_of_work(engine, write=False) as session:
        return session.exec(select(Witness).where(Witness.key == DOUBLE)).one()


def current_hash(engine: Engine) -> str:
    witness = the_witness(engine)
    return code_hash(witness.code, witness.checks)


def write_record(content: Path, entries: dict[str, dict[str, Any]]) -> None:
    record = {"target": 0.8, "cap": 40, "witnesses": entries}
    (content / "witness-strength.json").write_text(json.dumps(record), encoding="utf-8")


def entry(hash_: str, caught: int = 4, survivors: tuple[str, ...] = ("constant-1a2b3c4d",)) -> (
    dict[str, Any]
):  # fmt: skip
    return {
        "code_hash": hash_,
        "mutants": caught + len(survivors),
        "total": caught + len(survivors),
        "caught": caught,
        "survivors": list(survivors),
        "descriptions": {s: "line 1: constant 2.0 -> 3.0" for s in survivors},
    }


def reingest(engine: Engine, content: Path) -> None:
    with unit_of_work(engine) as session:
        ingest(session, content)


@pytest.fixture
def app_client(database_url: str, content_copy: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(database_url, content_copy)), client=LOOPBACK) as c:
        yield c


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def strength_of(client: TestClient) -> dict[str, Any] | None:
    response = client.get(f"/api/objects/{DOUBLE}")
    assert response.status_code == 200, response.text
    strength: dict[str, Any] | None = response.json()["strength"]
    return strength


def test_a_matching_record_entry_is_shown_as_measured_from_the_record(
    app_client: TestClient, content_copy: Path
) -> None:
    engine = engine_of(app_client)
    assert strength_of(app_client) is None  # no record yet
    write_record(content_copy, {DOUBLE: entry(current_hash(engine))})
    reingest(engine, content_copy)

    strength = strength_of(app_client)
    assert strength is not None
    assert (strength["mutants"], strength["caught"], strength["origin"]) == (5, 4, "record")
    assert strength["meets_target"] and not strength["stale"] and not strength["weak"]
    assert strength["survivors"] == [
        {"id": "constant-1a2b3c4d", "description": "line 1: constant 2.0 -> 3.0"}
    ]
    page = app_client.get(PAGE).text
    assert "Strength: not measured" not in page
    assert "from the committed record" in page and "checks catch 4 of 5 mutants" in page
    prompt = app_client.get(f"/api/objects/{DOUBLE}/prompt").text
    assert "Strength: checks catch 4 of 5 mutants (80%) (committed record, not run here)" in prompt


def test_an_entry_whose_hash_no_longer_matches_is_not_shown_as_measured(
    app_client: TestClient, content_copy: Path
) -> None:
    engine = engine_of(app_client)
    write_record(content_copy, {DOUBLE: entry("0" * 64)})
    reingest(engine, content_copy)
    assert strength_of(app_client) is None
    assert "Strength: not measured" in app_client.get(PAGE).text
    with unit_of_work(engine, write=False) as session:
        assert session.exec(select(WitnessStrength)).all() == []


def test_editing_the_witness_drops_the_strength_loaded_from_the_record(
    app_client: TestClient, content_copy: Path
) -> None:
    engine = engine_of(app_client)
    write_record(content_copy, {DOUBLE: entry(current_hash(engine))})
    reingest(engine, content_copy)
    assert strength_of(app_client) is not None
    alpha = content_copy / ALPHA_MD
    alpha.write_text(
        alpha.read_text(encoding="utf-8").replace('print("value:", 2.0)', 'print("value:", 2.00)'),
        encoding="utf-8",
    )
    reingest(engine, content_copy)
    assert strength_of(app_client) is None
    assert "Strength: not measured" in app_client.get(PAGE).text


def test_a_strength_measured_in_the_store_is_kept_over_the_record(
    app_client: TestClient, content_copy: Path
) -> None:
    engine = engine_of(app_client)
    with unit_of_work(engine) as session:
        witness = session.exec(select(Witness).where(Witness.key == DOUBLE)).one()
        store_strength(session, witness, Measure(DOUBLE, 6, 6, 6, ()))
    write_record(content_copy, {DOUBLE: entry(current_hash(engine))})
    reingest(engine, content_copy)
    strength = strength_of(app_client)
    assert strength is not None and (strength["caught"], strength["origin"]) == (6, "run")


def test_a_malformed_record_is_a_content_problem(engine: Engine, content_copy: Path) -> None:
    (content_copy / "witness-strength.json").write_text('{"target": 0.8, "witnesses": [', "utf-8")
    with pytest.raises(ContentError) as caught:
        reingest(engine, content_copy)
    problems = [str(d) for d in caught.value.details]
    assert len(problems) == 1 and "witness-strength.json:1: malformed JSON" in problems[0]


def test_a_fresh_store_of_the_bundled_content_shows_every_witness_measured(
    engine: Engine,
) -> None:
    from server.witnesses.strength import strength_states

    reingest(engine, BUNDLED_CONTENT)
    with unit_of_work(engine, write=False) as session:
        witnesses = list(session.exec(select(Witness)))
        states = strength_states(session, witnesses)
    assert witnesses and all(states.values()), [k for k, v in states.items() if v is None]
    for key, state in states.items():
        assert state is not None and state["origin"] == "record", key
        assert state["meets_target"] and not state["stale"], key
