"""Alembic owns the schema: the migrations build exactly the models, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from server import migrations
from server.db import unit_of_work
from server.migrations import is_model_object


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_object": is_model_object}
        context = MigrationContext.configure(connection, opts=opts)
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    head = migrations.current_revision(engine)
    assert head is not None
    migrations.downgrade(engine, "base")
    assert migrations.current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == head


def test_constraints_are_named(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in inspector.get_table_names():
        if table == "alembic_version" or table.startswith(migrations.QUEUE_PREFIX):
            continue  # the job queue's tables are procrastinate's, named its own way
        assert inspector.get_pk_constraint(table)["name"] in (f"pk_{table}", None)
        for unique in inspector.get_unique_constraints(table):
            assert unique["name"] and unique["name"].startswith("uq_"), (table, unique)


def test_head_revision_is_what_alembic_calls_head(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config(engine))
    assert migrations.head_revision() == script.get_current_head()


def test_ensure_current_migrates_an_empty_database_and_then_does_nothing(engine: Engine) -> None:
    migrations.downgrade(engine, "base")
    migrations.ensure_current(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    migrations.ensure_current(engine)  # already current: no Alembic run
    assert migrations.current_revision(engine) == migrations.head_revision()


def test_the_people_revision_keeps_users_and_reviews_down_and_up(engine: Engine) -> None:
    from datetime import date

    from sqlalchemy import text

    from server.models import ClaimReview, User, utcnow

    with unit_of_work(engine) as session:
        session.add(User(name="rita", role="reviewer", token_hash="h" * 64))
        session.add(User(name="gone", role="admin", token_hash="g" * 64, revoked_at=utcnow()))
        session.add(
            ClaimReview(
                claim_key="claim:a/b/c", verdict="supported", reviewer="rita",
                reviewed_on=date(2026, 12, 1), summary="Checked.", origin="api",
                support=[{"source": "source:x", "checked": True, "stance": "supports"}],
            )
        )  # fmt: skip
    migrations.downgrade(engine, "cb376247fb1b")
    assert "user_session" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        query = text("SELECT name, role, token_hash FROM user_account ORDER BY name")
        users = connection.execute(query).all()
        kept = connection.execute(
            text("SELECT claim_key, verdict, summary FROM claim_review")
        ).all()
    # a revoked account stays revoked in the older schema: it keeps no token
    assert [tuple(u) for u in users] == [("gone", "admin", None), ("rita", "reviewer", "h" * 64)]
    assert [tuple(r) for r in kept] == [("claim:a/b/c", "supported", "Checked.")]
    migrations.upgrade(engine)
    with unit_of_work(engine, write=False) as session:
        names = [(u.name, u.token_hash) for u in session.exec(select(User).order_by(User.name))]
        review = session.exec(select(ClaimReview)).one()
    assert names == [("gone", None), ("rita", "h" * 64)]
    assert (review.summary, review.support, review.supersedes) == ("Checked.", [], None)
