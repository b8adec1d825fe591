"""estimate: the wait estimated at issue, kept with the ticket

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

``tickets.estimate_seconds`` is written in the issue batch's insert
(server/core/estimate.py); reports compare it with the real wait (issue → first
call). Tickets issued before this revision have none and are left out of the
figures. (0010 and 0011 are colleagues' revisions of the same issue; the chain
is relinked when they are merged.)
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both: a batch copy of ``tickets`` would lose its triggers.
    op.add_column('tickets', sa.Column('estimate_seconds', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE tickets DROP COLUMN estimate_seconds")
