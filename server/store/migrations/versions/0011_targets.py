"""targets: each leg's latest call, and its wait and service against the service's targets

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Five nullable columns on ``ticket_legs`` (server/core/targets.py says what is
measured): ``last_called_at``, ``wait_seconds``, ``wait_met``,
``service_seconds``, ``service_met``. The hub writes them in the transaction
of the event that decides them. Legs kept before this revision keep nulls: they
had no target, and the share within target does not count them.
Plain ADD COLUMN on both databases (``ticket_legs`` has no triggers).
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

COLUMNS = ('last_called_at', 'wait_seconds', 'wait_met', 'service_seconds', 'service_met')


def upgrade() -> None:
    op.add_column('ticket_legs', sa.Column('last_called_at', server.store.schema.UTCDateTime(), nullable=True))
    op.add_column('ticket_legs', sa.Column('wait_seconds', sa.Float(), nullable=True))
    op.add_column('ticket_legs', sa.Column('wait_met', sa.Boolean(), nullable=True))
    op.add_column('ticket_legs', sa.Column('service_seconds', sa.Float(), nullable=True))
    op.add_column('ticket_legs', sa.Column('service_met', sa.Boolean(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE on both (SQLite >= 3.35), as 0009 does.
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE ticket_legs DROP COLUMN {column}")
