"""Reviews written in content are imported once, as history; API reviews are never touched."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from server.claims import service
from server.claims.schemas import NewReview
from server.cli import main
from server.db import unit_of_work
from server.ingest.service import ingest
from server.models import ClaimReview
from server.people.identity import Person

ALPHA = "claim:demo-context/alpha/scaling-claim"
BETA = "claim:demo-context/beta/scaling-claim"
RITA = Person("rita", "reviewer")


def reviews(engine: Engine) -> list[tuple[str, str, str, str, str]]:
    with unit_of_work(engine, write=False) as session:
        rows = session.exec(select(ClaimReview).order_by(col(ClaimReview.id)))
        return [(r.claim_key, r.verdict, r.reviewer, str(r.reviewed_on), r.origin) for r in rows]


def test_content_reviews_are_imported_once_and_api_reviews_are_kept(
    engine: Engine, content_copy: Path
) -> None:
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    imported = reviews(engine)
    assert (ALPHA, "bounded", "fixture reviewer", "2026-01-02", "content") in imported
    assert len(imported) == 2
    with unit_of_work(engine) as session:
        body = NewReview(verdict="supported", summary="Checked section 2.")
        service.add_review(session, ALPHA, body, RITA)
    for force in (False, True):  # unchanged and forced re-ingests alike
        with unit_of_work(engine) as session:
            ingest(session, content_copy, force=force)
    after = reviews(engine)
    assert after == [*imported, (ALPHA, "supported", "rita", after[-1][3], "api")]
    # an edit of the page (not of its reviews) neither duplicates nor drops them
    alpha = content_copy / "demo-context" / "alpha.md"
    alpha.write_text(
        alpha.read_text().replace("Scaling by a changes", "Scaling by a factor a changes")
    )
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    assert reviews(engine) == after
    # a review added in content is appended; the earlier history stays as it was
    text = alpha.read_text()
    extra = (
        "      - verdict: partial\n        reviewer: second reader\n        date: 2026-02-03\n"
        "        summary: Only the scalar case.\n"
    )
    alpha.write_text(text.replace("misconceptions:", extra + "misconceptions:", 1))
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    final = reviews(engine)
    assert final[: len(after)] == after
    assert final[len(after) :] == [(ALPHA, "partial", "second reader", "2026-02-03", "content")]


def test_removing_a_review_from_content_keeps_it_as_history(
    engine: Engine, content_copy: Path
) -> None:
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    before = reviews(engine)
    beta = content_copy / "demo-context" / "beta.md"
    text = beta.read_text()
    beta.write_text(text[: text.index("    reviews:")] + text[text.index("misconceptions:") :])
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    assert reviews(engine) == before


def run(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--database", database_url])
    return result.exit_code, result.output


def test_the_reviews_command_prints_the_queue_and_adds_reviews(
    database_url: str, engine: Engine, content_copy: Path
) -> None:
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    code, out = run(database_url, "reviews", "queue")
    assert code == 0, out
    assert ALPHA in out and BETA in out and "2 claim(s) need a substantive review" in out
    code, out = run(
        database_url, "reviews", "add", ALPHA, "--verdict", "supported", "--summary",
        "Section 2 states it.", "--caveats", "1-D only", "--checked", "smith-2020-example",
        "--reviewer", "rita",
    )  # fmt: skip
    assert code == 0, out
    assert f"of {ALPHA}: supported by rita" in out
    code, out = run(database_url, "reviews", "queue")
    assert ALPHA not in out and "1 claim(s) need a substantive review" in out
    with unit_of_work(engine, write=False) as session:
        latest = session.exec(select(ClaimReview).order_by(col(ClaimReview.id).desc())).first()
    assert latest is not None and latest.origin == "cli" and latest.caveats == "1-D only"
    assert latest.support == [
        {"source": "source:smith-2020-example", "link": None, "checked": True, "stance": "supports"}
    ]


def test_the_reviews_command_refuses_what_the_api_refuses(
    database_url: str, engine: Engine, content_copy: Path
) -> None:
    with unit_of_work(engine) as session:
        ingest(session, content_copy)
    code, out = run(database_url, "reviews", "add", ALPHA, "--verdict", "great", "--summary", "x")
    assert code == 2
    code, out = run(database_url, "reviews", "add", ALPHA, "--verdict", "bounded", "--summary", "")
    assert code == 1 and "error: the review is not valid" in out
    code, out = run(
        database_url, "reviews", "add", "claim:demo-context/alpha/nope", "--verdict", "bounded",
        "--summary", "x",
    )  # fmt: skip
    assert code == 1 and "error: no object has the key" in out
    code, out = run(
        database_url, "reviews", "add", ALPHA, "--verdict", "bounded", "--summary", "x",
        "--checked", "nobody-2000",
    )  # fmt: skip
    assert code == 1 and "is not a support link" in out
    assert run(database_url, "users", "add", "lea", "--role", "learner")[0] == 0
    code, out = run(
        database_url, "reviews", "add", ALPHA, "--verdict", "bounded", "--summary", "x",
        "--reviewer", "lea",
    )  # fmt: skip
    assert code == 1 and "only reviewers, editors and admins" in out
    assert len(reviews(engine)) == 2


def test_the_store_lets_a_review_be_corrected_only_once(engine: Engine) -> None:
    def review(**extra: object) -> ClaimReview:
        return ClaimReview(
            claim_key=ALPHA, verdict="bounded", reviewer="r", reviewed_on=date(2026, 12, 1),
            summary="s", origin="api", **extra,
        )  # fmt: skip

    with unit_of_work(engine) as session:
        first = review()
        session.add(first)
        session.flush()
        session.add(review(supersedes=first.id))
    with pytest.raises(IntegrityError), unit_of_work(engine) as session:
        session.add(review(supersedes=first.id))  # a racing second correction
    with unit_of_work(engine) as session:  # while plain reviews (no supersedes) are many
        session.add_all([review(), review()])
