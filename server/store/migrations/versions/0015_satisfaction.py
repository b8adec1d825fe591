"""satisfaction and statistics: each leg keeps its rating, credited to its clerk, and its durations

Revision ID: 0015
Revises: 0014
Create Date: 2027-01-12

A rating now belongs to the leg it rates (server/core/satisfaction.py): the
``evaluated`` event names the leg and the clerk who served it, and the hub
keeps the verdict on ``ticket_legs`` in the same transaction, as it keeps the
rest of the leg. Ratings given before this revision rated the ticket the
counter had just finished, so they are copied onto that ticket's current leg
with the verdicts of the three-level pads of that time (very_satisfied 100,
satisfied 80, dissatisfied 0; the first two satisfied: the same numbers as
``server.core.journey.LEGACY_VERDICTS``, which replays them alike).

Each leg also keeps its waiting and service time in whole seconds
(``wait_seconds``, ``service_seconds``: ``core.journey.whole_seconds``, the
difference truncated toward zero), so the statistics sort integers instead of
parsing two times per row; legs already there get theirs from the same
definition in SQL, from exact microseconds on both databases.
"""
import sqlalchemy as sa
from alembic import op

import server.store.schema

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def _rating_of_event(dialect: str) -> str:
    return "json_extract(e.detail, '$.rating')" if dialect == "sqlite" else "(e.detail ->> 'rating')"


def _seconds(later: str, earlier: str, dialect: str) -> str:
    """``later - earlier`` in whole seconds truncated toward zero, as SQL (SQLite keeps UTC times as
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text; its integer division truncates toward zero too)."""
    if dialect == "postgresql":
        return f"CAST(trunc(extract(epoch FROM {later} - {earlier})) AS BIGINT)"

    def micros(moment: str) -> str:
        return (
            f"(CAST(strftime('%s', {moment}) AS INTEGER) * 1000000 "
            f"+ CAST(substr({moment}, 21, 6) AS INTEGER))"
        )

    return f"(({micros(later)} - {micros(earlier)}) / 1000000)"


def upgrade() -> None:
    op.add_column('ticket_legs', sa.Column('rating', sa.String(length=24), nullable=True))
    op.add_column('ticket_legs', sa.Column('rating_score', sa.Integer(), nullable=True))
    op.add_column('ticket_legs', sa.Column('rating_satisfied', sa.Boolean(), nullable=True))
    op.add_column('ticket_legs', sa.Column('rating_reason', sa.String(length=32), nullable=True))
    op.add_column('ticket_legs', sa.Column('rated_at', server.store.schema.UTCDateTime(), nullable=True))
    op.add_column('ticket_legs', sa.Column('wait_seconds', sa.Integer(), nullable=True))
    op.add_column('ticket_legs', sa.Column('service_seconds', sa.Integer(), nullable=True))
    op.create_index('ix_ticket_legs_counter_finished', 'ticket_legs', ['counter', 'finished_at'], unique=False)
    dialect = op.get_bind().dialect.name
    op.execute(
        f"UPDATE ticket_legs SET wait_seconds = {_seconds('called_at', 'queued_at', dialect)} "
        "WHERE called_at IS NOT NULL"
    )
    op.execute(
        f"UPDATE ticket_legs SET service_seconds = {_seconds('finished_at', 'started_at', dialect)} "
        "WHERE started_at IS NOT NULL AND finished_at IS NOT NULL"
    )
    rating = _rating_of_event(dialect)
    first_rating = (
        "SELECT {what} FROM ticket_events e WHERE e.ticket_id = ticket_legs.ticket_id "
        "AND e.kind = 'evaluated' ORDER BY e.id LIMIT 1"
    )
    op.execute(
        f"""
        UPDATE ticket_legs SET
            rating = ({first_rating.format(what=rating)}),
            rated_at = ({first_rating.format(what='e.at')})
        WHERE ticket_id IN (SELECT ticket_id FROM ticket_events WHERE kind = 'evaluated')
          AND leg = (SELECT t.leg FROM tickets t WHERE t.id = ticket_legs.ticket_id)
        """
    )
    op.execute(
        """
        UPDATE ticket_legs SET
            rating_score = CASE rating WHEN 'very_satisfied' THEN 100 WHEN 'satisfied' THEN 80 ELSE 0 END,
            rating_satisfied = (rating IN ('very_satisfied', 'satisfied'))
        WHERE rating IS NOT NULL
        """
    )


def downgrade() -> None:
    op.drop_index('ix_ticket_legs_counter_finished', table_name='ticket_legs')
    # Plain ALTER TABLE on both (SQLite >= 3.35), as 0009 does.
    for column in (
        'service_seconds', 'wait_seconds', 'rated_at', 'rating_reason', 'rating_satisfied', 'rating_score', 'rating'
    ):
        op.execute(f"ALTER TABLE ticket_legs DROP COLUMN {column}")
