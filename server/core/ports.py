"""What the queue core needs from a store, as a protocol.

The core decides; the store only keeps. Each action of the core runs inside
one :meth:`Store.transaction`: everything it wrote is committed together when
the block ends, or nothing is. The one promise that needs the database's help
is :meth:`StoreTx.claim`: a conditional write that succeeds for exactly one of
several transactions racing for the same ticket.

Looking without changing anything (a visitor's status page, the snapshot of
the hall, a counter's waiting list) runs inside :meth:`Store.read` instead. It
sees one consistent state but takes no write lock, so a phone polling its
ticket never waits behind a counter's call; the type :class:`StoreReader` has
no writing methods, so a read cannot slip a write past the lock by mistake.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from .cases import CaseTicket
from .estimate import WarmLeg
from .journey import TicketLeg
from .model import CounterState, PriorityChange, Ticket, TicketEvent, TicketStatus
from .posts import PostEvent
from .printjobs import PrintJobRecord
from .targets import Tally


@dataclass(frozen=True)
class ServiceQueue:
    """How one service's queue looks: how many wait, and the next numbers."""

    service: str
    waiting: int
    next_numbers: list[str]
    #: The same tickets with their public marks: ``{"number", "priority", "appointment"}``.
    next_tickets: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CallRecord:
    """One call (or recall) as shown on the lobby's list of recent calls."""

    ticket_id: str
    number: str
    service: str
    counter: int
    at: datetime
    recall: bool
    #: The public marks of the ticket called (优先 / 预约), never its category.
    priority: bool = False
    appointment: bool = False
    #: The booking the ticket was issued for (internal: the core looks up its name, masked).
    appointment_id: str | None = None


class StoreReader(Protocol):
    """What may be looked at: one consistent state of the store, nothing written."""

    def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    def find_ticket(self, day: date, number: str) -> Ticket | None:
        """The ticket printed as ``number`` on ``day``."""

    def history(self, ticket_id: str) -> list[TicketEvent]: ...

    def last_rateable_leg(self, counter: int, since: datetime) -> TicketLeg | None:
        """The leg most recently ended at ``counter`` since ``since`` that a visitor may rate
        (:func:`~server.core.satisfaction.rateable`: done, or served and then transferred)."""

    def callable_heads(self, day: date, services: Sequence[str], counter: int, head: int) -> list[Ticket]:
        """The first ``head`` callable tickets of each service in queue order, the first ``head``
        normal ones (priority 0: the priority cap needs them however many priority tickets wait),
        plus every callable ticket sent to ``counter``."""

    def waiting_by_priority(self, day: date, service: str) -> dict[int, int]:
        """How many callable tickets ``service`` has on ``day``, per priority (kept by the store, O(1))."""

    def waiting_by_service(self, day: date) -> dict[str, dict[int, int]]:
        """How many callable tickets each service has on ``day``, per priority (kept by the store: one
        read of a row per service and priority)."""

    def count_ahead(self, ticket: Ticket) -> int:
        """How many callable tickets of ``ticket``'s service and day stand before it in
        queue order (:func:`~server.core.policy.queue_order`, counted by the store)."""

    def find_counter_state(self, number: int) -> CounterState | None:
        """The counter's state as last committed, unlocked; None before it has a row."""

    def counter_states(self) -> list[CounterState]: ...

    def service_queues(self, day: date, head: int) -> list[ServiceQueue]: ...

    def recent_calls(self, day: date, limit: int) -> list[CallRecord]: ...

    def tickets_by_id(self, ids: Collection[str]) -> list[Ticket]: ...

    def booked_names(self, appointment_ids: Collection[str]) -> dict[str, str]:
        """The names booked for these appointments (only where one is kept), by appointment id.

        Raw: the core masks them (:func:`~server.core.appointments.mask_name`) before
        anything leaves it, and asks only where the site calls by name.
        """

    def priority_ledger(self, ticket_id: str) -> list[PriorityChange]:
        """Every priority grant, request, confirmation and change of a ticket, oldest first."""

    def recent_priority_changes(self, limit: int) -> list[PriorityChange]:
        """The newest ``limit`` entries of the priority ledger, newest first."""

    def pending_requests(self, ticket_ids: Collection[str]) -> dict[str, str]:
        """The category each of these tickets asked for at the kiosk and staff have not answered yet."""

    def legs(self, ticket_id: str) -> list[TicketLeg]:
        """The kept legs of a ticket's journey, first first (none before its first event after issue)."""

    def current_leg(self, ticket_id: str) -> TicketLeg | None:
        """The ticket's last kept leg, or None before it has one."""

    def current_legs(self, ticket_ids: Collection[str]) -> dict[str, TicketLeg]:
        """The last kept leg of each of these tickets that has one, by ticket id."""

    def target_tallies(self, first_day: date, last_day: date) -> list[Tally]:
        """The kept legs of business days ``first_day`` to ``last_day`` counted per service and
        counter: legs whose wait (service) was judged against a target, and those that met it."""

    def called_tickets(self, day: date) -> list[Ticket]:
        """Every ticket of ``day`` called and not yet started (at most one per counter)."""

    def queue_line(self, day: date, service: str, priority: int, head: int) -> list[Ticket]:
        """The first ``head`` callable tickets of ``service`` with ``priority``, in queue order
        (those sent to a counter left out)."""

    def queue_end(self, day: date, service: str, priority: int) -> datetime | None:
        """The latest queue time among the callable tickets of ``service`` with ``priority``."""

    def service_load(self, service: str, day: date) -> int:
        """Tickets ``service`` has taken on ``day``: numbers issued plus tickets transferred into it."""

    def carried_into(self, service: str, day: date) -> int:
        """The highest number of ``service`` carried over into ``day`` (0: none): that day's numbers
        go on after it, and its daily limit counts the numbers after it."""

    def standing_days(self, until: date) -> list[tuple[date, str]]:
        """Every (business day, service) up to ``until`` with callable tickets (from the kept counts)."""

    def standing(self, day: date, service: str) -> list[Ticket]:
        """Every callable ticket of ``service`` on ``day``, in queue order."""

    def numbers_taken(self, day: date, numbers: Collection[str]) -> set[str]:
        """Those of ``numbers`` that tickets of ``day`` have."""

    def recent_legs(self, since: date, limit: int) -> list[WarmLeg]:
        """The last ``limit`` legs ended at a counter from business day ``since`` on, oldest first
        (what the estimated wait's model learns from at start)."""

    def post_events(self, since: datetime, until: datetime) -> list[PostEvent]:
        """The post log from ``since`` (included) to ``until`` (not), in the order it happened."""


class StoreTx(StoreReader, Protocol):
    """The operations available inside one writing transaction: every read, and the writes."""

    def allocate_seq(self, service: str, day: date, count: int = 1) -> int:
        """Reserve the next ``count`` sequences of ``service`` on ``day``; returns the last (1-based)."""

    def lock_sequences(self, services: Collection[str], day: date) -> None:
        """Hold the numbering of every one of ``services`` on ``day`` until commit, taken in the codes' order.

        Several hub processes issue into one database (a cluster): two batches taking two
        services' sequence rows in opposite orders would deadlock. Where the database
        serializes whole writing transactions (SQLite) there is nothing to order.
        """

    def return_seqs(self, service: str, day: date, last_seq: int) -> None:
        """Give back every sequence after ``last_seq`` (numbers reserved beyond a daily limit)."""

    def seed_seq(self, service: str, day: date, at_least: int) -> None:
        """Make the numbering of ``service`` on ``day`` go on after ``at_least`` (tickets carried into it,
        kept as :meth:`carried_into`)."""

    def count_half_day(self, service: str, day: date, half: str, count: int) -> int:
        """Add ``count`` (negative: give back) to ``service``'s walk-ins of that half-day; the new total."""

    def add_ticket(self, ticket: Ticket) -> None: ...

    def add_tickets(self, batch: Sequence[Ticket]) -> None: ...

    def add_event(self, event: TicketEvent) -> None: ...

    def add_events(self, batch: Sequence[TicketEvent]) -> None: ...

    def add_priority_changes(self, batch: Sequence[PriorityChange]) -> None:
        """Append to the priority ledger, in the transaction of the change it records."""

    def add_print_job(self, job: PrintJobRecord) -> None:
        """Keep a print job with its ticket (same transaction), so the hub can resume it after a crash."""

    def add_print_jobs(self, batch: Sequence[PrintJobRecord]) -> None: ...

    def leg_for_rating(self, ticket_id: str, leg: int) -> TicketLeg | None:
        """One leg of a ticket, locked against a second rating until commit (PostgreSQL: FOR UPDATE;
        SQLite's writers are serialized already)."""

    def save_legs(self, legs: Sequence[TicketLeg]) -> None:
        """Write legs of a journey, inserted or replaced (a leg's ``queued_at`` and ``transfer`` stay)."""

    def claim(self, ticket: Ticket, expect: Collection[TicketStatus], calling: bool = False) -> bool:
        """Write ``ticket`` if its stored status is still one of ``expect``.

        Returns False when another transaction changed it first; the caller
        then looks again. This is what makes a call go to exactly one counter.
        ``calling``: a counter taking a waiting ticket, which may also answer
        False for a ticket another counter is taking at this moment, without
        waiting for that one to commit (the caller passes over it).
        """

    def claim_appointment(self, appointment_id: str, expect: Collection[str], at: datetime) -> str | None:
        """Mark the booking checked in if its status is one of ``expect``; returns the status it had,
        None when it had another (used already, cancelled) or does not exist."""

    def release_appointment(self, appointment_id: str, status: str) -> None:
        """Undo :meth:`claim_appointment` in the same transaction (its ticket was refused after all)."""

    def lock_case(self, case_id: str, at: datetime) -> bool:
        """Lock the case's row if the case is still open (a ticket for it is issued in this transaction);
        False when it is done or cancelled."""

    def link_case_tickets(self, links: Sequence[CaseTicket]) -> None:
        """Link tickets to their cases, each with an entry in its case's log, in the tickets' transaction."""

    def counter_state(self, number: int) -> CounterState:
        """The counter's state, locked against other transactions until commit."""

    def save_counter_state(self, state: CounterState) -> None: ...

    def add_post_events(self, batch: Sequence[PostEvent]) -> None:
        """Append to the post log, in the transaction of the change it records."""


class Store(Protocol):
    """A durable place for tickets, their events and the counters' state."""

    def transaction(self) -> AbstractContextManager[StoreTx]:
        """A writing transaction: on SQLite it holds the write lock from its first statement."""

    def read(self) -> AbstractContextManager[StoreReader]:
        """A read-only transaction: one consistent state, and no wait behind a writer."""
