"""people: revoked accounts, page sessions, login throttling; review support and supersedes

Revision ID: a7c4e19d2b58
Revises: cb376247fb1b
Create Date: 2026-12-01 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'a7c4e19d2b58'
down_revision: str | None = 'cb376247fb1b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('user_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_session_token_hash'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_name'), ['user_name'], unique=False)

    op.create_table('login_throttle',
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_login_throttle'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    # Existing reviews (from content) name no per-link checks and supersede nothing.
    with op.batch_alter_table('claim_review', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('support', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column('supersedes', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_claim_review_supersedes'), ['supersedes'])


def downgrade() -> None:
    with op.batch_alter_table('claim_review', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_claim_review_supersedes'), type_='unique')
        batch_op.drop_column('supersedes')
        batch_op.drop_column('support')

    # The older schema knows no revocation: a revoked account keeps its row but loses its token.
    op.execute(sa.text("UPDATE user_account SET token_hash = NULL WHERE revoked_at IS NOT NULL"))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')

    op.drop_table('login_throttle')
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_name'))

    op.drop_table('user_session')
