"""the central store as create_all made it: halls' copies, halls, cursors, templates, tokens, audit

Revision ID: central_0001
Revises:
Create Date: 2026-12-01

The central store's first revision, spelled out column by column: exactly the
tables ``metadata.create_all`` made before the central store had migrations
(its schema had not changed since it came, with issue 15). The central service
stamps a database made that way (its tables there, no
``alembic_version_central``) at this revision instead of running it.

The copies of the hall's tables (``central_tickets`` …) are written out here,
not taken from ``server.store.schema`` when this runs: a column the hall's
schema gains later reaches the central copy through a central revision of its
own (tests/test_central_migrations.py fails until one exists).
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from server.store.schema import UTCDateTime

revision = "central_0001"
down_revision = None
branch_labels = None
depends_on = None


def _copy(name: str, key: tuple[str, ...], *columns: sa.Column[Any]) -> None:
    """A copy of a hall table: ``hall_id`` in front of the row's own key; no column autoincrements
    (the ids are the hall's), as ``schema._copy`` declares them."""
    for column in columns:
        column.autoincrement = False
    hall_id = sa.Column("hall_id", sa.String(length=32), nullable=False)
    op.create_table(name, hall_id, *columns, sa.PrimaryKeyConstraint("hall_id", *key))


def upgrade() -> None:
    op.create_table(
        "central_audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "central_cursors",
        sa.Column("hall_id", sa.String(length=32), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "stream"),
    )
    op.create_table(
        "central_halls",
        sa.Column("hall_id", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.Column("last_event_at", UTCDateTime(), nullable=True),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("serving", sa.Integer(), nullable=False),
        sa.Column("open_counters", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id"),
        # Unnamed, as create_all made it (PostgreSQL names it central_halls_token_hash_key).
        sa.UniqueConstraint("token_hash"),
    )
    _copy(
        "central_post_events",
        ("id",),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_central_post_events_0", "central_post_events", ["business_day", "hall_id"])
    op.create_table(
        "central_template_results",
        sa.Column("hall_id", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "template_id"),
    )
    op.create_table(
        "central_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=True),
        sa.Column("halls", sa.JSON(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_central_template_name"),
    )
    _copy(
        "central_ticket_events",
        ("id",),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("staff", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_central_ticket_events_0", "central_ticket_events", ["hall_id", "at"])
    _copy(
        "central_ticket_legs",
        ("ticket_id", "leg"),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("transfer", sa.Boolean(), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("staff", sa.String(length=64), nullable=True),
        sa.Column("called_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("last_called_at", UTCDateTime(), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("wait_met", sa.Boolean(), nullable=True),
        sa.Column("service_seconds", sa.Float(), nullable=True),
        sa.Column("service_met", sa.Boolean(), nullable=True),
        sa.Column("rating", sa.String(length=24), nullable=True),
        sa.Column("rating_score", sa.Integer(), nullable=True),
        sa.Column("rating_satisfied", sa.Boolean(), nullable=True),
        sa.Column("rating_reason", sa.String(length=32), nullable=True),
        sa.Column("rated_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_central_ticket_legs_0", "central_ticket_legs", ["business_day", "service"])
    _copy(
        "central_tickets",
        ("id",),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("appointment", sa.String(length=32), nullable=True),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("target_counter", sa.Integer(), nullable=True),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("queue_at", UTCDateTime(), nullable=False),
        sa.Column("called_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("call_count", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("estimate_seconds", sa.Integer(), nullable=True),
        sa.Column("on_my_way_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_central_tickets_0", "central_tickets", ["business_day", "hall_id"])
    op.create_table(
        "central_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )


def downgrade() -> None:
    for name in (
        "central_tokens",
        "central_tickets",
        "central_ticket_legs",
        "central_ticket_events",
        "central_templates",
        "central_template_results",
        "central_post_events",
        "central_halls",
        "central_cursors",
        "central_audit_log",
    ):
        op.drop_table(name)
