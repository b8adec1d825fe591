"""complaints, cases and their steps as the halls ship them: their figures' columns, nothing personal

Revision ID: central_0002
Revises: central_0001
Create Date: 2026-12-02

The halls ship their complaints and cases (streams ``complaints`` and ``cases``,
server/central/wire.py): ids, codes, states, times and a step's owner, never the
visitor's phone or name, a text or the case's code. Written out here, not taken
from ``server.store.schema``, as ``central_0001`` does.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from server.store.schema import UTCDateTime

revision = "central_0002"
down_revision = "central_0001"
branch_labels = None
depends_on = None


def _copy(name: str, key: tuple[str, ...], *columns: sa.Column[Any]) -> None:
    """A copy of a hall table: ``hall_id`` in front of the row's own key; ``version`` last."""
    for column in columns:
        column.autoincrement = False
    hall_id = sa.Column("hall_id", sa.String(length=32), nullable=False)
    version = sa.Column("version", sa.Integer(), nullable=False)
    op.create_table(name, hall_id, *columns, version, sa.PrimaryKeyConstraint("hall_id", *key))


def upgrade() -> None:
    _copy(
        "central_complaints",
        ("id",),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("return_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_central_complaints_0", "central_complaints", ["recorded_at", "hall_id"])
    op.create_index("ix_central_complaints_1", "central_complaints", ["status", "due_at"])
    _copy(
        "central_cases",
        ("id",),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_central_cases_0", "central_cases", ["opened_at", "hall_id"])
    op.create_index("ix_central_cases_1", "central_cases", ["status", "hall_id"])
    _copy(
        "central_case_steps",
        ("case_id", "step"),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_central_case_steps_0", "central_case_steps", ["status", "due_at"])


def downgrade() -> None:
    for name in ("central_case_steps", "central_cases", "central_complaints"):
        op.drop_table(name)
    # The halls' cursors of these streams go with their rows: kept, they would tell every hall after
    # an upgrade again that the central store holds what it no longer does, and nothing would be resent.
    cursors = sa.table("central_cursors", sa.column("stream", sa.String()))
    op.execute(cursors.delete().where(cursors.c.stream.in_(("complaints", "cases"))))
