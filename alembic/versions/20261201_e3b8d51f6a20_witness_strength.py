"""witness strength: mutant verdicts, strength per witness, declared equivalent mutants

Revision ID: e3b8d51f6a20
Revises: e5b13f0c7a21
Create Date: 2026-12-01 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'e3b8d51f6a20'
down_revision: str | None = 'e5b13f0c7a21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mutant_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('witness_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('mutant_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('cache_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mutant_run')),
    sa.UniqueConstraint('cache_key', name=op.f('uq_mutant_run_cache_key'))
    )
    with op.batch_alter_table('mutant_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mutant_run_witness_key'), ['witness_key'], unique=False)

    op.create_table('witness_strength',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('witness_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('mutants', sa.Integer(), nullable=False),
    sa.Column('caught', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('survivors', sa.JSON(), nullable=False),
    sa.Column('computed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_witness_strength')),
    sa.UniqueConstraint('witness_key', name=op.f('uq_witness_strength_witness_key'))
    )
    # Witnesses written before this revision declare no equivalent mutants.
    with op.batch_alter_table('witness', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('equivalent_mutants', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table('witness', schema=None) as batch_op:
        batch_op.drop_column('equivalent_mutants')
    op.drop_table('witness_strength')
    with op.batch_alter_table('mutant_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mutant_run_witness_key'))
    op.drop_table('mutant_run')
