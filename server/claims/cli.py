"""``readingroom reviews``: the review queue, and adding a review from the command line."""

from __future__ import annotations

import click
from pydantic import ValidationError
from sqlmodel import Session

from server.claims import service
from server.claims.schemas import REVIEW_VERDICTS, NewReview, SupportCheck
from server.cli import database_option, fail, settings_for
from server.db import make_engine, unit_of_work
from server.errors import Moved
from server.objects.resolve import resolve_key
from server.people.accounts import active_account
from server.people.identity import LOCAL_NAME, Person


@click.group("reviews")
def reviews_group() -> None:
    """Claim reviews: the queue of claims without a substantive review, and adding one."""


@reviews_group.command("queue")
@click.option("--limit", type=click.IntRange(1, service.MAX_PAGE), default=50, show_default=True,
              help="How many claims to print.")  # fmt: skip
@database_option
def queue(limit: int, database: str | None) -> None:
    """Print the claims that still need a substantive review, the one waiting longest first."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine, write=False) as session:
            needs_review = service.ClaimFilter(needs="review")
            rows, count = service.list_claims(session, needs_review, limit, 0)
    finally:
        engine.dispose()
    for row in rows:
        sources = ", ".join(s["source"].partition(":")[2] for s in row["support"])
        click.echo(f"{row['verdict']:<11} {row['key']}  [{sources}]")
        click.echo(f"{'':<11} {row['text'][:160]}")
    shown = f" ({len(rows)} shown)" if len(rows) < count else ""
    click.echo(f"{count} claim(s) need a substantive review{shown}")


@reviews_group.command("add")
@click.argument("claim_key")
@click.option("--verdict", required=True, type=click.Choice(REVIEW_VERDICTS), help="The verdict.")
@click.option("--summary", required=True, help="What the review found (at most 1,200 characters).")
@click.option("--caveats", default="", help="Scope caveats.")
@click.option("--reviewer", default=None, help="Who reviewed (default: the local learner).")
@click.option(
    "--checked",
    "checked",
    multiple=True,
    metavar="SOURCE",
    help="A support link whose locator you read at that place (repeatable).",
)
@click.option("--supersedes", type=int, default=None, help="Id of the review this one corrects.")
@database_option
def add(
    claim_key: str, verdict: str, summary: str, caveats: str, reviewer: str | None,
    checked: tuple[str, ...], supersedes: int | None, database: str | None,
) -> None:  # fmt: skip
    """Add a review of CLAIM_KEY (an alias key is followed)."""
    from server import migrations

    try:
        body = NewReview(
            verdict=verdict,
            summary=summary,
            caveats=caveats,
            support=[SupportCheck(source=s, checked=True) for s in checked],
            supersedes=supersedes,
        )
    except ValidationError as error:
        fail("the review is not valid", [f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                         for e in error.errors()])  # fmt: skip
        return
    engine = make_engine(settings_for(database).database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine) as session:
            person = _reviewer(session, reviewer)
            key = _follow_alias(session, claim_key)
            review = service.add_review(session, key, body, person, origin="cli")
            line = f"added review {review.id} of {review.claim_key}: {review.verdict}"
            line += f" by {person.name}"
    finally:
        engine.dispose()
    click.echo(line)


def _reviewer(session: Session, name: str | None) -> Person:
    """The local learner, or a named person; an account of that name must be a reviewer."""
    if name is None or name == LOCAL_NAME:
        return Person(LOCAL_NAME, "admin", local=True)
    account = active_account(session, name)
    if account is not None:
        person = Person(account.name, account.role)
        if not person.has_role("reviewer"):
            fail(f"{name} is a {account.role}: only reviewers, editors and admins add reviews")
        return person
    return Person(name, "reviewer")


def _follow_alias(session: Session, key: str) -> str:
    try:
        return resolve_key(session, key)
    except Moved as moved:
        click.echo(f"note: {key} is now {moved.new_key}", err=True)
        return moved.new_key
