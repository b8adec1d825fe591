"""staff session cookie id

The session cookie carries its own random id instead of the staff token (a
signed Flask cookie is readable by whoever holds it); only its SHA-256 is
kept, like the token's. ``username`` gets an index because revoking a user's
sessions (disable, password change, a new login) looks them up by name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cookie_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_staff_sessions_cookie_hash", ["cookie_hash"], unique=True)
        batch_op.create_index("ix_staff_sessions_username", ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_sessions_username")
        batch_op.drop_index("ix_staff_sessions_cookie_hash")
        batch_op.drop_column("cookie_hash")
