"""learning paths: learned and starred concepts per learner

Revision ID: e5b13f0c7a21
Revises: a7c4e19d2b58
Create Date: 2026-12-01 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'e5b13f0c7a21'
down_revision: str | None = 'a7c4e19d2b58'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('learner_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('concept_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('learned', sa.Boolean(), nullable=False),
    sa.Column('starred', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learner_progress')),
    sa.UniqueConstraint('learner', 'concept_key', name='uq_learner_progress_learner_concept')
    )
    with op.batch_alter_table('learner_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learner_progress_learner'), ['learner'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_learner_progress_concept_key'), ['concept_key'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('learner_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learner_progress_concept_key'))
        batch_op.drop_index(batch_op.f('ix_learner_progress_learner'))
    op.drop_table('learner_progress')
