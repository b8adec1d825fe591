"""device leases: exactly one hub process drives each printer, serial bus and voice zone (issue 15)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01

``device_leases``: one row per device (``printer:<name>``, ``bus:<port>``,
``voice:<zone>``), its holder (a hub process), the holder's generation (the
fencing token) and when the lease was taken and expires, both by the
database's clock. Only PostgreSQL hubs use it (several processes on one hall);
a SQLite hall has one hub, which holds every device without a row.
"""

import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_leases",
        sa.Column("device", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("taken_at", server.store.schema.UTCDateTime(), nullable=False),
        sa.Column("expires_at", server.store.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("device"),
    )


def downgrade() -> None:
    op.drop_table("device_leases")
