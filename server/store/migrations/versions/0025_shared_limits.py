"""shared limits: the phone's limits and the pairing codes in the database, for every hub process

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01

``limit_windows``: one row per window of a counted limit (the hall's phone
tickets in an hour, a client address's, a phone's of a business day, pairing
starts), counted with one conditional upsert (server/store/limits.py), so the
hub processes of a cluster count together and two racing for the last place
cannot both pass. ``pairing_codes``: the codes waiting screens show, so a code
shown by one process may be confirmed and collected on another; it keeps only
hashes (of the screen's claim and of the token it will be given).

Both held only what a hub kept in memory before: nothing to carry over, and
the downgrade drops them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_windows",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("ends", sa.Float(), nullable=False),
        sa.Column("ticket", sa.String(length=32), nullable=True),
        sa.Column("busy_until", sa.Float(), nullable=True),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_limit_windows_ends", "limit_windows", ["ends"])
    op.create_table(
        "pairing_codes",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("claim_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("confirming_until", sa.Float(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_pairing_codes_expires", "pairing_codes", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_pairing_codes_expires", table_name="pairing_codes")
    op.drop_table("pairing_codes")
    op.drop_index("ix_limit_windows_ends", table_name="limit_windows")
    op.drop_table("limit_windows")
