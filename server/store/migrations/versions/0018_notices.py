"""notices for the lobby and the kiosk: a schedule and an expiry, tariffs, planned power cuts, the hotline

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-01

One table: each notice's kind, bilingual title and body, a tariff's table
(JSON), a power cut's area and times, when it shows (``starts_at`` to
``ends_at``), its display order, who made and last changed it, and whether it
was withdrawn. Screens read the ones showing now (index on ``ends_at``).
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title_zh', sa.String(length=80), nullable=False),
    sa.Column('title_en', sa.String(length=120), nullable=False),
    sa.Column('body_zh', sa.String(length=500), nullable=False),
    sa.Column('body_en', sa.String(length=1000), nullable=False),
    sa.Column('tariff', sa.JSON(), nullable=True),
    sa.Column('area_zh', sa.String(length=120), nullable=False),
    sa.Column('area_en', sa.String(length=200), nullable=False),
    sa.Column('outage_from', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('outage_to', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('starts_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('ends_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('withdrawn_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('withdrawn_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notices_ends_at', 'notices', ['ends_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notices_ends_at', table_name='notices')
    op.drop_table('notices')
