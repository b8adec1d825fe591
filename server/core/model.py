"""The words of the hall as plain data: services, counters, tickets and their history.

Nothing here knows about Flask, SQL or sockets. The ticket keeps its current
state for quick queries, but the truth about what happened to it is its event
log (:class:`TicketEvent`): reports, waiting-time targets and audits are built
from the log, so every change of state appends one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class TicketStatus(StrEnum):
    """Where a ticket is in its life.

    ``transferred`` is a waiting state: the same ticket (内转外不转) now waits
    for another service or counter and can be called again.
    """

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"


#: A ticket's status as a Chinese refusal says it after the number ("A001 号已取消").
_STATUS_ZH = {
    TicketStatus.WAITING: "在等候",
    TicketStatus.CALLED: "已叫号",
    TicketStatus.SERVING: "正在办理",
    TicketStatus.DONE: "已办结",
    TicketStatus.NO_SHOW: "已过号未到",
    TicketStatus.CANCELLED: "已取消",
    TicketStatus.TRANSFERRED: "已转办，在等候",
}


def status_zh(status: TicketStatus) -> str:
    """``status`` in Chinese, as a refusal says it after the ticket's number."""
    return _STATUS_ZH[status]


#: States in which a ticket stands in a queue and may be called.
CALLABLE = frozenset({TicketStatus.WAITING, TicketStatus.TRANSFERRED})
#: States in which a ticket occupies a counter.
AT_COUNTER = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})
#: States a ticket never leaves.
FINAL = frozenset({TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.CANCELLED})


class EventKind(StrEnum):
    """One entry of a ticket's history."""

    ISSUED = "issued"
    CALLED = "called"
    RECALLED = "recalled"
    STARTED = "started"
    FINISHED = "finished"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"
    EVALUATED = "evaluated"
    #: A late visitor put back in the queue (过号重排), keeping the number.
    REQUEUED = "requeued"
    #: Still waiting at closing, kept for the next opening day (``[hours] at_closing = "carry_over"``).
    CARRIED_OVER = "carried_over"
    #: The called visitor said from the phone they are coming ("我在路上"): the no-show wait of that
    #: call grows once by ``[phone] on_my_way_minutes``. Nobody's service: no leg moves, no figure counts it.
    ON_MY_WAY = "on_my_way"


class LegOutcome(StrEnum):
    """How one station of a ticket's journey ended."""

    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"


class Rating(StrEnum):
    """The visitor's verdict (评价), best first: three of these on a three-level site, all five on a
    five-level one (``[satisfaction] levels``; server.core.satisfaction)."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    #: 基本满意: five levels only.
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    #: 非常不满意: five levels only.
    VERY_DISSATISFIED = "very_dissatisfied"


class PriorityGrant(StrEnum):
    """Who may give a priority category (绿色通道) to a ticket.

    ``kiosk``: the visitor chooses it at the kiosk. ``staff``: only staff,
    triage or an admin. ``confirm``: the visitor asks at the kiosk, and staff
    confirm it before it counts.
    """

    KIOSK = "kiosk"
    STAFF = "staff"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class PriorityCategory:
    """A priority category of the site (老年人, 急诊, VIP…): its weight orders the calls."""

    code: str
    name_zh: str
    name_en: str
    weight: int
    grant: PriorityGrant = PriorityGrant.STAFF


class LedgerAction(StrEnum):
    """What one entry of the priority ledger records."""

    GRANT = "grant"  # given at issue by someone allowed to
    REQUEST = "request"  # asked for at the kiosk; counts only once staff confirm it
    CONFIRM = "confirm"  # staff confirmed a request
    CHANGE = "change"  # staff changed (or removed) a ticket's category


@dataclass(frozen=True)
class PriorityChange:
    """One entry of the priority ledger: who changed a ticket's priority, when, from what to what, why.

    Written in the same transaction as the change. Read by admins (and staff
    for a ticket at their own counter); never on a public payload.
    """

    ticket_id: str
    at: datetime
    actor: str
    role: str
    action: LedgerAction
    from_category: str | None
    to_category: str | None
    from_priority: int
    to_priority: int
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "at": _iso(self.at),
            "actor": self.actor,
            "role": self.role,
            "action": self.action.value,
            "from_category": self.from_category,
            "to_category": self.to_category,
            "from_priority": self.from_priority,
            "to_priority": self.to_priority,
            "reason": self.reason,
        }


class CounterStatus(StrEnum):
    """Whether a counter takes calls. A paused counter keeps its current ticket.

    ``closed`` is never stored: it is how a counter nobody is on post at shows
    (:meth:`CounterState.shown`), where the hall staffs its counters by login.
    The stored status says only whether the clerk paused (a break).
    """

    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


@dataclass(frozen=True)
class Service:
    """A business a visitor can queue for (业务), with its ticket numbering."""

    code: str
    name_zh: str
    name_en: str
    prefix: str
    width: int = 3
    daily_limit: int | None = None

    def number_for(self, seq: int) -> str:
        """The printed number for the ``seq``-th ticket of the day, e.g. ``A012``."""
        return f"{self.prefix}{seq:0{self.width}d}"


@dataclass(frozen=True)
class Counter:
    """A window (窗口) and the services it serves, most preferred first."""

    number: int
    name_zh: str
    name_en: str
    services: tuple[str, ...]
    #: What kind of place it is ("window", "room", "pharmacy", …): picks the call's phrasing.
    kind: str = "window"


@dataclass
class Ticket:
    """A visitor's place in the hall; one ticket is carried through transfers.

    The row keeps the *current* leg of the journey: ``called_at``,
    ``started_at``, ``finished_at`` and ``call_count`` are those of the station
    the ticket is at or waiting for now (each leg keeps its own in
    :class:`~server.core.journey.TicketLeg`). ``owner`` (首问负责) is the
    first staff member who started serving it; it travels with the ticket,
    like ``priority``, and is never shown on public screens.
    """

    id: str
    number: str
    service: str
    seq: int
    business_day: date
    status: TicketStatus
    issued_at: datetime
    #: Ordering time in the queue. Equal to ``issued_at`` unless a policy moves it.
    queue_at: datetime
    priority: int = 0
    category: str | None = None
    due_at: datetime | None = None
    appointment: str | None = None
    owner: str | None = None
    counter: int | None = None
    target_counter: int | None = None
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: Calls of the current leg (since the ticket last joined a queue: issue, transfer, re-queue).
    call_count: int = 0
    #: The number of the current leg of its journey (1 until the first transfer).
    leg: int = 1
    #: The wait estimated at issue, in seconds (None: no counter was open for its service).
    estimate_seconds: int | None = None
    #: When the visitor last said "on my way" (我在路上) from the phone; it counts for the call it followed.
    on_my_way_at: datetime | None = None
    history: list[TicketEvent] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        """The ticket as shown to anyone: no personal data is ever kept on it.

        Priority is a mark only (``True``/``False``): the category (elderly,
        disabled, emergency…) says something about the visitor, so it stays
        with staff and the priority ledger, never on a public screen.
        """
        return {
            "id": self.id,
            "number": self.number,
            "service": self.service,
            "status": self.status.value,
            "priority": self.priority > 0,
            "counter": self.counter,
            "target_counter": self.target_counter,
            "issued_at": _iso(self.issued_at),
            "called_at": _iso(self.called_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "call_count": self.call_count,
            # A mark only ("预约"): never who booked, never the booking's id.
            "appointment": self.appointment is not None,
            "due_at": _iso(self.due_at),
            # The called visitor said they are coming (在路上), for this very call.
            "on_my_way": self.on_my_way,
        }

    @property
    def on_my_way(self) -> bool:
        """Whether the visitor said "on my way" since the last call (a recall asks again)."""
        return (
            self.status is TicketStatus.CALLED
            and self.on_my_way_at is not None
            and self.called_at is not None
            and self.on_my_way_at >= self.called_at
        )


@dataclass(frozen=True)
class TicketEvent:
    """Something that happened to a ticket, when, and where."""

    ticket_id: str
    kind: EventKind
    at: datetime
    counter: int | None = None
    staff: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The event as shown on the ticket's history (staff names, issuer and priority left out)."""
        return {
            "kind": self.kind.value,
            "at": _iso(self.at),
            "counter": self.counter,
            "detail": {k: v for k, v in self.detail.items() if k not in PRIVATE_DETAIL},
        }


#: Keys of an event's detail that never leave for a public page: who issued the ticket
#: (a triage nurse's user name) and the triage desk, its priority weight and category, a reason
#: given by staff.
PRIVATE_DETAIL = frozenset({"issued_by", "desk", "priority", "category", "reason"})


@dataclass(frozen=True)
class CounterState:
    """What a counter is doing now."""

    number: int
    status: CounterStatus
    current_ticket_id: str | None = None
    staff: str | None = None
    #: Priority calls in a row at this counter (kept in the store, so the cap survives a restart).
    priority_run: int = 0
    #: The clerk on post here (logged in at this counter), or None. ``staff`` above stays what it
    #: was: whoever acted here last (a keypad, an admin); ``post`` is who is at the counter now.
    post: str | None = None
    #: The login that holds the post (an opaque key, the session's hash): the post ends with it.
    post_session: str | None = None
    post_since: datetime | None = None
    #: The break the clerk is on while ``status`` is paused: its reason code and start.
    break_reason: str | None = None
    break_since: datetime | None = None

    def shown(self, posts_required: bool) -> CounterStatus:
        """The counter's status as every screen shows it: ``closed`` with nobody on post
        (where the hall staffs counters by login), else ``paused`` or ``open``."""
        if posts_required and self.post is None:
            return CounterStatus.CLOSED
        return self.status

    def takes_calls(self, posts_required: bool) -> bool:
        """Whether a visitor may be called here now: staffed (where that counts) and not paused."""
        return self.shown(posts_required) is CounterStatus.OPEN


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
