"""staff on post: who is at each counter, their breaks, the post log and the rota

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08

``counter_states`` learns who is on post (the clerk logged in at the counter,
the session holding the post, since when) and the break they are on (reason,
since). ``post_events`` is the post log attendance is read from; ``rota`` is
the day's plan. A counter of an older database has nobody on post: it shows
closed until a clerk logs in at it.
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('counter_states', sa.Column('post', sa.String(length=64), nullable=True))
    op.add_column('counter_states', sa.Column('post_session', sa.String(length=64), nullable=True))
    op.add_column('counter_states', sa.Column('post_since', server.store.schema.UTCDateTime(), nullable=True))
    op.add_column('counter_states', sa.Column('break_reason', sa.String(length=32), nullable=True))
    op.add_column('counter_states', sa.Column('break_since', server.store.schema.UTCDateTime(), nullable=True))
    op.create_table('post_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', server.store.schema.UTCDateTime(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('counter', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_post_events_day_user', 'post_events', ['business_day', 'username'], unique=False)
    op.create_index('ix_post_events_at', 'post_events', ['at'], unique=False)
    op.create_table('rota',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('counter', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.String(length=5), nullable=False),
    sa.Column('end_time', sa.String(length=5), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_rota_day', 'rota', ['business_day', 'counter'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_rota_day', table_name='rota')
    op.drop_table('rota')
    op.drop_index('ix_post_events_at', table_name='post_events')
    op.drop_index('ix_post_events_day_user', table_name='post_events')
    op.drop_table('post_events')
    # Plain ALTER TABLE on both (SQLite >= 3.35), as 0009 does.
    for column in ('break_since', 'break_reason', 'post_since', 'post_session', 'post'):
        op.execute(f"ALTER TABLE counter_states DROP COLUMN {column}")
