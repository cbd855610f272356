"""Alembic owns the schema: the migrations build exactly the models, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from server import migrations


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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
        if table == "alembic_version":
            continue
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
