"""on my way: the called visitor says from the phone they are coming

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-01

``tickets.on_my_way_at`` is written by the phone's "我在路上 / I'm on my way"
(server/core/queue.py ``on_my_way``); the no-show watch gives the call it
followed ``[phone] on_my_way_minutes`` more. Written by claims only, like the
journey's columns: the kiosk's insert stays as it was. (0017 and 0018 are
colleagues' revisions; the chain is relinked when they are merged.)
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both: a batch copy of ``tickets`` would lose its triggers.
    op.add_column('tickets', sa.Column('on_my_way_at', server.store.schema.UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE tickets DROP COLUMN on_my_way_at")
