"""settings edited from the browser: one row per stored section of the site config

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

``settings_sections`` keeps, per editable section of the site file (services,
counters, hours, priority, …), the JSON value an admin saved, its version (a
save names the version it was based on: a stale one is refused) and who saved
it when. A section without a row is the file's. Every save is audited in the
same transaction (``audit_log``, action ``settings.<section>``).
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('settings_sections',
    sa.Column('section', sa.String(length=32), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('section'),
    )


def downgrade() -> None:
    op.drop_table('settings_sections')
