"""cases that span days: cases, their steps, their log, and the tickets linked to them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

``cases`` keeps each case (业扩报装 and the like): its kind, service, code (the
visitor's key to its progress), owner (首问负责), status and the contact kept
private; ``case_steps`` its steps with their working-day deadlines;
``case_events`` every change of it (who, when); ``case_tickets`` the tickets
linked to it (the one it was opened from, and each taken for a later step).
A link table rather than a column on ``tickets``: the kiosk's insert of a
plain ticket stays as it was, and no rebuild of ``tickets`` touches the
queue-count triggers of 0006. (Colleagues add 0010–0012; the lead relinks
``down_revision`` at merge.)
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('opened_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('opened_by', sa.String(length=64), nullable=False),
    sa.Column('counter', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.String(length=32), nullable=True),
    sa.Column('contact_name', sa.String(length=64), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('closed_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('updated_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code', name='uq_case_code'),
    )
    op.create_index('ix_cases_status_owner', 'cases', ['status', 'owner'], unique=False)
    op.create_index('ix_cases_status_service', 'cases', ['status', 'service'], unique=False)
    op.create_table('case_steps',
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('step', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=40), nullable=False),
    sa.Column('name_en', sa.String(length=60), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('due_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('active_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('done_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.Column('done_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'step'),
    )
    op.create_index('ix_case_steps_status_due', 'case_steps', ['status', 'due_at'], unique=False)
    op.create_table('case_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_events_case_id', 'case_events', ['case_id'], unique=False)
    op.create_table('case_tickets',
    sa.Column('ticket_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('linked_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('ticket_id'),
    )
    op.create_index('ix_case_tickets_case_id', 'case_tickets', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_tickets_case_id', table_name='case_tickets')
    op.drop_table('case_tickets')
    op.drop_index('ix_case_events_case_id', table_name='case_events')
    op.drop_table('case_events')
    op.drop_index('ix_case_steps_status_due', table_name='case_steps')
    op.drop_table('case_steps')
    op.drop_index('ix_cases_status_service', table_name='cases')
    op.drop_index('ix_cases_status_owner', table_name='cases')
    op.drop_table('cases')
