"""Grounded mode: the seed's lines with the store's evidence under them, split honestly."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine

from server.config import Settings
from server.db import unit_of_work
from server.models import ClaimReview, ClaimSupport, Note
from server.store import bump_revision
from server.tutor.defaults import ANSWER_AS, UNSETTLED
from tests.tutor.conftest import GOLDEN, NF, build, record_run

LINEAR = "witness:generative-models/normalizing-flows/linear-flow-logpdf"
REZENDE_CLAIM = "claim:generative-models/normalizing-flows/rezende-definition"
ALPHA = "concept:demo-context/alpha"
ALPHA_WITNESS = "witness:demo-context/alpha/double"
ALPHA_CLAIM = "claim:demo-context/alpha/scaling-claim"
BIG = {"prompt_budget_chars": 1_000_000}


def sections(text: str) -> dict[str, list[str]]:
    """The verified and unverified lists of a grounded text prompt."""
    lines = text.split("\n")
    verified = lines.index(next(line for line in lines if line.startswith("Verified evidence")))
    unverified = lines.index(next(line for line in lines if line.startswith("Unverified")))
    end = next(i for i in range(unverified + 1, len(lines)) if not lines[i].startswith("- "))
    return {"verified": lines[verified + 1 : unverified], "unverified": lines[unverified + 1 : end]}


def test_grounded_keeps_the_seed_lines_in_order(bundled: Engine, settings: Settings) -> None:
    seed = (GOLDEN / "compact_normalizing_flows.txt").read_text(encoding="utf-8").split("\n")
    text = build(bundled, settings, NF)
    lines = text.split("\n")
    at = [lines.index(line) for line in seed if line]
    assert at == sorted(at), "every seed line appears, in the seed's order"
    assert lines[-2:] == [UNSETTLED, ANSWER_AS]


def test_grounded_puts_real_evidence_under_each_line(bundled: Engine, settings: Settings) -> None:
    text = build(bundled, settings.model_copy(update=BIG), NF)
    block = text.split("- Source ids to inspect: rezende-2015-normalizing-flows\n")[1]
    assert block.startswith("  - [unverified] source:rezende-2015-normalizing-flows: ")
    assert "Grounds here: Grounds the change-of-variables density transformation" in block
    links = text.split("- Definition, prerequisite, and contrast concept links\n")[1]
    assert links.startswith("  - [unverified] prerequisite link to concept:probability/")
    operational = text.split("- The equation or code witness that makes the concept operational")[1]
    assert "LaTeX: p_X(x) = p_Z\\big(f^{-1}(x)\\big)" in operational
    assert "Code (python):\n      import numpy as np" in operational
    assert "Last run: none yet" in operational
    demo = text.split("- One demo state that shows the invariant instead of a slogan\n")[1]
    assert demo.startswith("  - [unverified] demo:generative-models/normalizing-flows/")
    assert "Controls: " in demo and 'Flow spec: {"type": "chain"' in demo
    assert "- Claims with their review verdicts and locators\n" in text
    assert "(locator not checked)" in text and "Review: bounded (" in text
    assert "- Known misconceptions\n" in text and "Why it is wrong: " in text


def test_nothing_is_verified_without_a_run_or_review(bundled: Engine, settings: Settings) -> None:
    found = sections(build(bundled, settings.model_copy(update=BIG), NF))
    # No witness has run; only claims whose latest review is substantive count as verified.
    assert found["verified"], "the bundled page has substantively reviewed claims"
    for line in found["verified"]:
        assert line.startswith("- claim:") and ": substantive review, verdict " in line, line
    assert f"- {LINEAR}: no run yet" in found["unverified"]
    assert (
        f"- {REZENDE_CLAIM}: review verdict bounded: exact support not checked"
        in (found["unverified"])
    )


def test_a_passing_current_run_is_verified(fixture_tree: Engine, settings: Settings) -> None:
    assert sections(build(fixture_tree, settings, ALPHA))["verified"] == [
        "- none: no passing current witness run and no substantive review is part of this evidence"
    ]
    record_run(fixture_tree, ALPHA_WITNESS)
    text = build(fixture_tree, settings, ALPHA)
    found = sections(text)
    assert found["verified"] == [
        f"- {ALPHA_WITNESS}: passing current run (2026-05-08 10:04 UTC, numpy 2.1.3, "
        "CPython 3.11.9)"
    ]
    assert "Last run: passed on 2026-05-08 10:04 UTC (numpy 2.1.3, CPython 3.11.9), current" in (
        text
    )
    assert f"  - [verified] {ALPHA_WITNESS}: Doubling a number." in text


def test_a_stale_or_failing_run_is_not_verified(fixture_tree: Engine, settings: Settings) -> None:
    record_run(fixture_tree, ALPHA_WITNESS, current=False)
    found = sections(build(fixture_tree, settings, ALPHA))
    assert not any(ALPHA_WITNESS in line for line in found["verified"])
    assert any(line.startswith(f"- {ALPHA_WITNESS}: stale run") for line in found["unverified"])
    later = datetime(2026, 5, 9, tzinfo=UTC)
    record_run(fixture_tree, ALPHA_WITNESS, status="failed", when=later)
    text = build(fixture_tree, settings, ALPHA_WITNESS)
    assert f"- {ALPHA_WITNESS}: last run failed" in sections(text)["unverified"]
    assert "Last run: failed on 2026-05-09 00:00 UTC" in text


def test_a_substantive_review_is_verified_even_when_negative(
    fixture_tree: Engine, settings: Settings
) -> None:
    with unit_of_work(fixture_tree) as session:
        session.add(
            ClaimReview(
                claim_key=ALPHA_CLAIM, verdict="unsupported", reviewer="Ada Reviewer",
                reviewed_on=date(2026, 5, 9), summary="Section 2 says something else.",
                origin="api",
            )
        )  # fmt: skip
    found = sections(build(fixture_tree, settings, ALPHA_CLAIM))
    assert found["verified"] == [
        f"- {ALPHA_CLAIM}: substantive review, verdict unsupported: the cited source does not "
        "support the claim as stated (Ada Reviewer, 2026-05-09)"
    ]
    assert (
        f"- {ALPHA_CLAIM} citing source:smith-2020-example at section 2 Scaling; page 3: "
        "locator not checked"
    ) in found["unverified"]


def test_a_checked_locator_is_not_listed_as_unchecked(
    fixture_tree: Engine, settings: Settings
) -> None:
    with unit_of_work(fixture_tree) as session:
        for support in session.exec(
            ClaimSupport.__table__.select()  # type: ignore[attr-defined]
        ).all():
            row = session.get(ClaimSupport, support.id)
            assert row is not None
            row.checked = True
    text = build(fixture_tree, settings, ALPHA_CLAIM)
    assert "locator not checked" not in text
    assert "(locator checked)" in text


def test_my_note_is_shown_and_nobody_elses(fixture_tree: Engine, settings: Settings) -> None:
    with unit_of_work(fixture_tree) as session:
        session.add(Note(learner="local", object_key=ALPHA, text="Scale *then* shift.",
                         next_action="Redo the 1-D case by hand."))  # fmt: skip
        session.add(Note(learner="someone-else", object_key=ALPHA, text="SECRET NOTE",
                         next_action="SECRET ACTION"))  # fmt: skip
        session.add(Note(learner="local", object_key=ALPHA_CLAIM, text="Other object."))
    text = build(fixture_tree, settings, ALPHA)
    assert "My own note on this object:\n  Scale *then* shift.\n" in text
    assert "My next action: Redo the 1-D case by hand.\n" in text
    assert "SECRET" not in text and "Other object." not in text
    assert "My own note" not in build(fixture_tree, settings, ALPHA, mode="compact")
    team = settings.model_copy(update={"mode": "team"})
    assert "Scale *then* shift." not in build(fixture_tree, team, ALPHA)
    as_json = build(fixture_tree, settings, ALPHA, fmt="json")
    assert as_json["note"]["next_action"] == "Redo the 1-D case by hand."


def test_two_builds_are_identical(bundled: Engine, settings: Settings) -> None:
    record_run(bundled, LINEAR)
    for fmt in ("text", "markdown", "json"):
        assert build(bundled, settings, NF, fmt=fmt) == build(bundled, settings, NF, fmt=fmt)


def test_the_budget_drops_the_least_central_evidence_and_says_so(
    bundled: Engine, settings: Settings
) -> None:
    full = build(bundled, settings.model_copy(update=BIG), NF)
    budget = len(full) // 2
    text = build(bundled, settings.model_copy(update={"prompt_budget_chars": budget}), NF)
    assert len(text) <= budget
    dropped = next(line for line in text.split("\n") if line.startswith("Dropped to fit"))
    assert "demo:generative-models/normalizing-flows/radial-contract" in dropped
    # The first object of each kind outranks the second of any: breadth survives.
    for kept in ("source:rezende-2015-normalizing-flows", LINEAR, REZENDE_CLAIM,
                 "equation:generative-models/normalizing-flows/change-of-variables",
                 "demo:generative-models/normalizing-flows/stretch-x"):  # fmt: skip
        assert f"] {kept}" in text, kept
        assert kept not in dropped


def test_a_question_is_kept_in_grounded_mode(bundled: Engine, settings: Settings) -> None:
    text = build(bundled, settings, NF, question="Why is the inverse Jacobian the right one?")
    assert "\nOpen question: Why is the inverse Jacobian the right one?\n" in text
    as_json = build(bundled, settings, NF, fmt="json", question="Why?")
    assert as_json["question"] == {"text": "Why?", "source": "request"}


GROUNDING = "Grounding (derived from runs and reviews): "
ON_ALPHA = "its concept, not grounded (0/1 witnesses passing, 0/1 claims reviewed)"


def grounding_line(text: str) -> str:
    """The object's grounding statement: one line among the details under ``Object:``."""
    found = [line for line in text.split("\n") if line.startswith("  " + GROUNDING)]
    assert len(found) == 1, text[:1500]
    return found[0].strip().removeprefix(GROUNDING)


def test_every_kind_of_object_states_what_it_rests_on(
    fixture_tree: Engine, settings: Settings
) -> None:
    authored = "itself as authored, not checked by a run or review"
    expected = {
        ALPHA: "not grounded; 0/1 witness(es) with a current passing run, 0/1 claim(s) with a "
        "substantive review",
        ALPHA_WITNESS: f"rests on its runs, not verified (no run yet), and {ON_ALPHA}",
        ALPHA_CLAIM: "rests on its review, not verified (bounded; 0 of 1 locators of 1 "
        f"source(s) read), and {ON_ALPHA}",
        "equation:demo-context/alpha/scale": f"rests on {ON_ALPHA}; {authored}",
        "demo:demo-context/alpha/stretch": f"rests on {ON_ALPHA}; {authored}",
        "misconception:demo-context/alpha/no-change": "rests on what exposes it, "
        "demo:demo-context/alpha/stretch (not verified: as authored: the demo state is not "
        f"evaluated in this prompt), and {ON_ALPHA}",
        "source:smith-2020-example": "a source is where evidence starts, derived from nothing "
        "here; it grounds 2 concept page(s) and is cited by 2 claim(s), 0 of them with a "
        "substantive review",
    }
    for key, statement in expected.items():
        text = build(fixture_tree, settings, key)
        assert grounding_line(text) == statement, key
        assert GROUNDING + statement in build(fixture_tree, settings, key, fmt="json")["prompt"]
        assert GROUNDING not in build(fixture_tree, settings, key, mode="compact")


def test_the_statement_follows_the_evidence(fixture_tree: Engine, settings: Settings) -> None:
    record_run(fixture_tree, ALPHA_WITNESS)
    assert grounding_line(build(fixture_tree, settings, ALPHA_WITNESS)) == (
        "rests on its runs, verified (latest run passed, current; strength not measured), and "
        "its concept, not grounded (1/1 witnesses passing, 0/1 claims reviewed)"
    )
    with unit_of_work(fixture_tree) as session:
        session.add(ClaimReview(claim_key=ALPHA_CLAIM, verdict="unsupported", reviewer="r",
                                reviewed_on=date(2026, 5, 9), summary="Section 2 says otherwise.",
                                origin="api"))  # fmt: skip
        bump_revision(session)
    assert grounding_line(build(fixture_tree, settings, ALPHA_CLAIM)) == (
        "rests on its review, verified (unsupported; 0 of 1 locators of 1 source(s) read), and "
        "its concept, fully grounded (1/1 witnesses passing, 1/1 claims reviewed)"
    )
