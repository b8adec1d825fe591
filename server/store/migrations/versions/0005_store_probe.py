"""store probe: the row /health rewrites to prove the store takes writes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('store_probe',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('store_probe')
