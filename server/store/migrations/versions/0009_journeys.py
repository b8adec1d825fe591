"""journeys: the legs of each ticket, its owner (首问负责) and current leg

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02

``ticket_legs`` is a view of ``ticket_events`` kept by the hub in the same
transaction as each event (server/core/journey.py). Tickets issued before this
revision get no rows: their legs are replayed from the event log when read.
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tickets', sa.Column('owner', sa.String(length=64), nullable=True))
    op.add_column('tickets', sa.Column('leg', sa.Integer(), nullable=False, server_default='1'))
    op.create_table('ticket_legs',
    sa.Column('ticket_id', sa.String(length=32), nullable=False),
    sa.Column('leg', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('queued_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('transfer', sa.Boolean(), nullable=False),
    sa.Column('counter', sa.Integer(), nullable=True),
    sa.Column('staff', sa.String(length=64), nullable=True),
    sa.Column('called_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('started_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('finished_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('ticket_id', 'leg')
    )
    op.create_index('ix_ticket_legs_day_service', 'ticket_legs', ['business_day', 'service'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_legs_day_service', table_name='ticket_legs')
    op.drop_table('ticket_legs')
    # Plain ALTER TABLE on both (SQLite >= 3.35): a batch copy of ``tickets`` would lose its triggers.
    op.execute("ALTER TABLE tickets DROP COLUMN leg")
    op.execute("ALTER TABLE tickets DROP COLUMN owner")
