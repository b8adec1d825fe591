"""priority categories: the ticket's category, the priority ledger, each counter's run of priority calls

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

``tickets.category`` is the priority category code (绿色通道); its weight is
``tickets.priority``, which the queue counts and the callable index already
order by. ``priority_ledger`` records every grant, request, confirmation and
change of a category. ``counter_states.priority_run`` is the counter's priority
calls in a row, which the calling policy caps; kept here so a restart keeps it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch copy of ``tickets`` would drop 0006's triggers.
    op.add_column('tickets', sa.Column('category', sa.String(length=32), nullable=True))
    op.add_column(
        'counter_states', sa.Column('priority_run', sa.Integer(), nullable=False, server_default='0')
    )
    op.create_table('priority_ledger',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_category', sa.String(length=32), nullable=True),
    sa.Column('to_category', sa.String(length=32), nullable=True),
    sa.Column('from_priority', sa.Integer(), nullable=False),
    sa.Column('to_priority', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_priority_ledger_ticket_id', 'priority_ledger', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_priority_ledger_ticket_id', table_name='priority_ledger')
    op.drop_table('priority_ledger')
    with op.batch_alter_table('counter_states') as batch:
        batch.drop_column('priority_run')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('category')
