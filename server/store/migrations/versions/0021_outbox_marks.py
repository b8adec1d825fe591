"""outbox marks: how far the hall's log has been shipped to the central service

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01

``outbox_marks`` (name, position, updated_at): ``stream:tickets`` and
``stream:posts`` hold the last event id the central service acknowledged,
``template:<id>`` the version of a central template the hall took
(server/outbox.py). A hall without ``[central]`` leaves it empty.
"""

import sqlalchemy as sa
from alembic import op

from server.store.schema import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_marks",
        sa.Column("name", sa.String(48), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_marks")
