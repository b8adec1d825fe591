"""display names: the name a hall shows for a staff user (a doctor's "张伟 主任医师", a clerk's number)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01

``users.display_name`` (nullable, up to 40 characters): what the public sees
of a clerk or a doctor (the lobby's doctors-on-duty card); the user name stays
a staff-only login. Null: the hall posts no name for that user.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: a nullable column needs no copy of ``users``.
    op.add_column("users", sa.Column("display_name", sa.String(40), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN display_name")
