"""Every object of every kind, in the bundled content and the fixture tree, yields an honest
prompt: keys that exist, nothing verified without its run or review, deterministic, in budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.concepts.service import claims_for
from server.config import Settings
from server.db import unit_of_work
from server.models import OBJECT_KINDS, Claim, ObjectKey, Witness
from server.witnesses.cache import current_cache_key
from server.witnesses.records import latest_runs
from tests.conftest import BUNDLED_CONTENT, VALID_CONTENT
from tests.tutor.conftest import build, cited_keys, ingested, record_run

TREES = {"bundled": BUNDLED_CONTENT, "fixture": VALID_CONTENT}


def active_keys(engine: Engine) -> list[str]:
    with unit_of_work(engine, write=False) as session:
        rows = session.exec(select(ObjectKey.key).where(ObjectKey.status == "active"))
        return sorted(rows)


def record_some_runs(engine: Engine) -> None:
    """One current pass, one stale pass and one current failure, where there are witnesses."""
    with unit_of_work(engine, write=False) as session:
        witnesses = list(session.exec(select(Witness.key).order_by(col(Witness.key))))
    for key, options in zip(
        witnesses,
        ({}, {"current": False}, {"status": "failed"}),
        strict=False,
    ):
        record_run(engine, key, **options)


def verified_for_a_reason(session: Session, key: str) -> bool:
    """The store holds the run or the review that makes ``key`` verified."""
    kind = key.partition(":")[0]
    if kind == "witness":
        witness = session.exec(select(Witness).where(Witness.key == key)).one()
        run = latest_runs(session, [key]).get(key)
        return (
            run is not None
            and run.status == "passed"
            and run.cache_key == current_cache_key(witness)
        )
    if kind == "claim":
        claim = session.exec(select(Claim).where(Claim.key == key)).one()
        return bool(claims_for(session, [claim])[0]["substantive"])
    return False


def json_keys(body: dict[str, Any]) -> set[str]:
    keys = {body["key"]}
    for line in body["evidence"]:
        keys.update(item["key"] for item in line["items"])
    keys.update(f["key"] for f in body["verified"] + body["unverified"])
    keys.update(d["key"] for d in body["dropped"])
    return keys


@pytest.mark.parametrize("tree", sorted(TREES))
def test_every_object_yields_an_honest_prompt(
    tree: str, engine: Engine, settings: Settings
) -> None:
    ingested(engine, TREES[tree])
    record_some_runs(engine)
    keys = active_keys(engine)
    active = set(keys)
    assert {k.partition(":")[0] for k in keys} == set(OBJECT_KINDS)
    for key in keys:
        for mode in ("compact", "grounded"):
            text = build(engine, settings, key, mode=mode)
            markdown = build(engine, settings, key, mode=mode, fmt="markdown")
            body = build(engine, settings, key, mode=mode, fmt="json")
            assert text.startswith("I am working in ") and f"\nObject key: {key}\n" in text
            assert body["prompt"] == text and body["messages"][1]["content"] == text
            assert [m["role"] for m in body["messages"]] == ["system", "user"]
            for cited in (cited_keys(text), cited_keys(markdown), json_keys(body)):
                assert cited <= active, (key, mode, cited - active)
            assert build(engine, settings, key, mode=mode) == text
            assert build(engine, settings, key, mode=mode, fmt="json") == body
        with unit_of_work(engine, write=False) as session:
            for finding in body["verified"]:
                assert verified_for_a_reason(session, finding["key"]), (key, finding)
            for line in body["evidence"]:
                for item in line["items"]:
                    if item["status"] == "verified":
                        assert verified_for_a_reason(session, item["key"]), (key, item)


@pytest.mark.parametrize("budget", [4_000, 12_000])
def test_the_budget_holds_for_every_object(
    budget: int, bundled: Engine, settings: Settings
) -> None:
    tight = settings.model_copy(update={"prompt_budget_chars": budget})
    for key in active_keys(bundled):
        text = build(bundled, tight, key)
        assert len(text) <= budget, (key, len(text))
        assert len(build(bundled, tight, key, fmt="markdown")) <= budget, key
        body = build(bundled, tight, key, fmt="json")
        assert body["chars"] == len(body["prompt"]) <= budget
        if body["dropped"]:
            assert "\nDropped to fit the size budget (least central first): " in text


def test_below_the_seed_lines_the_budget_cuts_and_says_so(
    bundled: Engine, settings: Settings
) -> None:
    tiny = settings.model_copy(update={"prompt_budget_chars": 500})
    text = build(bundled, tiny, "concept:generative-models/normalizing-flows")
    assert "(ask for any of them by key)" in text
    assert "\nCut to fit the size budget: " in text
    assert text.endswith("end with one next action.")


def test_a_tree_path_is_a_directory(tmp_path: Path) -> None:
    # Guard for the parametrisation above: both trees exist where the tests expect them.
    assert all(path.is_dir() for path in TREES.values())
    assert tmp_path.is_dir()
