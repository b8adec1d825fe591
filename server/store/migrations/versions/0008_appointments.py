"""appointments (预约), their per half-day quota, and the appointment fields of a ticket

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02

``appointments`` keeps each booking: service (and optionally a counter or a
named resource such as a doctor), its slot, a short code unique per business
day, the booking phone (never shown publicly) and, where a site calls by
name, the booked name (erased after the retention period).
``appointment_quota`` counts the live bookings of a service per business day
and half-day (号源), incremented with an upsert in the booking's own
transaction so two racing bookings can never both take the last place.
``tickets.due_at`` and ``tickets.appointment`` carry a checked-in
appointment's slot start and id (plain ADD COLUMN: no table rebuild, so the
queue-count triggers of 0006 stay).
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

#: The index's predicate, spelled as server.store.schema.DUE_SQL spells it (queries repeat it).
DUE = "status IN ('waiting', 'transferred') AND due_at IS NOT NULL"

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tickets', sa.Column('due_at', server.store.schema.UTCDateTime(), nullable=True))
    op.add_column('tickets', sa.Column('appointment', sa.String(length=32), nullable=True))
    # The callable appointment tickets of a service by due time: a counter finds the one
    # due now however deep in the queue its check-in put it (SqlTx.callable_heads).
    op.create_index(
        'ix_tickets_due',
        'tickets',
        ['business_day', 'service', 'due_at'],
        unique=False,
        sqlite_where=sa.text(DUE),
        postgresql_where=sa.text(DUE),
    )
    op.create_table('appointments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('half', sa.String(length=2), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('counter', sa.Integer(), nullable=True),
    sa.Column('resource', sa.String(length=64), nullable=True),
    sa.Column('slot_start', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('slot_end', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('checked_in_at', server.store.schema.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('business_day', 'code', name='uq_appointment_code_per_day'),
    )
    op.create_index('ix_appointments_day_status', 'appointments', ['business_day', 'status'], unique=False)
    op.create_index('ix_appointments_phone', 'appointments', ['phone'], unique=False)
    op.create_table('appointment_quota',
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('half', sa.String(length=2), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('service', 'business_day', 'half'),
    )


def downgrade() -> None:
    op.drop_table('appointment_quota')
    op.drop_index('ix_appointments_phone', table_name='appointments')
    op.drop_index('ix_appointments_day_status', table_name='appointments')
    op.drop_table('appointments')
    op.drop_index('ix_tickets_due', table_name='tickets')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('appointment')
        batch_op.drop_column('due_at')
