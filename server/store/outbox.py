"""The outbox's reads and marks in the hall's store: a batch of a stream, the hall's queue now, the marks.

A batch is read in one read transaction (SQLite: one snapshot; PostgreSQL:
REPEATABLE READ), so the ticket rows it carries are exactly the state after the
ticket's events up to its ``version``, the id of the ticket's last event in that
snapshot (a ticket's events are written under its row's lock, one after another).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from .schema import counter_states, outbox_marks, queue_counts, ticket_events, ticket_legs, tickets
from .sql import READ_ONLY, upsert

#: The ticket statuses a counter is busy with.
AT_COUNTER = ("called", "serving")


@dataclass
class Batch:
    """Rows of one stream after ``after``, up to ``upto`` (``after`` when there were none)."""

    stream: str
    after: int
    upto: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: ``tickets`` stream only: the current rows of the tickets it touches, with their versions.
    tickets: list[dict[str, Any]] = field(default_factory=list)
    legs: list[dict[str, Any]] = field(default_factory=list)
    #: Rows of the stream after ``upto`` still to ship (the link's lag, in events).
    pending: int = 0
    last_at: datetime | None = None


class OutboxStore:
    """The hall's side of the outbox in its store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        options: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            options.update(postgresql_readonly=True, isolation_level="REPEATABLE READ")
        with self.engine.connect() as conn, conn.execution_options(**options).begin():
            yield conn

    def marks(self, prefix: str) -> dict[str, int]:
        """Every mark whose name starts with ``prefix`` (without it)."""
        with self._reading() as conn:
            query = select(outbox_marks.c.name, outbox_marks.c.position)
            return {
                row.name.removeprefix(prefix): int(row.position)
                for row in conn.execute(query)
                if row.name.startswith(prefix)
            }

    def mark(self, name: str, position: int, now: datetime) -> None:
        """Keep ``name`` at ``position`` (a stream's cursor, a template's version taken)."""
        values = {"name": name, "position": position, "updated_at": now}
        statement = upsert(
            self.engine.dialect.name,
            outbox_marks,
            values,
            [outbox_marks.c.name],
            {"position": position, "updated_at": now},
        )
        with self.engine.begin() as conn:
            conn.execute(statement)

    def batch(self, stream: str, log: Table, after: int, limit: int, settled: datetime | None) -> Batch:
        """The next ``limit`` rows of ``log`` after id ``after`` (at or before ``settled``, if given)."""
        with self._reading() as conn:
            query = select(log).where(log.c.id > after)
            if settled is not None:
                query = query.where(log.c.at <= settled)
            rows = [dict(row) for row in conn.execute(query.order_by(log.c.id).limit(limit)).mappings()]
            upto = int(rows[-1]["id"]) if rows else after
            pending = conn.execute(select(func.count()).select_from(log).where(log.c.id > upto)).scalar_one()
            batch = Batch(stream, after, upto, rows, pending=int(pending))
            if rows:
                batch.last_at = rows[-1]["at"]
            if log is ticket_events and rows:
                self._views(conn, batch)
            return batch

    @staticmethod
    def _views(conn: Connection, batch: Batch) -> None:
        """The touched tickets and their legs, each stamped with the ticket's last event id."""
        ids = sorted({row["ticket_id"] for row in batch.rows})
        last = select(ticket_events.c.ticket_id, func.max(ticket_events.c.id)).where(
            ticket_events.c.ticket_id.in_(ids)
        )
        versions = {row[0]: int(row[1]) for row in conn.execute(last.group_by(ticket_events.c.ticket_id))}
        for row in conn.execute(select(tickets).where(tickets.c.id.in_(ids))).mappings():
            batch.tickets.append({**row, "version": versions[row["id"]]})
        for row in conn.execute(select(ticket_legs).where(ticket_legs.c.ticket_id.in_(ids))).mappings():
            batch.legs.append({**row, "version": versions[row["ticket_id"]]})

    def queue_now(self, day: date) -> dict[str, int]:
        """The hall's queue as the company's live view shows it: waiting, at a counter, counters open."""
        with self._reading() as conn:
            waiting = conn.execute(
                select(func.coalesce(func.sum(queue_counts.c.waiting), 0)).where(
                    queue_counts.c.business_day == day
                )
            ).scalar_one()
            serving = conn.execute(
                select(func.count())
                .select_from(tickets)
                .where(tickets.c.business_day == day, tickets.c.status.in_(AT_COUNTER))
            ).scalar_one()
            open_counters = conn.execute(
                select(func.count()).select_from(counter_states).where(counter_states.c.post.is_not(None))
            ).scalar_one()
        return {"waiting": int(waiting), "serving": int(serving), "open_counters": int(open_counters)}
