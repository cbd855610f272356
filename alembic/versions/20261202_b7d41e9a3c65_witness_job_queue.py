"""witness job queue: procrastinate's tables and functions, on PostgreSQL only

On PostgreSQL, checks of stored witnesses are jobs in the database that any host's
``readingroom worker`` takes (``server/witnesses/jobs.py``). The queue is procrastinate's:
its schema (tables, types, functions, triggers, all named ``procrastinate_*``) is applied as
the installed release ships it; ``pyproject.toml`` pins the release series, and moving to a
newer one means a new revision applying procrastinate's own migration files. SQLite has no
queue: runs there stay in the process that asks for them.

Revision ID: b7d41e9a3c65
Revises: e5b2d8c41f07
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b7d41e9a3c65"
down_revision: str | None = "e5b2d8c41f07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything procrastinate creates, dropped by name (its functions are found by prefix).
DROP_QUEUE = """
DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
    procrastinate_workers CASCADE;
DO $$
DECLARE fn record;
BEGIN
    FOR fn IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proname LIKE 'procrastinate\\_%' AND n.nspname = current_schema()
    LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || fn.signature || ' CASCADE';
    END LOOP;
END;
$$;
DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
    procrastinate_job_status CASCADE;
"""


def _execute_script(sql: str) -> None:
    # Several statements and PL/pgSQL bodies: sent as one simple query through psycopg
    # itself, so nothing in them is read as a bind parameter.
    op.get_bind().connection.driver_connection.execute(sql)  # type: ignore[union-attr]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    _execute_script(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _execute_script(DROP_QUEUE)
