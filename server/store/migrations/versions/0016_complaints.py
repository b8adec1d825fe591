"""complaints and suggestions: their current state, and their log (the figures' one source)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

``complaints`` keeps each complaint's current state (category, owner, deadline,
return call, closure) for quick lists; ``complaint_events`` every change of it
(recorded, note, owner, return_call, closed: who, when), from which the
figures (查处率, closure time) are computed. A complaint names a ticket by a
foreign key; no column is added to ``tickets``.
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaints',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('recorded_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('due_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('ticket_id', sa.String(length=32), nullable=True),
    sa.Column('ticket_number', sa.String(length=16), nullable=True),
    sa.Column('case_code', sa.String(length=16), nullable=True),
    sa.Column('clerk', sa.String(length=64), nullable=True),
    sa.Column('counter', sa.Integer(), nullable=True),
    sa.Column('service', sa.String(length=32), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('return_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('return_by', sa.String(length=64), nullable=True),
    sa.Column('return_satisfaction', sa.String(length=24), nullable=True),
    sa.Column('return_note', sa.String(length=200), nullable=True),
    sa.Column('closed_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('result', sa.String(length=200), nullable=True),
    sa.Column('updated_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_complaints_status_due', 'complaints', ['status', 'due_at'], unique=False)
    op.create_index('ix_complaints_owner_status', 'complaints', ['owner', 'status'], unique=False)
    op.create_index('ix_complaints_ticket', 'complaints', ['ticket_id'], unique=False)
    op.create_table('complaint_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('complaint_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_complaint_events_complaint_id', 'complaint_events', ['complaint_id'], unique=False)
    op.create_index('ix_complaint_events_kind_at', 'complaint_events', ['kind', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_complaint_events_kind_at', table_name='complaint_events')
    op.drop_index('ix_complaint_events_complaint_id', table_name='complaint_events')
    op.drop_table('complaint_events')
    op.drop_index('ix_complaints_ticket', table_name='complaints')
    op.drop_index('ix_complaints_owner_status', table_name='complaints')
    op.drop_index('ix_complaints_status_due', table_name='complaints')
    op.drop_table('complaints')
