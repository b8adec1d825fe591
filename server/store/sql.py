"""The store on SQLAlchemy Core: SQLite by default, PostgreSQL by URL.

Durability: SQLite runs in WAL mode with ``synchronous=FULL``, so a commit has
reached the disk before the hub answers. Every write transaction on SQLite
starts with ``BEGIN IMMEDIATE``, which takes the write lock up front: two
counters can never read the same head of the queue and both act on it. On
PostgreSQL the counter's row is locked with ``FOR UPDATE`` and the ticket is
taken with a conditional ``UPDATE`` (see :meth:`SqlTx.claim`).

Reads go through :func:`read_only` (:meth:`SqlStore.read` for the core; the
accounts, audit log and print jobs for the hub). On SQLite their transactions
begin ``DEFERRED``: in WAL mode a reader sees the last commit and never waits
for the write lock, so a visitor's status page or a token check is not queued
behind a burst of calls. ``PRAGMA query_only`` is on for them, so a write that
strays into a read fails at once instead of taking the lock late (a deferred
transaction that upgrades can fail with ``SQLITE_BUSY`` without waiting). On
PostgreSQL the same reads run ``READ ONLY`` (``postgresql_readonly``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BindParameter,
    Column,
    CompoundSelect,
    Connection,
    Engine,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    make_url,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..core.cases import CaseTicket
from ..core.estimate import WarmLeg
from ..core.journey import TicketLeg
from ..core.model import (
    CounterState,
    CounterStatus,
    EventKind,
    LedgerAction,
    LegOutcome,
    PriorityChange,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from ..core.ports import CallRecord, ServiceQueue, StoreReader
from ..core.posts import PostEvent
from ..core.printjobs import PrintJobRecord
from ..core.priority import pending_request
from ..core.targets import Tally
from .post_log import add_post_events, post_events_between
from .schema import (
    CALLABLE_SQL,
    DUE_SQL,
    appointments,
    case_events,
    case_tickets,
    cases,
    counter_states,
    half_day_counts,
    print_jobs,
    priority_ledger,
    queue_counts,
    sequences,
    ticket_events,
    ticket_legs,
    tickets,
)
from .targets import target_tallies

_QUEUE_ORDER = (tickets.c.priority.desc(), tickets.c.queue_at, tickets.c.seq)
#: The partial index's own predicate, so both databases read queues from ``ix_tickets_callable``.
_STANDING = text(CALLABLE_SQL)
_DUE = text(DUE_SQL)

# The statements of the hot paths (issuing a batch, the broadcaster's read of the
# touched services, a call's claim of its ticket and save of its counter), built once
# with bound parameters: building a statement costs more than running it (argument
# coercion, cache key), about a third of a batch's CPU when each call built its own.
_INSERT_TICKETS = insert(tickets)
_INSERT_EVENTS = insert(ticket_events)
_INSERT_PRINT_JOBS = insert(print_jobs)
_WAITING_BY_PRIORITY = select(queue_counts.c.priority, queue_counts.c.waiting).where(
    queue_counts.c.business_day == bindparam("business_day"),
    queue_counts.c.service == bindparam("service"),
    queue_counts.c.waiting > 0,
)
_WAITING_BY_SERVICE = select(queue_counts.c.service, queue_counts.c.priority, queue_counts.c.waiting).where(
    queue_counts.c.business_day == bindparam("business_day"),
    queue_counts.c.waiting > 0,
)
_SERVICE_COUNTS = (
    select(queue_counts.c.service, func.sum(queue_counts.c.waiting))
    .where(queue_counts.c.business_day == bindparam("business_day"))
    .group_by(queue_counts.c.service)
    .having(func.sum(queue_counts.c.waiting) > 0)
)
#: A ticket moved on (call, start, finish, transfer …) if it still has a status the move expects: the
#: columns to set come as the parameters' other keys (every column but ``id``, the same each time).
_CLAIM_TICKET = update(tickets).where(
    tickets.c.id == bindparam("b_id"), tickets.c.status.in_(bindparam("b_expect", expanding=True))
)
_CLAIMING = tickets.alias("claiming")
#: A call's claim on PostgreSQL (see SqlTx.claim): the same update, of a row no other transaction holds.
#: ``FOR NO KEY UPDATE``: the lock the update itself takes, so a ticket whose row is only key-shared (an
#: event being written for it) is not passed over.
_CLAIM_UNHELD_TICKET = _CLAIM_TICKET.where(
    tickets.c.id.in_(
        select(_CLAIMING.c.id)
        .where(
            _CLAIMING.c.id == bindparam("b_id"),
            _CLAIMING.c.status.in_(bindparam("b_expect", expanding=True)),
        )
        .with_for_update(skip_locked=True, key_share=True)
    )
)
#: A counter's state saved: the columns come as the parameters' other keys (see save_counter_state).
_SAVE_COUNTER_STATE = update(counter_states).where(counter_states.c.number == bindparam("b_number"))
_QUEUE_HEAD_NUMBERS: Select[str, int, str | None] = (
    select(tickets.c.number, tickets.c.priority, tickets.c.appointment)
    .where(
        tickets.c.business_day == bindparam("business_day"),
        _STANDING,
        tickets.c.service == bindparam("service"),
    )
    .order_by(*_QUEUE_ORDER)
    .limit(bindparam("head"))
)


@dataclasses.dataclass(frozen=True)
class _HotStatements:
    """The hot statements that differ by dialect (the upsert's class)."""

    allocate_seq: Insert
    #: A journey's leg, inserted or updated: all but its key, its queue time and whether it was a transfer.
    save_leg: Insert


_LEG_FIELDS = tuple(f.name for f in dataclasses.fields(TicketLeg))


@functools.cache
def _callable_heads(services: int) -> CompoundSelect[Any]:
    """What the policy chooses from at a counter of ``services`` services, read in one statement.

    For each service (``service_<i>``): the head of its queue, the head of its normal tickets
    (the priority cap must see one however many priority tickets stand before it; the same
    index, priority = 0), and its appointments by due time (one checked in early stands deep in
    the queue, but the policy calls it first when it is due: ix_tickets_due); and the tickets
    sent to this very ``counter``. One round trip, not one per part: a call is made while other
    counters on other hub processes wait for tickets it may pass over. ``UNION``: a ticket in two
    parts comes once. Built once per number of services, with bound parameters.
    """
    day = tickets.c.business_day == bindparam("business_day")
    waiting = and_(day, _STANDING)
    parts: list[Select[Any]] = []
    for i in range(services):
        service = tickets.c.service == bindparam(f"service_{i}")
        queue = (
            select(tickets)
            .where(waiting, service, tickets.c.target_counter.is_(None))
            .order_by(*_QUEUE_ORDER)
            .limit(bindparam("head"))
        )
        due = (
            select(tickets)
            .where(day, _DUE, service, tickets.c.target_counter.is_(None))
            .order_by(tickets.c.due_at)
            .limit(bindparam("head"))
        )
        parts += [queue, queue.where(tickets.c.priority == 0), due]
    parts.append(select(tickets).where(waiting, tickets.c.target_counter == bindparam("counter")))
    # Each part a subquery: SQLite takes no ORDER BY or LIMIT in a compound select's own parts.
    return union(*(select(part.subquery()) for part in parts))


@functools.cache
def _hot(dialect: str) -> _HotStatements:
    count: BindParameter[int] = bindparam("count")
    allocate = upsert(
        dialect,
        sequences,
        {"service": bindparam("service"), "business_day": bindparam("business_day"), "last_seq": count},
        [sequences.c.service, sequences.c.business_day],
        {"last_seq": sequences.c.last_seq + count},
    ).returning(sequences.c.last_seq)
    columns = [f.name for f in dataclasses.fields(TicketLeg)]
    leg = {name: bindparam(name, type_=ticket_legs.c[name].type) for name in columns}
    kept = ("ticket_id", "leg", "queued_at", "transfer")
    save_leg = upsert(
        dialect,
        ticket_legs,
        leg,
        [ticket_legs.c.ticket_id, ticket_legs.c.leg],
        {name: value for name, value in leg.items() if name not in kept},
    )
    return _HotStatements(allocate, save_leg)


@functools.cache
def _count_half_day(dialect: str) -> Insert:
    """The upsert of a half-day's walk-in count (built once: it runs in the issuing transaction)."""
    count: BindParameter[int] = bindparam("count")
    names = ("service", "business_day", "half")
    keys: dict[str, BindParameter[Any]] = {name: bindparam(name) for name in names}
    return upsert(
        dialect,
        half_day_counts,
        {**keys, "issued": count},
        [half_day_counts.c.service, half_day_counts.c.business_day, half_day_counts.c.half],
        {"issued": half_day_counts.c.issued + count},
    ).returning(half_day_counts.c.issued)


#: Execution option of an engine or connection whose transactions only read (see :func:`read_only`).
READ_ONLY = "qcall_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine set up for durable, serialized writes on SQLite; plain elsewhere."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def read_only(engine: Engine) -> Engine:
    """``engine`` for reading: the same pool and listeners, transactions that take no write lock.

    SQLite begins them ``DEFERRED`` with ``query_only`` on; PostgreSQL runs them
    ``READ ONLY``. Writers keep ``BEGIN IMMEDIATE`` on the engine itself.
    """
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.execution_options(**options)


TxT = TypeVar("TxT")


class Transactions(Generic[TxT]):
    """Write and read transactions on the hub's engine, each handed out as a ``TxT`` view of its connection.

    One piece for the stores of a part of the hall kept beside the queue
    (appointments, cases): writers take ``BEGIN IMMEDIATE`` on the engine,
    readers the read-only engine (:func:`read_only`).
    """

    def __init__(self, engine: Engine, view: Callable[[Connection], TxT]) -> None:
        self.engine = engine
        self.reader = read_only(engine)
        self._view = view

    @contextmanager
    def transaction(self) -> Iterator[TxT]:
        """A writing transaction, committed when the block ends (rolled back if it raises)."""
        with self.engine.begin() as conn:
            yield self._view(conn)

    @contextmanager
    def read(self) -> Iterator[TxT]:
        """A read-only transaction: one consistent view, no wait behind writers."""
        with self.reader.begin() as conn:
            yield self._view(conn)


def upsert(
    dialect: str,
    table: Table,
    values: Mapping[str, Any],
    keys: Sequence[Column[Any]],
    set_: Mapping[str, Any],
) -> Insert:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET …``: both backends say it alike, each in its own class.

    One function, so callers hold one statement type whichever database they run on.
    """
    if dialect == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=set_)
    return sqlite.insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=set_)


def private_sqlite_file(url: str) -> None:
    """Make the SQLite database file readable by the hub's user only (0600), like the secret key.

    It holds the password hashes and the sessions. SQLite creates ``-wal`` and
    ``-shm`` with the database file's own mode, so creating the file first with
    0600 covers them; a file left by an older version is narrowed too.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = os.path.abspath(database)
    if not os.path.exists(path):
        # A racing start made it first; or there is no folder, and SQLite will say so.
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        with contextlib.suppress(OSError):  # absent, or not ours to change
            os.chmod(name, 0o600)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """``BEGIN IMMEDIATE`` for writers (the lock up front); ``BEGIN DEFERRED`` for readers.

    ``query_only`` belongs to the pooled DBAPI connection, not the transaction,
    so it is switched only when the connection changes between reading and
    writing; ``connection.info`` (kept per DBAPI connection) remembers which.
    Both are said on the sqlite3 connection itself: SQLAlchemy's execute path
    (events, result set-up) for a statement with no result cost as much as the
    rest of a small transaction.
    """
    reading = bool(connection.get_execution_options().get(READ_ONLY, False))
    driver = connection.connection.driver_connection
    assert driver is not None, "a connection in a transaction has its sqlite3 connection"
    if connection.info.get(READ_ONLY, False) != reading:
        driver.execute(f"PRAGMA query_only={int(reading)}")
        connection.info[READ_ONLY] = reading
    driver.execute("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")


class SqlStore:
    """The :class:`~server.core.ports.Store` of the hub."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = read_only(engine)

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        """A writing transaction, committed when the block ends (rolled back if it raises)."""
        with self.engine.begin() as conn:
            yield SqlTx(conn)

    @contextmanager
    def read(self) -> Iterator[StoreReader]:
        """A read-only transaction: one consistent view, no wait behind writers.

        Typed as a :class:`~server.core.ports.StoreReader`, so a write in it
        does not type-check; the database refuses one too (``query_only`` /
        ``READ ONLY``).
        """
        with self.reader.begin() as conn:
            yield SqlTx(conn)

    def ensure_counters(self, numbers: Collection[int]) -> None:
        """Give every configured counter a state row (open, no ticket)."""
        with self.engine.begin() as conn:
            known = set(conn.scalars(select(counter_states.c.number)))
            for number in sorted(set(numbers) - known):
                conn.execute(insert(counter_states).values(number=number, status=CounterStatus.OPEN.value))


class SqlTx:
    """One transaction's view of the store.

    ``skip_locked``: how a call takes its ticket on PostgreSQL (see :meth:`claim`). True (the hub's
    way): a ticket another counter is taking is passed over at once, in the claim's one statement.
    False: the conditional ``UPDATE`` waits for that counter's commit and then finds the ticket taken;
    every counter wanting the same head waits in line behind the one taking it.
    bench/cluster_calls.py measures both (bench/README.md).
    """

    #: The hub's choice, measured (bench/README.md, "cluster_calls.py").
    skip_locked = True

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def allocate_seq(self, service: str, day: date, count: int = 1) -> int:
        params = {"service": service, "business_day": day, "count": count}
        return int(self.conn.execute(_hot(self.dialect).allocate_seq, params).scalar_one())

    def lock_sequences(self, services: Collection[str], day: date) -> None:
        """PostgreSQL: each service's sequence row, in the codes' order (adding 0 locks a row).

        SQLite: nothing. The transaction began ``IMMEDIATE``, holding the database's one write
        lock, so no other writer can take a row in between; the two statements a mixed batch
        spent on it were two of its seven, on the commit thread's path to the disk.
        """
        if self.dialect == "sqlite":
            return
        for service in sorted(services):
            self.allocate_seq(service, day, 0)

    def return_seqs(self, service: str, day: date, last_seq: int) -> None:
        self.conn.execute(
            update(sequences)
            .where(sequences.c.service == service, sequences.c.business_day == day)
            .values(last_seq=last_seq)
        )

    def seed_seq(self, service: str, day: date, at_least: int) -> None:
        last, carried = sequences.c.last_seq, sequences.c.carried
        self.conn.execute(
            upsert(
                self.dialect,
                sequences,
                {"service": service, "business_day": day, "last_seq": at_least, "carried": at_least},
                [sequences.c.service, sequences.c.business_day],
                {
                    "last_seq": case((last < at_least, at_least), else_=last),
                    "carried": case((carried < at_least, at_least), else_=carried),
                },
            )
        )

    def carried_into(self, service: str, day: date) -> int:
        query = select(sequences.c.carried).where(
            sequences.c.service == service, sequences.c.business_day == day
        )
        return int(self.conn.scalar(query) or 0)

    def count_half_day(self, service: str, day: date, half: str, count: int) -> int:
        params = {"service": service, "business_day": day, "half": half, "count": count}
        return int(self.conn.execute(_count_half_day(self.dialect), params).scalar_one())

    def add_ticket(self, ticket: Ticket) -> None:
        self.add_tickets([ticket])

    def add_tickets(self, batch: Sequence[Ticket]) -> None:
        if batch:  # one statement, many rows (executemany): a batch costs little more than one
            self.conn.execute(_INSERT_TICKETS, [_ticket_row(t) for t in batch])

    def add_event(self, event_: TicketEvent) -> None:
        self.add_events([event_])

    def add_events(self, batch: Sequence[TicketEvent]) -> None:
        if batch:
            self.conn.execute(_INSERT_EVENTS, [_event_row(e) for e in batch])

    def add_priority_changes(self, batch: Sequence[PriorityChange]) -> None:
        if batch:
            self.conn.execute(insert(priority_ledger), [_change_row(c) for c in batch])

    def priority_ledger(self, ticket_id: str) -> list[PriorityChange]:
        query = (
            select(priority_ledger)
            .where(priority_ledger.c.ticket_id == ticket_id)
            .order_by(priority_ledger.c.id)
        )
        return [_change(r) for r in self.conn.execute(query).mappings()]

    def recent_priority_changes(self, limit: int) -> list[PriorityChange]:
        query = select(priority_ledger).order_by(priority_ledger.c.id.desc()).limit(limit)
        return [_change(r) for r in self.conn.execute(query).mappings()]

    def pending_requests(self, ticket_ids: Collection[str]) -> dict[str, str]:
        if not ticket_ids:
            return {}
        query = (
            select(priority_ledger)
            .where(priority_ledger.c.ticket_id.in_(list(ticket_ids)))
            .order_by(priority_ledger.c.id)
        )
        by_ticket: dict[str, list[PriorityChange]] = {}
        for row in self.conn.execute(query).mappings():
            by_ticket.setdefault(row["ticket_id"], []).append(_change(row))
        pending = {tid: pending_request(changes) for tid, changes in by_ticket.items()}
        return {tid: code for tid, code in pending.items() if code is not None}

    def add_print_job(self, job: PrintJobRecord) -> None:
        self.add_print_jobs([job])

    def add_print_jobs(self, batch: Sequence[PrintJobRecord]) -> None:
        if batch:
            self.conn.execute(_INSERT_PRINT_JOBS, [print_job_row(j) for j in batch])

    def waiting_by_priority(self, day: date, service: str) -> dict[int, int]:
        rows = self.conn.execute(_WAITING_BY_PRIORITY, {"business_day": day, "service": service})
        return {int(priority): int(waiting) for priority, waiting in rows}

    def waiting_by_service(self, day: date) -> dict[str, dict[int, int]]:
        found: dict[str, dict[int, int]] = {}
        for service, priority, waiting in self.conn.execute(_WAITING_BY_SERVICE, {"business_day": day}):
            found.setdefault(service, {})[int(priority)] = int(waiting)
        return found

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        row = self.conn.execute(select(tickets).where(tickets.c.id == ticket_id)).mappings().first()
        return _ticket(row) if row else None

    def find_ticket(self, day: date, number: str) -> Ticket | None:
        row = (
            self.conn.execute(
                select(tickets).where(tickets.c.business_day == day, tickets.c.number == number)
            )
            .mappings()
            .first()
        )
        return _ticket(row) if row else None

    def history(self, ticket_id: str) -> list[TicketEvent]:
        rows = self.conn.execute(
            select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
        ).mappings()
        return [
            TicketEvent(
                r["ticket_id"], EventKind(r["kind"]), r["at"], r["counter"], r["staff"], r["detail"] or {}
            )
            for r in rows
        ]

    def last_rateable_leg(self, counter: int, since: datetime) -> TicketLeg | None:
        # core.satisfaction.rateable as SQL: done, or served and then transferred
        # (ix_ticket_legs_counter_finished).
        legs = ticket_legs.c
        query = (
            select(ticket_legs)
            .where(
                legs.counter == counter,
                legs.finished_at >= since,
                or_(
                    legs.outcome == LegOutcome.DONE.value,
                    and_(legs.outcome == LegOutcome.TRANSFERRED.value, legs.started_at.is_not(None)),
                ),
            )
            .order_by(legs.finished_at.desc())
            .limit(1)
        )
        row = self.conn.execute(query).mappings().first()
        return _leg(row) if row else None

    def leg_for_rating(self, ticket_id: str, leg: int) -> TicketLeg | None:
        query = select(ticket_legs).where(ticket_legs.c.ticket_id == ticket_id, ticket_legs.c.leg == leg)
        if self.dialect == "postgresql":
            query = query.with_for_update()  # a second rating of the leg waits, then sees the first
        row = self.conn.execute(query).mappings().first()
        return _leg(row) if row else None

    def callable_heads(self, day: date, services: Sequence[str], counter: int, head: int) -> list[Ticket]:
        params: dict[str, Any] = {"business_day": day, "counter": counter, "head": head}
        params.update((f"service_{i}", service) for i, service in enumerate(services))
        rows = self.conn.execute(_callable_heads(len(services)), params).mappings()
        return list({r["id"]: _ticket(r) for r in rows}.values())

    def count_ahead(self, ticket: Ticket) -> int:
        # policy.queue_order as SQL: higher priority, then earlier queue_at, then lower seq.
        c = tickets.c
        before = or_(
            c.priority > ticket.priority,
            and_(
                c.priority == ticket.priority,
                or_(c.queue_at < ticket.queue_at, and_(c.queue_at == ticket.queue_at, c.seq < ticket.seq)),
            ),
        )
        query = select(func.count()).where(
            c.business_day == ticket.business_day,
            c.service == ticket.service,
            _STANDING,
            c.id != ticket.id,
            before,
        )
        return int(self.conn.execute(query).scalar_one())

    def legs(self, ticket_id: str) -> list[TicketLeg]:
        query = select(ticket_legs).where(ticket_legs.c.ticket_id == ticket_id).order_by(ticket_legs.c.leg)
        return [_leg(r) for r in self.conn.execute(query).mappings()]

    def current_leg(self, ticket_id: str) -> TicketLeg | None:
        query = (
            select(ticket_legs)
            .where(ticket_legs.c.ticket_id == ticket_id)
            .order_by(ticket_legs.c.leg.desc())
            .limit(1)
        )
        row = self.conn.execute(query).mappings().first()
        return _leg(row) if row else None

    def current_legs(self, ticket_ids: Collection[str]) -> dict[str, TicketLeg]:
        if not ticket_ids:
            return {}
        query = select(ticket_legs).where(ticket_legs.c.ticket_id.in_(list(ticket_ids)))
        latest: dict[str, TicketLeg] = {}
        for row in self.conn.execute(query).mappings():
            leg = _leg(row)
            if leg.ticket_id not in latest or latest[leg.ticket_id].leg < leg.leg:
                latest[leg.ticket_id] = leg
        return latest

    def target_tallies(self, first_day: date, last_day: date) -> list[Tally]:
        return target_tallies(self.conn, first_day, last_day)

    def save_legs(self, legs: Sequence[TicketLeg]) -> None:
        if legs:  # one prebuilt upsert for all (every event of a call writes its leg)
            self.conn.execute(_hot(self.dialect).save_leg, [_leg_row(leg) for leg in legs])

    def called_tickets(self, day: date) -> list[Ticket]:
        query = select(tickets).where(
            tickets.c.business_day == day, tickets.c.status == TicketStatus.CALLED.value
        )
        return [_ticket(r) for r in self.conn.execute(query).mappings()]

    def queue_line(self, day: date, service: str, priority: int, head: int) -> list[Ticket]:
        query = (
            select(tickets)
            .where(
                tickets.c.business_day == day,
                _STANDING,
                tickets.c.service == service,
                tickets.c.priority == priority,
                tickets.c.target_counter.is_(None),
            )
            .order_by(*_QUEUE_ORDER)
            .limit(head)
        )
        return [_ticket(r) for r in self.conn.execute(query).mappings()]

    def queue_end(self, day: date, service: str, priority: int) -> datetime | None:
        query = select(func.max(tickets.c.queue_at)).where(
            tickets.c.business_day == day,
            _STANDING,
            tickets.c.service == service,
            tickets.c.priority == priority,
        )
        latest: datetime | None = self.conn.scalar(query)  # max() keeps the column's type: aware UTC
        return latest

    def service_load(self, service: str, day: date) -> int:
        # The numbers issued that day: those after the ones carried over into it.
        issued = self.conn.scalar(
            select(sequences.c.last_seq - sequences.c.carried).where(
                sequences.c.service == service, sequences.c.business_day == day
            )
        )
        transferred_in = self.conn.scalar(
            select(func.count()).where(
                ticket_legs.c.business_day == day,
                ticket_legs.c.service == service,
                ticket_legs.c.transfer.is_(True),
            )
        )
        return int(issued or 0) + int(transferred_in or 0)

    def standing_days(self, until: date) -> list[tuple[date, str]]:
        query = (
            select(queue_counts.c.business_day, queue_counts.c.service)
            .where(queue_counts.c.business_day <= until, queue_counts.c.waiting > 0)
            .group_by(queue_counts.c.business_day, queue_counts.c.service)
            .order_by(queue_counts.c.business_day, queue_counts.c.service)
        )
        return [(row.business_day, row.service) for row in self.conn.execute(query)]

    def standing(self, day: date, service: str) -> list[Ticket]:
        query = (
            select(tickets)
            .where(tickets.c.business_day == day, _STANDING, tickets.c.service == service)
            .order_by(*_QUEUE_ORDER)
        )
        return [_ticket(r) for r in self.conn.execute(query).mappings()]

    def numbers_taken(self, day: date, numbers: Collection[str]) -> set[str]:
        if not numbers:
            return set()
        query = select(tickets.c.number).where(
            tickets.c.business_day == day, tickets.c.number.in_(list(numbers))
        )
        return set(self.conn.scalars(query))

    def recent_legs(self, since: date, limit: int) -> list[WarmLeg]:
        legs, c = ticket_legs.c, tickets.c
        query = (
            select(
                legs.counter,
                legs.service,
                legs.called_at,
                legs.finished_at,
                legs.started_at,
                or_(c.priority > 0, c.appointment.is_not(None), legs.transfer.is_(True)).label("jumped"),
                legs.transfer.label("carried"),
            )
            .join(tickets, tickets.c.id == legs.ticket_id)
            .where(
                legs.business_day >= since,
                legs.outcome.is_not(None),
                legs.counter.is_not(None),
                legs.called_at.is_not(None),
                legs.finished_at.is_not(None),
            )
            .order_by(legs.finished_at.desc())
            .limit(limit)
        )
        found = [
            WarmLeg(
                r.counter,
                r.service,
                r.called_at,
                r.finished_at,
                bool(r.jumped),
                bool(r.carried),
                r.started_at,
            )
            for r in self.conn.execute(query)
        ]
        return found[::-1]

    def claim(self, ticket: Ticket, expect: Collection[TicketStatus], calling: bool = False) -> bool:
        """Write ``ticket`` if its row is still in a status of ``expect``; False (nothing written) if not.

        ``calling`` on PostgreSQL (with :attr:`skip_locked`): also False at once when another
        transaction holds the row (another counter is taking it now), instead of waiting for that
        commit to learn the same; the caller passes over the ticket. One statement either way.
        """
        row = _ticket_row(ticket)
        del row["id"]
        # The journey's columns (migration 0009) are written by claims only: an issued ticket
        # takes their column defaults, so the kiosk's insert stays as it was.
        row.update(owner=ticket.owner, leg=ticket.leg, on_my_way_at=ticket.on_my_way_at)
        row.update(b_id=ticket.id, b_expect=[s.value for s in expect])
        passing = calling and self.skip_locked and self.dialect == "postgresql"
        return self.conn.execute(_CLAIM_UNHELD_TICKET if passing else _CLAIM_TICKET, row).rowcount == 1

    def claim_appointment(self, appointment_id: str, expect: Collection[str], at: datetime) -> str | None:
        was = self.conn.scalar(select(appointments.c.status).where(appointments.c.id == appointment_id))
        if was is None or was not in expect:
            return None
        result = self.conn.execute(
            update(appointments)
            .where(appointments.c.id == appointment_id, appointments.c.status == was)
            .values(status="checked_in", checked_in_at=at)
        )
        return str(was) if result.rowcount == 1 else None

    def release_appointment(self, appointment_id: str, status: str) -> None:
        self.conn.execute(
            update(appointments)
            .where(appointments.c.id == appointment_id)
            .values(status=status, checked_in_at=None)
        )

    def lock_case(self, case_id: str, at: datetime) -> bool:
        result = self.conn.execute(
            update(cases).where(cases.c.id == case_id, cases.c.status == "open").values(updated_at=at)
        )
        return result.rowcount == 1

    def link_case_tickets(self, links: Sequence[CaseTicket]) -> None:
        # Only a ticket issued for a case comes here: a plain ticket's issue writes nothing more.
        if not links:
            return
        self.conn.execute(
            insert(case_tickets),
            [
                {
                    "ticket_id": link.ticket_id,
                    "case_id": link.case_id,
                    "number": link.number,
                    "business_day": link.business_day,
                    "at": link.at,
                    "step": link.step,
                    "linked_by": (link.by or "")[:64] or None,
                }
                for link in links
            ],
        )
        self.conn.execute(
            insert(case_events),
            [
                {
                    "case_id": link.case_id,
                    "kind": "ticket",
                    "at": link.at,
                    "actor": (link.by or "hub")[:64],
                    "step": link.step,
                    "detail": {"ticket": link.number},
                }
                for link in links
            ],
        )

    def counter_state(self, number: int) -> CounterState:
        query = select(counter_states).where(counter_states.c.number == number)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            self.conn.execute(insert(counter_states).values(number=number, status=CounterStatus.OPEN.value))
            return CounterState(number, CounterStatus.OPEN)
        return _counter(row)

    def find_counter_state(self, number: int) -> CounterState | None:
        query = select(counter_states).where(counter_states.c.number == number)
        row = self.conn.execute(query).mappings().first()
        return _counter(row) if row else None

    def save_counter_state(self, state: CounterState) -> None:
        self.conn.execute(
            _SAVE_COUNTER_STATE,
            {
                "b_number": state.number,
                "status": state.status.value,
                "current_ticket_id": state.current_ticket_id,
                "staff": state.staff,
                "priority_run": state.priority_run,
                "post": state.post,
                "post_session": state.post_session,
                "post_since": state.post_since,
                "break_reason": state.break_reason,
                "break_since": state.break_since,
            },
        )

    def add_post_events(self, batch: Sequence[PostEvent]) -> None:
        add_post_events(self.conn, batch)

    def post_events(self, since: datetime, until: datetime) -> list[PostEvent]:
        return post_events_between(self.conn, since, until)

    def counter_states(self) -> list[CounterState]:
        return [_counter(r) for r in self.conn.execute(select(counter_states)).mappings()]

    def service_queues(self, day: date, head: int) -> list[ServiceQueue]:
        counts = self.conn.execute(_SERVICE_COUNTS, {"business_day": day}).all()
        queues = []
        for service, count in counts:
            params = {"business_day": day, "service": service, "head": head}
            head_rows = self.conn.execute(_QUEUE_HEAD_NUMBERS, params).all()
            queues.append(
                ServiceQueue(
                    service,
                    int(count),
                    [number for number, _, _ in head_rows],
                    # The public marks only: 优先 (any priority), 预约 (an appointment's ticket).
                    [
                        {"number": number, "priority": priority > 0, "appointment": booking is not None}
                        for number, priority, booking in head_rows
                    ],
                )
            )
        return queues

    def recent_calls(self, day: date, limit: int) -> list[CallRecord]:
        query = (
            select(
                ticket_events.c.ticket_id,
                tickets.c.number,
                tickets.c.service,
                ticket_events.c.counter,
                ticket_events.c.at,
                ticket_events.c.kind,
                tickets.c.priority,
                tickets.c.appointment,
            )
            .join(tickets, tickets.c.id == ticket_events.c.ticket_id)
            .where(
                tickets.c.business_day == day,
                or_(
                    ticket_events.c.kind == EventKind.CALLED.value,
                    ticket_events.c.kind == EventKind.RECALLED.value,
                ),
            )
            .order_by(ticket_events.c.id.desc())
            .limit(limit)
        )
        return [
            CallRecord(
                r.ticket_id,
                r.number,
                r.service,
                r.counter,
                r.at,
                r.kind == EventKind.RECALLED.value,
                priority=r.priority > 0,
                appointment=r.appointment is not None,
                appointment_id=r.appointment,
            )
            for r in self.conn.execute(query)
        ]

    def booked_names(self, appointment_ids: Collection[str]) -> dict[str, str]:
        if not appointment_ids:
            return {}
        query = select(appointments.c.id, appointments.c.name).where(
            appointments.c.id.in_(list(appointment_ids)), appointments.c.name.is_not(None)
        )
        return {row.id: row.name for row in self.conn.execute(query)}

    def tickets_by_id(self, ids: Collection[str]) -> list[Ticket]:
        if not ids:
            return []
        rows = self.conn.execute(select(tickets).where(tickets.c.id.in_(list(ids)))).mappings()
        return [_ticket(r) for r in rows]


def _event_row(event_: TicketEvent) -> dict[str, Any]:
    return {
        "ticket_id": event_.ticket_id,
        "kind": event_.kind.value,
        "at": event_.at,
        "counter": event_.counter,
        "staff": event_.staff,
        "detail": event_.detail,
    }


def print_job_row(job: PrintJobRecord) -> dict[str, Any]:
    """The row of a print job: its fields are the table's columns, one to one."""
    return {**dataclasses.asdict(job), "detail": job.detail[:256]}


def print_job(row: Any) -> PrintJobRecord:
    return PrintJobRecord(**dict(row))


def _ticket_row(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "service": ticket.service,
        "seq": ticket.seq,
        "business_day": ticket.business_day,
        "status": ticket.status.value,
        "priority": ticket.priority,
        "category": ticket.category,
        "due_at": ticket.due_at,
        "appointment": ticket.appointment,
        "counter": ticket.counter,
        "target_counter": ticket.target_counter,
        "issued_at": ticket.issued_at,
        "queue_at": ticket.queue_at,
        "called_at": ticket.called_at,
        "started_at": ticket.started_at,
        "finished_at": ticket.finished_at,
        "call_count": ticket.call_count,
        "estimate_seconds": ticket.estimate_seconds,
    }


def _leg_row(leg: TicketLeg) -> dict[str, Any]:
    # Every field is a plain value: a shallow copy (dataclasses.asdict deep-copies each datetime, a
    # twentieth of a simulated day's CPU when every event of a call writes its leg).
    row = {name: getattr(leg, name) for name in _LEG_FIELDS}
    row["outcome"] = leg.outcome.value if leg.outcome else None
    return row


def _leg(row: Any) -> TicketLeg:
    values = dict(row)
    values["outcome"] = LegOutcome(values["outcome"]) if values["outcome"] else None
    return TicketLeg(**values)


def _ticket(row: Any) -> Ticket:
    return Ticket(
        id=row["id"],
        number=row["number"],
        service=row["service"],
        seq=row["seq"],
        business_day=row["business_day"],
        status=TicketStatus(row["status"]),
        issued_at=row["issued_at"],
        queue_at=row["queue_at"],
        priority=row["priority"],
        category=row["category"],
        due_at=row["due_at"],
        appointment=row["appointment"],
        counter=row["counter"],
        target_counter=row["target_counter"],
        called_at=row["called_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        call_count=row["call_count"],
        owner=row["owner"],
        leg=row["leg"],
        estimate_seconds=row["estimate_seconds"],
        on_my_way_at=row["on_my_way_at"],
    )


def _counter(row: Any) -> CounterState:
    return CounterState(
        row["number"],
        CounterStatus(row["status"]),
        row["current_ticket_id"],
        row["staff"],
        row["priority_run"],
        row["post"],
        row["post_session"],
        row["post_since"],
        row["break_reason"],
        row["break_since"],
    )


def _change_row(change: PriorityChange) -> dict[str, Any]:
    return {
        "ticket_id": change.ticket_id,
        "at": change.at,
        "actor": change.actor[:64],
        "role": change.role[:16],
        "action": change.action.value,
        "from_category": change.from_category,
        "to_category": change.to_category,
        "from_priority": change.from_priority,
        "to_priority": change.to_priority,
        "reason": change.reason[:200],
    }


def _change(row: Any) -> PriorityChange:
    return PriorityChange(
        ticket_id=row["ticket_id"],
        at=row["at"],
        actor=row["actor"],
        role=row["role"],
        action=LedgerAction(row["action"]),
        from_category=row["from_category"],
        to_category=row["to_category"],
        from_priority=row["from_priority"],
        to_priority=row["to_priority"],
        reason=row["reason"],
    )
