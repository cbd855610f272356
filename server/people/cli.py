"""``readingroom users``: accounts for team mode (the command line is local, so it may)."""

from __future__ import annotations

import click

from server.cli import database_option, settings_for
from server.db import make_engine, unit_of_work
from server.people import accounts
from server.people.identity import ROLE_ORDER


@click.group("users")
def users_group() -> None:
    """Team-mode accounts: add (prints a token once), list, revoke."""


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLE_ORDER),
    default="learner",
    show_default=True,
    help="learner, reviewer, editor or admin.",
)
@database_option
def add(name: str, role: str, database: str | None) -> None:
    """Add the account NAME and print its bearer token (shown only this once)."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine) as session:
            account = accounts.add_account(session, name, role)
    finally:
        engine.dispose()
    click.echo(f"added {account.name} ({account.role}); their token, shown only this once:")
    click.echo(account.token)


@users_group.command("list")
@database_option
def list_users(database: str | None) -> None:
    """Print every account: name, role, created, revoked."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine, write=False) as session:
            rows = accounts.list_accounts(session)
    finally:
        engine.dispose()
    click.echo(f"{'name':<24} {'role':<9} {'created':<20} revoked")
    for user in rows:
        revoked = user.revoked_at.strftime("%Y-%m-%d %H:%M") if user.revoked_at else "-"
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{user.name:<24} {user.role:<9} {created:<20} {revoked}")
    click.echo(f"{len(rows)} account(s)")


@users_group.command("revoke")
@click.argument("name")
@database_option
def revoke(name: str, database: str | None) -> None:
    """Revoke NAME: its token and page sessions stop working at once."""
    from server import migrations

    engine = make_engine(settings_for(database).database_url)
    try:
        migrations.ensure_current(engine)
        with unit_of_work(engine) as session:
            accounts.revoke_account(session, name)
    finally:
        engine.dispose()
    click.echo(f"revoked {name}: its token and sessions no longer work")
