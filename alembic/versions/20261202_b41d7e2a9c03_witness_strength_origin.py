"""witness strength: where a strength came from (a run here, or the committed record)

Revision ID: b41d7e2a9c03
Revises: b7d41e9a3c65
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "b41d7e2a9c03"
down_revision: str | None = "b7d41e9a3c65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Strengths stored before this revision were all measured here by check --mutants.
    with op.batch_alter_table("witness_strength", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default=sa.text("'run'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("witness_strength", schema=None) as batch_op:
        batch_op.drop_column("origin")
