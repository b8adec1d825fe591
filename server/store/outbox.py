"""The outbox's reads and marks in the hall's store: a batch of a stream, the hall's queue now, the marks.

A batch is read in one read transaction (SQLite: one snapshot; PostgreSQL:
REPEATABLE READ), so the ticket rows it carries are exactly the state after the
ticket's events up to its ``version``, the id of the ticket's last event in that
snapshot (a ticket's events are written under its row's lock, one after another).
Complaints and cases are shipped the same way from their own logs (every change of
one writes its event under the row's lock): their rows, cut to the columns that may
leave the hall (server/central/wire.py ``SHIPPED_COLUMNS``), stamped with the id of
their last event; the events themselves stay here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from ..central.wire import LOG_STAYS, MAX_VIEW_ROWS, VIEWS, shipped
from .schema import counter_states, outbox_marks, queue_counts, tickets
from .sql import READ_ONLY, upsert

#: The ticket statuses a counter is busy with.
AT_COUNTER = ("called", "serving")


@dataclass
class Batch:
    """Rows of one stream after ``after``, up to ``upto`` (``after`` when there were none)."""

    stream: str
    after: int
    upto: int
    #: The log's rows (none for a stream whose log stays in the hall: ``LOG_STAYS``).
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: The current rows of what the batch's events touch (tickets and legs, complaints, cases and
    #: steps: server/central/wire.py ``VIEWS``), each with its version, by the view's name.
    views: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Rows of the stream after ``upto`` still to ship (the link's lag, in events).
    pending: int = 0
    last_at: datetime | None = None


class OutboxStore:
    """The hall's side of the outbox in its store."""

    def __init__(self, engine: Engine, view_cap: int = MAX_VIEW_ROWS) -> None:
        self.engine = engine
        #: Rows of one view a batch carries at most (the central service refuses more): a batch
        #: whose events touch more is cut short, at least one event always going.
        self.view_cap = view_cap

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
            views: dict[str, list[dict[str, Any]]] = {}
            if stream in VIEWS and rows:
                rows, views = self._views(conn, log, stream, rows)
            upto = int(rows[-1]["id"]) if rows else after
            pending = conn.execute(select(func.count()).select_from(log).where(log.c.id > upto)).scalar_one()
            batch = Batch(stream, after, upto, [] if stream in LOG_STAYS else rows, views, int(pending))
            if rows:
                batch.last_at = rows[-1]["at"]
            return batch

    def _views(
        self, conn: Connection, log: Table, stream: str, rows: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """The touched tickets (complaints, cases) and their rows, each stamped with its last event id.

        The events are cut where one more subject would bring a view over :attr:`view_cap` rows
        (a case of 20 steps brings 20): the rest go in the next batch. The first event always goes,
        so a batch never comes out empty while there are events to ship.
        """
        views = VIEWS[stream]
        subject = log.c[views.subject]
        ids = sorted({row[views.subject] for row in rows})
        last = select(subject, func.max(log.c.id)).where(subject.in_(ids)).group_by(subject)
        versions = {row[0]: int(row[1]) for row in conn.execute(last)}
        by_subject: dict[str, dict[Any, list[dict[str, Any]]]] = {}
        for name, (table, key) in views.tables.items():
            columns = [table.c[c] for c in shipped(table)]
            found = conn.execute(select(*columns).where(table.c[key].in_(ids))).mappings()
            grouped = by_subject[name] = {}
            for current in found:
                grouped.setdefault(current[key], []).append({**current, "version": versions[current[key]]})
        taken: dict[Any, None] = {}  # the subjects kept, in the order of their first event
        totals = dict.fromkeys(by_subject, 0)
        cut = len(rows)
        for index, row in enumerate(rows):
            about = row[views.subject]
            if about in taken:
                continue
            more = {name: len(grouped.get(about, ())) for name, grouped in by_subject.items()}
            if index and any(totals[name] + more[name] > self.view_cap for name in more):
                cut = index
                break
            taken[about] = None
            for name, count in more.items():
                totals[name] += count
        shipped_views = {
            name: [r for about in taken for r in grouped.get(about, ())]
            for name, grouped in by_subject.items()
        }
        return rows[:cut], shipped_views

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
