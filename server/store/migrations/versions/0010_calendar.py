"""the hall's calendar: walk-in tickets counted per service and half-day (上午/下午号源)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``half_day_counts`` counts the walk-in tickets a service issued in the morning
and the afternoon of a business day, incremented with an upsert in the issuing
transaction (like ``ticket_sequences``), so a service's half-day cap can never
be passed by two racing batches.

``ticket_sequences.carried``: the highest number carried over into a day at a
closing. The day's numbers go on after it, and its daily limit counts the
numbers after it (a plain ADD COLUMN with a default: no table rebuild). A
carried ticket's ``business_day`` moves, and the queue-count triggers of 0006
follow an UPDATE of it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('half_day_counts',
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('half', sa.String(length=2), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('service', 'business_day', 'half')
    )
    op.add_column('ticket_sequences', sa.Column('carried', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    op.execute("ALTER TABLE ticket_sequences DROP COLUMN carried")  # plain ALTER on both (SQLite >= 3.35)
    op.drop_table('half_day_counts')
