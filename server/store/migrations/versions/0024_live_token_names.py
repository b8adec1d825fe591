"""live token names: at most one live device token per name, kept by a partial unique index

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01

The name of a device token is the device's identity on the devices board and
in its leases. The admin API refused a second live token of a name by reading
every token first and inserting after, so two requests racing could both pass.
``uq_device_tokens_live_name`` (unique on ``name`` WHERE ``revoked_at IS
NULL``; both SQLite and PostgreSQL have partial indexes) makes the database
refuse the second insert, whoever makes it (the API, pairing, the CLI).

Older databases may hold several live tokens of one name (the CLI made them,
and pairing a screen again did). Rather than fail, the upgrade keeps the
newest live token of each such name (latest ``created_at``; the larger hash
on a tie) and revokes the older ones at the time of the upgrade, each with a
``token.revoke`` audit entry by the actor ``migration`` that names the token
kept. A device still holding a revoked one is paired (or given a token) again.

The downgrade drops the index only: the tokens revoked stay revoked.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

#: How many hex digits of a token's hash name it (``accounts.SHORT_ID``; written out: migrations stand alone).
SHORT_ID = 12

_tokens = sa.table(
    "device_tokens",
    sa.column("token_hash", sa.String),
    sa.column("name", sa.String),
    sa.column("role", sa.String),
    sa.column("created_at", server.store.schema.UTCDateTime()),
    sa.column("revoked_at", server.store.schema.UTCDateTime()),
)
_audit = sa.table(
    "audit_log",
    sa.column("at", server.store.schema.UTCDateTime()),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("target", sa.String),
    sa.column("detail", sa.JSON),
    sa.column("address", sa.String),
)


def upgrade() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    rows = conn.execute(
        sa.select(_tokens.c.token_hash, _tokens.c.name, _tokens.c.role)
        .where(_tokens.c.revoked_at.is_(None))
        .order_by(_tokens.c.name, _tokens.c.created_at.desc(), _tokens.c.token_hash.desc())
    ).all()
    kept: dict[str, str] = {}
    for digest, name, role in rows:
        if name not in kept:
            kept[name] = digest  # the newest live token of the name
            continue
        conn.execute(sa.update(_tokens).where(_tokens.c.token_hash == digest).values(revoked_at=now))
        conn.execute(
            sa.insert(_audit).values(
                at=now,
                actor="migration",
                action="token.revoke",
                target=f"{name} ({digest[:SHORT_ID]})",
                detail={"role": role, "reason": "duplicate_live_name", "kept": kept[name][:SHORT_ID]},
                address="",
            )
        )
    op.create_index(
        "uq_device_tokens_live_name",
        "device_tokens",
        ["name"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_device_tokens_live_name", table_name="device_tokens")
