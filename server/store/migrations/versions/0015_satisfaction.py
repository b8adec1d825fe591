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

The statistics read each leg's waiting and service time from the columns
0011 (targets) added, ``wait_seconds`` and ``service_seconds`` (seconds as a
float, with the definition of server/core/targets.py), rather than parsing two
times per row. Legs kept before 0011 have none there: they get theirs here,
with that same definition worked out in SQL from exact microseconds on both
databases (the wait: queue → first call, or → the end of a leg never called;
the service: start, or the call when never started, → the end of a service
given: done, transferred on, or cancelled after its start). Their verdicts
(``wait_met``, ``service_met``) stay null: they had no target.
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
    """``later - earlier`` in seconds, as SQL: exact microseconds divided once, the same float as
    ``timedelta.total_seconds()`` (SQLite keeps UTC times as ``YYYY-MM-DD HH:MM:SS.ffffff`` text)."""
    if dialect == "postgresql":
        return f"CAST(extract(epoch FROM {later} - {earlier}) AS DOUBLE PRECISION)"

    def micros(moment: str) -> str:
        return (
            f"(CAST(strftime('%s', {moment}) AS INTEGER) * 1000000 "
            f"+ CAST(substr({moment}, 21, 6) AS INTEGER))"
        )

    return f"(CAST({micros(later)} - {micros(earlier)} AS REAL) / 1000000.0)"


#: The outcomes of a leg that gave a service (server.core.journey._ended): a cancel only once started.
_SERVED = "(outcome IN ('done', 'transferred') OR (outcome = 'cancelled' AND started_at IS NOT NULL))"


def upgrade() -> None:
    op.add_column('ticket_legs', sa.Column('rating', sa.String(length=24), nullable=True))
    op.add_column('ticket_legs', sa.Column('rating_score', sa.Integer(), nullable=True))
    op.add_column('ticket_legs', sa.Column('rating_satisfied', sa.Boolean(), nullable=True))
    op.add_column('ticket_legs', sa.Column('rating_reason', sa.String(length=32), nullable=True))
    op.add_column('ticket_legs', sa.Column('rated_at', server.store.schema.UTCDateTime(), nullable=True))
    op.create_index('ix_ticket_legs_counter_finished', 'ticket_legs', ['counter', 'finished_at'], unique=False)
    dialect = op.get_bind().dialect.name
    # Only legs 0011 left without durations: every leg written since has them from its events.
    op.execute(
        f"UPDATE ticket_legs SET wait_seconds = {_seconds('called_at', 'queued_at', dialect)} "
        "WHERE wait_seconds IS NULL AND called_at IS NOT NULL"
    )
    op.execute(
        f"UPDATE ticket_legs SET wait_seconds = {_seconds('finished_at', 'queued_at', dialect)} "
        "WHERE wait_seconds IS NULL AND called_at IS NULL AND finished_at IS NOT NULL"
    )
    began = "COALESCE(started_at, last_called_at, called_at)"
    op.execute(
        f"UPDATE ticket_legs SET service_seconds = {_seconds('finished_at', began, dialect)} "
        f"WHERE service_seconds IS NULL AND finished_at IS NOT NULL AND {began} IS NOT NULL AND {_SERVED}"
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
    # The durations filled here stay: 0011 owns those columns.
    for column in ('rated_at', 'rating_reason', 'rating_satisfied', 'rating_score', 'rating'):
        op.execute(f"ALTER TABLE ticket_legs DROP COLUMN {column}")
