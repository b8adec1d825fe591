"""The queue core: every action of the hall, as plain Python.

Each public method runs one store transaction, commits it, and only then
publishes what happened on the event bus. Methods that only look (a ticket's
status, the snapshot, waiting lists, a counter's view) use the store's read
path instead, which takes no write lock. It takes a clock, so tests can move
time, and a calling policy, so the order of calls can be changed without
touching this file.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from . import events as ev
from .appointments import AppointmentClaim, mask_name, used_refusal
from .calendar import Clock, HallCalendar, utc_now
from .cases import CaseClaim, CaseTicket, ended_refusal
from .errors import (
    AlreadyOnTheWay,
    AlreadyRated,
    CounterClosed,
    CounterPaused,
    CounterStaffed,
    DailyLimitReached,
    InvalidTransition,
    NobodyWaiting,
    NotCalled,
    NotCancellable,
    NothingToEvaluate,
    OnPostElsewhere,
    PriorityNotAllowed,
    QueueError,
    RecallLimitReached,
    TicketAtCounter,
    UnknownBreakReason,
    UnknownCategory,
    UnknownCounter,
    UnknownService,
    UnknownTicket,
    VisitorNotStarted,
)
from .estimate import PaceModel, join_lag, minutes
from .events import EventBus, HallEvent
from .half_days import HalfDayCaps
from .journey import TicketLeg, advance, opening_leg, replay
from .model import (
    AT_COUNTER,
    CALLABLE,
    FINAL,
    Counter,
    CounterState,
    CounterStatus,
    EventKind,
    LedgerAction,
    PriorityCategory,
    PriorityChange,
    PriorityGrant,
    Rating,
    Service,
    Ticket,
    TicketEvent,
    TicketStatus,
    status_zh,
)
from .policy import CallContext, CallingPolicy, Placed, explain, next_run, preference_policy
from .ports import ServiceQueue, Store, StoreReader, StoreTx
from .posts import DEFAULT_BREAK_REASONS, RESUMED, BreakReason, PostEnd, PostEvent, PostKind, seconds_between
from .printjobs import PrintJobRecord, PrintRequest, new_job_id
from .priority import pending_request
from .reopening import closed_refusal, half_day_refusal
from .rules import CallRules
from .satisfaction import Satisfaction, Verdict, chosen_leg, offer
from .targets import TargetReport, TargetRules, due_at, shares

#: How many tickets of each service the policy sees when choosing.
POLICY_HEAD = 20
#: How many times a counter looks again after losing a race for a ticket.
CLAIM_ATTEMPTS = 50
#: How many next numbers and recent calls the snapshot carries.
SNAPSHOT_HEAD = 5
RECENT_CALLS = 10
#: The smallest step of time the store keeps: a re-queued ticket is placed this far after another.
TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Hall:
    """The site as the core sees it: services, counters and the calendar."""

    name_zh: str
    name_en: str
    services: Mapping[str, Service]
    counters: Mapping[int, Counter]
    calendar: HallCalendar = field(default_factory=HallCalendar)
    #: The site's priority categories (绿色通道) by code.
    categories: Mapping[str, PriorityCategory] = field(default_factory=dict)
    #: The ``[calling]`` priority cap, shown with the next-up list (the policy enforces it).
    priority_cap: int | None = None

    rules: CallRules = field(default_factory=CallRules)
    #: ``[appointments] call_by_name``: a call of an appointment's ticket carries the booked
    #: name, masked (张*明); otherwise no name is ever looked up.
    call_by_name: bool = False
    #: Walk-in tickets per half-day (上午/下午号源) of the services that cap them, by code.
    half_day_caps: Mapping[str, HalfDayCaps] = field(default_factory=dict)
    #: Waiting-time and service-time targets (``[targets]``): each leg is judged by them.
    targets: TargetRules = field(default_factory=TargetRules)
    #: A counter is open only while a clerk is on post at it (logged in at it): the hub's halls.
    #: False: every counter counts as staffed (a core driven without logins: unit tests).
    posts_required: bool = False
    #: The reasons a clerk may give for a break (``[staff] break_reasons``), by code, and the one
    #: a break without a reason gets.
    break_reasons: Mapping[str, BreakReason] = field(
        default_factory=lambda: {r.code: r for r in DEFAULT_BREAK_REASONS}
    )
    default_break_reason: str = "other"

    def break_reason(self, code: str | None) -> str:
        """The break reason ``code`` (None: the default one), or :class:`UnknownBreakReason`."""
        code = code or self.default_break_reason
        if code not in self.break_reasons:
            choices = ", ".join(self.break_reasons)
            raise UnknownBreakReason(f"unknown break reason {code!r}; expected one of: {choices}")
        return code

    #: ``[satisfaction]``: the rating levels, reasons, target and how long a service may be rated.
    satisfaction: Satisfaction = field(default_factory=Satisfaction)

    def category(self, code: str) -> PriorityCategory:
        try:
            return self.categories[code]
        except KeyError:
            choices = ", ".join(self.categories) or "none"
            raise UnknownCategory(
                f"未知的优先类别 {code!r}（可选：{choices}）/ "
                f"unknown priority category {code!r} (expected one of: {choices})"
            ) from None

    def service(self, code: str) -> Service:
        try:
            return self.services[code]
        except KeyError:
            raise UnknownService(f"unknown service {code!r}", f"没有业务 {code!r}") from None

    def counter(self, number: int) -> Counter:
        try:
            return self.counters[number]
        except KeyError:
            raise UnknownCounter(f"unknown counter {number!r}", f"{number} 号窗口不存在") from None


@dataclass(frozen=True)
class Issued:
    """A new ticket and how many stand before it."""

    ticket: Ticket
    waiting_ahead: int
    #: The print job committed with the ticket, when one was asked for.
    print_job: PrintJobRecord | None = None


@dataclass(frozen=True)
class IssueRequest:
    """One visitor's request for a ticket (a kiosk tap, a clerk issuing for someone)."""

    service: str
    #: A raw priority, for callers inside the hub; ``category`` takes its place when given.
    priority: int = 0
    issued_by: str | None = None
    print_request: PrintRequest | None = None
    #: A priority category code of the site (the API's way): its weight becomes the priority.
    category: str | None = None
    #: The issuer's role (``kiosk``, ``staff``, ``admin``, ``triage``): what it may grant.
    #: None: a caller inside the hub, trusted like staff.
    role: str | None = None
    #: A check-in: the booking is claimed in the ticket's transaction (used once, never half-written).
    appointment: AppointmentClaim | None = None
    #: The triage desk (``[[triage_desks]]``) a user issued it at: kept in the issued event, so a
    #: reprint finds the desk's printer.
    desk: str | None = None
    #: A ticket for a later step of a case (业扩报装): linked to it in the ticket's transaction.
    case: CaseClaim | None = None


#: Roles of the devices that issue tickets: their name is public (it says which kiosk printed).
DEVICE_ISSUERS = (None, "kiosk")


@dataclass(frozen=True)
class _Grant:
    """What a request's category comes to: the ticket's priority and category, and its ledger entry."""

    priority: int
    category: str | None
    action: LedgerAction | None = None
    asked: str | None = None


@dataclass(frozen=True)
class IssuedBatch:
    """A committed batch of ticket requests: each one's outcome, and the kiosk that asked."""

    outcomes: list[Issued | QueueError]
    issued_by: list[str | None]


@dataclass
class _IssueBatch:
    """What one :meth:`QueueCore.issue_many` transaction writes, gathered before it is written."""

    now: datetime
    day: date
    issued: list[tuple[int, Issued]] = field(default_factory=list)
    refused: list[tuple[int, QueueError]] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)
    ledger: list[PriorityChange] = field(default_factory=list)
    grants: dict[int, _Grant] = field(default_factory=dict)
    #: Check-ins whose booking this batch claimed: request index → (booking id, its status before).
    claimed: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: How many wait per service and priority, then per service, as the batch's tickets join (read once).
    standing: dict[str, dict[int, int]] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    #: When the hall stops issuing walk-in tickets (the estimate's end of arrivals); None: not known.
    arrivals_end: datetime | None = None


@dataclass(frozen=True)
class PostTaken:
    """A clerk on post at a counter after a login: ``started`` (False: the same clerk's post went on,
    held by the new login) and the posts a move ended (``counter``, ``session``: the login to end)."""

    counter: int
    moved: list[dict[str, Any]]
    started: bool


@dataclass(frozen=True)
class _PostEnded:
    """A post ended inside a transaction: what to tell the hall once it committed."""

    counter: Counter
    state: CounterState
    session: str
    reason: PostEnd
    ticket: Ticket | None
    kind: EventKind | None
    #: When it was written (the visitor handed back then, for the estimate's pace).
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"counter": self.counter.number, "session": self.session, "reason": self.reason.value}


def _post_refusal(
    counter: int, target: CounterState | None, elsewhere: Sequence[int], username: str, move: bool
) -> QueueError | None:
    """Why ``username`` may not go on post at ``counter``: another clerk is there (one counter, one
    clerk), or they are on post at ``elsewhere`` and do not move (one clerk, one counter)."""
    if target is not None and target.post is not None and target.post != username:
        return CounterStaffed(
            f"counter {counter} is staffed by {target.post}: they log out first, or an admin ends their post",
            f"{counter} 号窗口已有 {target.post} 在岗：须等其退出，或由管理员结束其在岗",
        )
    if elsewhere and not move:
        return OnPostElsewhere(
            f"{username} is on post at counter {elsewhere[0]}: log out there first, "
            f"or log in here with 'move' to move to counter {counter}",
            elsewhere[0],
        )
    return None


def _queue_state(queue: ServiceQueue | None) -> dict[str, Any]:
    """A service's waiting count and next numbers as screens get them (nobody waiting: no store row)."""
    if queue is None:
        return {"waiting": 0, "next_numbers": [], "next_tickets": []}
    return {"waiting": queue.waiting, "next_numbers": queue.next_numbers, "next_tickets": queue.next_tickets}


def new_ticket_id() -> str:
    """An unguessable id: knowing it is what lets a phone follow the ticket."""
    return secrets.token_urlsafe(9)


class QueueCore:
    """Issue, call, recall, start, finish, no-show, transfer, pause, resume."""

    def __init__(
        self,
        hall: Hall,
        store: Store,
        bus: EventBus | None = None,
        clock: Clock = utc_now,
        policy: CallingPolicy = preference_policy,
        pace: PaceModel | None = None,
    ) -> None:
        self.hall = hall
        self.store = store
        self.bus = bus or EventBus()
        self.clock = clock
        self.policy = policy
        #: The estimated wait's model (server/core/estimate.py): fed after each commit, read at issue.
        #: A hub's cores share one (the dispenser's writer reads what the loop's core fed).
        self.pace = pace or PaceModel(hall.counters)

    # -- kiosk -----------------------------------------------------------

    def issue(
        self,
        service_code: str,
        priority: int = 0,
        issued_by: str | None = None,
        print_request: PrintRequest | None = None,
    ) -> Issued:
        """Give a walk-in visitor the next number of ``service_code``.

        ``issued_by`` names the kiosk (its device name), so the ticket is printed
        on that kiosk's printer and reports can count tickets per kiosk.
        ``print_request`` adds a print job in the same transaction: a ticket the
        kiosk was told will print is never committed without its job (a crash
        of the hub must not lose the paper).
        """
        outcome = self.issue_many([IssueRequest(service_code, priority, issued_by, print_request)])[0]
        if isinstance(outcome, QueueError):
            raise outcome
        return outcome

    def issue_many(self, requests: Sequence[IssueRequest]) -> list[Issued | QueueError]:
        """Issue several tickets in one transaction: one durable commit for all of them.

        Each request gets its own outcome, in order: the ticket, or the error that
        refused it (an unknown service, a service past its daily limit), so one
        refusal never costs the others their tickets. The result is the same as
        issuing them one after another in this order; people-ahead comes from the
        store's kept counts, not a scan, so it costs the same with 10 or 10,000
        waiting. Outside a service's hours its requests are refused with the next
        opening (``hall_closed``, ``service_closed``).
        """
        committed = self.commit_issues(requests)
        self.announce_issues(committed)
        return committed.outcomes

    def commit_issues(self, requests: Sequence[IssueRequest]) -> IssuedBatch:
        """The writing half of :meth:`issue_many`: committed, nothing published yet.

        Split so that a hub can run the commit (its disk flush) on a thread of its
        own while its loop keeps reading requests, and publish on the loop.
        """
        now = self.clock()
        day = self.hall.calendar.business_day(now)
        outcomes: list[Issued | QueueError | None] = [None] * len(requests)
        by_service: dict[str, list[int]] = {}
        batch = _IssueBatch(now, day)
        for i, request in enumerate(requests):
            try:
                code = self.hall.service(request.service).code
                self._check_hours(code, request, now)
                batch.grants[i] = self._grant(request)
            except QueueError as error:
                outcomes[i] = error
                continue
            by_service.setdefault(code, []).append(i)
        # A ticket for a case is rare: plain tickets only pay for this one look.
        for_cases = any(request.case for request in requests)
        with self.store.transaction() as tx:
            if any(request.appointment for request in requests):
                self._claim_appointments(tx, batch, requests, by_service)
            if for_cases:
                self._claim_cases(tx, batch, requests, by_service)
            if len(by_service) > 1:
                # Two batches taking two services' numbers in opposite orders would deadlock in a cluster.
                tx.lock_sequences(by_service, day)
            if by_service:
                batch.standing = tx.waiting_by_service(day)
                batch.waiting = {code: sum(counts.values()) for code, counts in batch.standing.items()}
                batch.arrivals_end = self._arrivals_end(now)
            for code, indexes in by_service.items():
                self._issue_service(tx, batch, self.hall.services[code], [(i, requests[i]) for i in indexes])
            for i, _ in batch.refused:
                if i in batch.claimed:
                    tx.release_appointment(batch.claimed[i][0], batch.claimed[i][1])
            tx.add_tickets([issued.ticket for _, issued in batch.issued])
            if for_cases:
                tx.link_case_tickets(self._case_links(batch, requests))
            tx.add_events(batch.events)
            tx.add_priority_changes(batch.ledger)
            tx.add_print_jobs([issued.print_job for _, issued in batch.issued if issued.print_job])
        for i, issued in batch.issued:
            outcomes[i] = issued
        for i, refusal in batch.refused:
            outcomes[i] = refusal
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(requests), "every request gets its ticket or its refusal"
        # A triage nurse's or clerk's name stays off the hall's events; a kiosk's name is public.
        issuers = [r.issued_by if r.role in DEVICE_ISSUERS else None for r in requests]
        return IssuedBatch(done, issuers)

    def _arrivals_end(self, now: datetime) -> datetime | None:
        """When the hall stops issuing walk-in tickets in the opening range of ``now``: the last ticket;
        ``now`` past it (a booked check-in); None where hours are not enforced (nobody knows)."""
        if not self.hall.calendar.enforce_hours:
            return None
        verdict = self.hall.calendar.verdict(now)
        return verdict.last_ticket_at if verdict.issuing else now

    def _check_hours(self, service: str, request: IssueRequest, now: datetime) -> None:
        """Refuse a ticket outside the service's hours, saying when it opens (the verdict is kept per minute).

        A booked visitor checking in for a slot is taken while the service is
        open, past its last walk-in ticket too.
        """
        calendar = self.hall.calendar
        verdict = calendar.verdict(now, service)
        if verdict.issuing or (verdict.open and _booked(request)):
            return
        raise closed_refusal(verdict, calendar.own_hours(service), now, calendar.zone)

    def _grant(self, request: IssueRequest) -> _Grant:
        """The priority a request gets: a kiosk may give only kiosk categories, and ask for confirm ones."""
        if request.category is None:
            return _Grant(request.priority, None)
        category = self.hall.category(request.category)
        if request.role != "kiosk":
            return _Grant(category.weight, category.code, LedgerAction.GRANT)
        if category.grant is PriorityGrant.KIOSK:
            return _Grant(category.weight, category.code, LedgerAction.GRANT)
        if category.grant is PriorityGrant.CONFIRM:
            return _Grant(0, None, LedgerAction.REQUEST, category.code)
        raise PriorityNotAllowed(
            f"“{category.name_zh}”须由工作人员办理 / {category.name_en} priority is given by staff only"
        )

    def announce_issues(self, committed: IssuedBatch) -> None:
        """Publish ``ticket_issued`` for each ticket of a committed batch, in request order."""
        for outcome, issued_by in zip(committed.outcomes, committed.issued_by, strict=True):
            if isinstance(outcome, Issued):
                if jumped(outcome.ticket):
                    self.pace.joined(outcome.ticket.service)  # a priority or an appointment: before all
                self._publish(
                    ev.TICKET_ISSUED,
                    ticket=outcome.ticket.public(),
                    waiting_ahead=outcome.waiting_ahead,
                    issued_by=issued_by,
                )

    @staticmethod
    def _claim_appointments(
        tx: StoreTx, batch: _IssueBatch, requests: Sequence[IssueRequest], by_service: dict[str, list[int]]
    ) -> None:
        """Mark the check-ins' bookings used before their tickets are numbered; a lost claim refuses it.

        A refusal later in the batch (a daily limit) gives the booking back
        (``release_appointment``), so a booking is checked in exactly when its ticket is written.
        """
        for indexes in by_service.values():
            for i in list(indexes):
                claim = requests[i].appointment
                if claim is None:
                    continue
                was = tx.claim_appointment(claim.id, claim.expect, batch.now)
                if was is None:
                    indexes.remove(i)
                    batch.refused.append((i, used_refusal()))
                else:
                    batch.claimed[i] = (claim.id, was)

    @staticmethod
    def _claim_cases(
        tx: StoreTx, batch: _IssueBatch, requests: Sequence[IssueRequest], by_service: dict[str, list[int]]
    ) -> None:
        """Lock each case a ticket is asked for; a case closed meanwhile refuses its request."""
        for indexes in by_service.values():
            for i in list(indexes):
                claim = requests[i].case
                if claim is not None and not tx.lock_case(claim.case_id, batch.now):
                    indexes.remove(i)
                    batch.refused.append((i, ended_refusal()))

    @staticmethod
    def _case_links(batch: _IssueBatch, requests: Sequence[IssueRequest]) -> list[CaseTicket]:
        """The issued tickets of the batch that were asked for a case, as links to it."""
        links = []
        for i, issued in batch.issued:
            claim = requests[i].case
            if claim is not None:
                ticket = issued.ticket
                links.append(
                    CaseTicket(
                        claim.case_id,
                        ticket.id,
                        ticket.number,
                        ticket.business_day,
                        batch.now,
                        claim.step,
                        requests[i].issued_by,
                    )
                )
        return links

    def _issue_service(
        self, tx: StoreTx, batch: _IssueBatch, service: Service, requests: list[tuple[int, IssueRequest]]
    ) -> None:
        """Numbers, people ahead, events and print jobs for one service's share of a batch."""
        last = tx.allocate_seq(service.code, batch.day, len(requests))
        first = last - len(requests) + 1
        limit = self._last_number(tx, service, batch.day, last)
        if limit is not None and last > limit:
            granted = max(0, limit - first + 1)
            tx.return_seqs(service.code, batch.day, first - 1 + granted)
            for i, _ in requests[granted:]:
                batch.refused.append(
                    (
                        i,
                        DailyLimitReached(
                            f"service {service.code!r} has issued its {service.daily_limit} tickets for today"
                        ),
                    )
                )
            requests = requests[:granted]
        caps = self.hall.half_day_caps.get(service.code)
        if caps is not None:
            requests = self._within_half_day(tx, batch, service, caps, requests, first)
        standing = batch.standing.setdefault(service.code, {})
        for offset, (i, request) in enumerate(requests):
            grant = batch.grants[i]
            ticket = Ticket(
                id=new_ticket_id(),
                number=service.number_for(first + offset),
                service=service.code,
                seq=first + offset,
                business_day=batch.day,
                status=TicketStatus.WAITING,
                issued_at=batch.now,
                queue_at=batch.now,
                priority=grant.priority,
                category=grant.category,
                due_at=request.appointment.due_at if request.appointment else None,
                # A late visitor's walk-in (no due time) is no appointment ticket: its issued
                # event still names the booking.
                appointment=request.appointment.id
                if request.appointment and request.appointment.due_at
                else None,
            )
            # policy.queue_order: everyone of this priority or higher stands before a new ticket.
            # An approximation of the fair policy's order: the age bonus, the priority cap,
            # appointments due and transfers are not counted (docs/architecture.md).
            ahead = sum(count for priority, count in standing.items() if priority >= grant.priority)
            standing[grant.priority] = standing.get(grant.priority, 0) + 1
            estimate = self.pace.wait_seconds(
                service.code,
                ahead,
                batch.now,
                priority=grant.priority,
                due_at=ticket.due_at,
                waiting=batch.waiting,
                arrivals_end=batch.arrivals_end,
            )
            batch.waiting[service.code] = batch.waiting.get(service.code, 0) + 1
            ticket.estimate_seconds = None if estimate is None else round(estimate)
            detail: dict[str, Any] = {"priority": grant.priority}
            if grant.category:
                detail["category"] = grant.category
            if request.appointment is not None:
                detail["appointment"] = request.appointment.id
            if request.issued_by:
                detail["issued_by"] = request.issued_by
            if request.desk:
                detail["desk"] = request.desk
            batch.events.append(TicketEvent(ticket.id, EventKind.ISSUED, batch.now, detail=detail))
            if grant.action is not None:
                batch.ledger.append(
                    PriorityChange(
                        ticket_id=ticket.id,
                        at=batch.now,
                        actor=request.issued_by or request.role or "hub",
                        role=request.role or "hub",
                        action=grant.action,
                        from_category=None,
                        to_category=grant.category or grant.asked,
                        from_priority=0,
                        to_priority=grant.priority,
                        reason="kiosk request" if grant.action is LedgerAction.REQUEST else "at issue",
                    )
                )
            job = None
            if request.print_request is not None:
                job = PrintJobRecord(
                    id=new_job_id(),
                    ticket_id=ticket.id,
                    printer=request.print_request.printer,
                    kiosk=request.print_request.kiosk,
                    waiting_ahead=ahead,
                    status_url=request.print_request.status_url(ticket.id),
                    created_at=batch.now,
                )
            batch.issued.append((i, Issued(ticket, ahead, job)))

    @staticmethod
    def _last_number(tx: StoreTx, service: Service, day: date, last: int) -> int | None:
        """The highest number ``service`` may give on ``day``: its daily limit, counted after the numbers
        carried over into the day (read only when a batch runs past the limit itself)."""
        if service.daily_limit is None or last <= service.daily_limit:
            return service.daily_limit
        return service.daily_limit + tx.carried_into(service.code, day)

    def _within_half_day(
        self,
        tx: StoreTx,
        batch: _IssueBatch,
        service: Service,
        caps: HalfDayCaps,
        requests: list[tuple[int, IssueRequest]],
        first: int,
    ) -> list[tuple[int, IssueRequest]]:
        """The requests within the half-day's cap (上午/下午号源); the walk-ins beyond it are refused
        with the next half-day's opening, their counts and numbers given back. Check-ins for a
        booked slot do not count."""
        half = self.hall.calendar.half_day(batch.now)
        cap = caps.cap(half)
        walk_ins = [k for k, (_, request) in enumerate(requests) if not _booked(request)]
        if cap is None or not walk_ins:
            return requests
        over = min(tx.count_half_day(service.code, batch.day, half, len(walk_ins)) - cap, len(walk_ins))
        if over <= 0:
            return requests
        tx.count_half_day(service.code, batch.day, half, -over)
        calendar = self.hall.calendar
        refusal = half_day_refusal(
            half, calendar.next_half_day(batch.now, service.code), batch.now, calendar.zone
        )
        beyond = set(walk_ins[-over:])
        batch.refused.extend((i, refusal) for k, (i, _) in enumerate(requests) if k in beyond)
        kept = [pair for k, pair in enumerate(requests) if k not in beyond]
        tx.return_seqs(service.code, batch.day, first - 1 + len(kept))
        return kept

    # -- anyone ----------------------------------------------------------

    def ticket(self, ticket_id: str) -> tuple[Ticket, int]:
        """A ticket with its history, and how many stand before it now.

        A read: a visitor's phone asks this often, and must not wait behind counters' calls.
        """
        with self.store.read() as tx:
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"no ticket {ticket_id!r}", "没有这张号票")
            ticket.history = tx.history(ticket_id)
            ahead = tx.count_ahead(ticket) if ticket.status in CALLABLE else 0
        return ticket, ahead

    def snapshot(self) -> dict[str, Any]:
        """The live state of the hall, enough for any screen to draw itself."""
        day = self.hall.calendar.business_day(self.clock())
        with self.store.read() as tx:
            queues = {q.service: q for q in tx.service_queues(day, SNAPSHOT_HEAD)}
            states = {s.number: s for s in tx.counter_states()}
            current = {
                t.id: t
                for t in tx.tickets_by_id(
                    [s.current_ticket_id for s in states.values() if s.current_ticket_id]
                )
            }
            calls = tx.recent_calls(day, RECENT_CALLS)
            names = self._masked_names(tx, [c.appointment_id for c in calls])
        waiting, end = {code: q.waiting for code, q in queues.items()}, self._arrivals_end(self.clock())
        return {
            "site": {"name_zh": self.hall.name_zh, "name_en": self.hall.name_en},
            "business_day": day.isoformat(),
            "services": [
                {
                    "code": s.code,
                    "name_zh": s.name_zh,
                    "name_en": s.name_en,
                    "prefix": s.prefix,
                    **self._with_estimate(s.code, queues, waiting, end),
                }
                for s in self.hall.services.values()
            ],
            "counters": [
                self._counter_view(c, states.get(c.number), current) for c in self.hall.counters.values()
            ],
            "recent_calls": [
                {
                    "ticket_id": call.ticket_id,
                    "number": call.number,
                    "service": call.service,
                    "counter": call.counter,
                    "at": call.at.isoformat(),
                    "recall": call.recall,
                    "priority": call.priority,
                    "appointment": call.appointment,
                    **_name(names.get(call.appointment_id or "")),
                }
                for call in calls
            ],
        }

    def service_queues(self) -> dict[str, Any]:
        """Every service's waiting count and next numbers now, with the business day: one read.

        What a ticket issued or called changes on the screens; the broadcaster
        asks this once for a whole batch of events instead of building the
        snapshot for each (``{"business_day", "services": [{code, waiting, next_numbers}]}``).
        """
        day = self.hall.calendar.business_day(self.clock())
        with self.store.read() as tx:
            queues = {q.service: q for q in tx.service_queues(day, SNAPSHOT_HEAD)}
        waiting, end = {code: q.waiting for code, q in queues.items()}, self._arrivals_end(self.clock())
        return {
            "business_day": day.isoformat(),
            "services": [
                {"code": code, **self._with_estimate(code, queues, waiting, end)}
                for code in self.hall.services
            ],
        }

    def _with_estimate(
        self, code: str, queues: Mapping[str, ServiceQueue], waiting: Mapping[str, int], end: datetime | None
    ) -> dict[str, Any]:
        """A service's queue state with ``estimate_minutes``: the wait of a visitor who took a ticket now
        (``waiting``: how many wait per service; ``end``: the end of arrivals)."""
        state = _queue_state(queues.get(code))
        seconds = self.pace.wait_seconds(
            code, state["waiting"], self.clock(), waiting=waiting, arrivals_end=end
        )
        return {**state, "estimate_minutes": minutes(seconds)}

    def waiting_list(self, counter_number: int) -> list[dict[str, Any]]:
        """The tickets a counter could call, in the order its policy would call them."""
        return [placed.ticket.public() for placed in self._next_up(counter_number, POLICY_HEAD)[1]]

    def next_up(self, counter_number: int, limit: int = 10) -> dict[str, Any]:
        """The order the policy would call next at a counter, each ticket with the reason for its place.

        For staff of that counter and admins only: it names each ticket's priority category.
        Each ticket carries when its wait target is breached (``wait_due_at``), and the counter's
        ticket when its service target is (``current.service_due_at``), with the hub's ``now`` and
        the lead of the "nearly due" mark (docs/architecture.md, "Targets").
        """
        now = self.clock()
        run, placed = self._next_up(counter_number, limit)
        with self.store.read() as tx:
            asked = tx.pending_requests([p.ticket.id for p in placed])
            waits, current = self._due_times(tx, counter_number, [p.ticket for p in placed])
        return {
            "counter": counter_number,
            "priority_run": run,
            "priority_cap": self.hall.priority_cap,
            "now": now.isoformat(),
            "warn_before_seconds": int(self.hall.targets.warn_before.total_seconds()),
            "current": current,
            "next": [
                {
                    "ticket_id": p.ticket.id,
                    "number": p.ticket.number,
                    "service": p.ticket.service,
                    "category": p.ticket.category,
                    "requested": asked.get(p.ticket.id),
                    "priority": p.ticket.priority,
                    "transferred": p.ticket.status is TicketStatus.TRANSFERRED,
                    "waited_minutes": int((now - p.ticket.queue_at).total_seconds() // 60),
                    "reason": p.reason,
                    "wait_due_at": _iso(waits.get(p.ticket.id)),
                }
                for p in placed
            ],
        }

    def _due_times(
        self, tx: StoreReader, counter_number: int, waiting: Sequence[Ticket]
    ) -> tuple[dict[str, datetime], dict[str, Any] | None]:
        """When each waiting ticket's wait target is breached, and the counter's ticket with its service's.

        A waiting leg is due ``wait`` after it joined the queue (its kept leg's
        ``queued_at``: the issue or the transfer), unless that leg was called
        before (re-queued: its wait was judged at the first call). The ticket at
        the counter is due ``service`` after its start, or its last call when
        not started. The waiting tickets' legs are read only at a site with targets.
        """
        targets = self.hall.targets
        state = tx.find_counter_state(counter_number)
        ticket = tx.get_ticket(state.current_ticket_id) if state and state.current_ticket_id else None
        current = None
        if ticket is not None and ticket.status in AT_COUNTER:
            began = ticket.started_at or ticket.called_at
            current = {
                "ticket_id": ticket.id,
                "number": ticket.number,
                "service": ticket.service,
                "status": ticket.status.value,
                "service_due_at": _iso(due_at(began, targets.of(ticket.service).service)),
            }
        if not targets.any or not waiting:
            return {}, current
        legs = tx.current_legs([t.id for t in waiting])
        waits: dict[str, datetime] = {}
        for t in waiting:
            leg = legs.get(t.id)
            if leg is None or leg.leg != t.leg:
                leg = opening_leg(t)
            due = due_at(leg.queued_at if leg.called_at is None else None, targets.of(t.service).wait)
            if due is not None:
                waits[t.id] = due
        return waits, current

    def target_report(self, first_day: date, last_day: date | None = None) -> TargetReport:
        """The share within target of business days ``first_day`` to ``last_day`` (one day without it),
        for the hall, per service and per counter, from the kept legs (docs/architecture.md, "Targets")."""
        last = last_day or first_day
        with self.store.read() as tx:
            tallies = tx.target_tallies(first_day, last)
        return shares(tallies, first_day, last)

    def _next_up(self, counter_number: int, limit: int) -> tuple[int, list[Placed]]:
        counter = self.hall.counter(counter_number)
        now = self.clock()
        day = self.hall.calendar.business_day(now)
        with self.store.read() as tx:
            tickets = tx.callable_heads(day, counter.services, counter.number, POLICY_HEAD)
            state = tx.find_counter_state(counter.number)
        run = state.priority_run if state else 0
        return run, explain(self.policy, counter, tickets, CallContext(now, run), limit)

    def priority_ledger(self, ticket_id: str) -> tuple[Ticket, list[PriorityChange]]:
        """A ticket and its priority ledger, oldest entry first (staff and admins only)."""
        with self.store.read() as tx:
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"no ticket {ticket_id!r}", "没有这张号票")
            return ticket, tx.priority_ledger(ticket_id)

    def recent_priority_changes(self, limit: int) -> list[PriorityChange]:
        """The newest entries of the whole priority ledger first (the admin page)."""
        with self.store.read() as tx:
            return tx.recent_priority_changes(limit)

    def set_priority(
        self, ticket_id: str, category: str | None, reason: str, actor: str, role: str
    ) -> Ticket:
        """Staff give, change or remove a ticket's priority category, with a reason.

        Confirming a kiosk's request is giving the category it asked for. The
        change and its ledger entry commit together; the hall hears only that
        the ticket changed (its public view: a priority mark, no category).
        """
        new = self.hall.category(category) if category is not None else None
        now = self.clock()
        with self.store.transaction() as tx:
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"no ticket {ticket_id!r}", "没有这张号票")
            if ticket.status in FINAL:
                raise InvalidTransition(
                    f"ticket {ticket.number} is {ticket.status.value}: its priority is closed",
                    f"{ticket.number} 号{status_zh(ticket.status)}，不能再改优先级",
                )
            asked = pending_request(tx.priority_ledger(ticket_id))
            to_code = new.code if new else None
            if to_code == ticket.category and asked is None:
                raise InvalidTransition(
                    f"ticket {ticket.number} already has this priority", f"{ticket.number} 号已是这一优先类别"
                )
            action = LedgerAction.CONFIRM if asked is not None and asked == to_code else LedgerAction.CHANGE
            before = (ticket.category, ticket.priority)
            ticket.category = to_code
            ticket.priority = new.weight if new else 0
            if not tx.claim(ticket, {ticket.status}):
                raise InvalidTransition(
                    f"ticket {ticket.number} was changed by someone else; look again",
                    f"{ticket.number} 号刚被他人改动，请刷新后再看",
                )
            change = PriorityChange(
                ticket_id, now, actor, role, action, before[0], to_code, before[1], ticket.priority, reason
            )
            tx.add_priority_changes([change])
        jumps = before[1] <= 0 < ticket.priority and ticket.status in CALLABLE
        if jumps:
            self.pace.joined(ticket.service)  # a priority given while it waits: before every walk-in
        self._publish(ev.TICKET_CHANGED, ticket=ticket.public(), event="priority", joined_line=jumps)
        return ticket

    # -- counter ---------------------------------------------------------

    def call_next(self, counter_number: int, staff: str | None = None) -> Ticket:
        """Call the ticket the policy picks; the counter's current ticket is finished first.

        Raises :class:`NobodyWaiting` when the queue is empty (after committing
        the finish of the current ticket, if there was one). Either way one
        event tells the screens everything: ``ticket_called`` (or
        ``counter_changed`` when nobody waits) carrying the finished ticket.
        """
        return self.call_next_viewed(counter_number, staff)[0]

    def call_next_viewed(
        self, counter_number: int, staff: str | None = None
    ) -> tuple[Ticket, dict[str, Any]]:
        """:meth:`call_next`, and the counter's view as the call left it (the one its event carries).

        The console's answer to "call next" shows both; taking the view from the call saves
        reading it back in a transaction of its own.
        """
        counter = self.hall.counter(counter_number)
        now = self.clock()
        day = self.hall.calendar.business_day(now)
        called: Ticket | None = None
        with self.store.transaction() as tx:
            state = tx.counter_state(counter.number)
            self._check_calls(state)
            finished = self._release_current(tx, state, now, staff)
            context = CallContext(now, state.priority_run)
            lost: set[str] = set()  # tickets another counter took (or is taking) meanwhile
            heads = tx.callable_heads(day, counter.services, counter.number, POLICY_HEAD)
            lost_at_read = 0
            for _ in range(CLAIM_ATTEMPTS):
                # The heads read once: a ticket lost is passed over for the policy's next choice among
                # them, without reading them again (a round trip each, and several counters on several
                # processes lose to one another often); read again only when they ran out.
                chosen = self.policy(counter, [h for h in heads if h.id not in lost], context)
                if chosen is None and len(lost) > lost_at_read:
                    heads = tx.callable_heads(day, counter.services, counter.number, POLICY_HEAD)
                    lost_at_read = len(lost)
                    chosen = self.policy(counter, [h for h in heads if h.id not in lost], context)
                if chosen is None:
                    break
                if self._claim_call(tx, chosen, counter, now, staff):
                    called = chosen
                    break
                lost.add(chosen.id)
            else:
                raise NobodyWaiting(
                    "every waiting ticket was taken by another counter; try again",
                    "等候的号都已被其他窗口叫走，请再试一次",
                )
            run = next_run(state.priority_run, called) if called else state.priority_run
            state = replace(
                state, current_ticket_id=called.id if called else None, staff=staff, priority_run=run
            )
            tx.save_counter_state(state)
            name = self._called_name(tx, called)
        self._pace_call(state, now, called, finished, stood_in_line(called, heads))
        view = self._view_after(counter, state, called)
        if called is None:
            self._publish(ev.COUNTER_CHANGED, counter=counter.number, counters=[view], **_finished(finished))
            raise NobodyWaiting(
                f"nobody is waiting for counter {counter.number}",
                f"{counter.number} 号窗口办理的业务暂无人等候",
            )
        self._announce_call(called, counter, recall=False, view=view, finished=finished, name=name)
        return called, view

    def call_ticket(self, counter_number: int, ticket_id: str, staff: str | None = None) -> Ticket:
        """Call one ticket out of order (a visitor who came back, an appointment)."""
        counter = self.hall.counter(counter_number)
        now = self.clock()
        with self.store.transaction() as tx:
            state = tx.counter_state(counter.number)
            self._check_calls(state)
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"no ticket {ticket_id!r}", "没有这张号票")
            if ticket.status not in CALLABLE:
                raise InvalidTransition(
                    f"ticket {ticket.number} is {ticket.status.value}, not waiting",
                    f"{ticket.number} 号{status_zh(ticket.status)}，不在等候",
                )
            if ticket.service not in counter.services and ticket.target_counter != counter.number:
                raise InvalidTransition(
                    f"counter {counter.number} does not serve {ticket.service!r}",
                    f"{counter.number} 号窗口不办理业务 {ticket.service!r}",
                )
            finished = self._release_current(tx, state, now, staff)
            if not self._claim_call(tx, ticket, counter, now, staff):
                raise InvalidTransition(
                    f"ticket {ticket.number} was just called elsewhere", f"{ticket.number} 号刚被其他窗口叫走"
                )
            run = next_run(state.priority_run, ticket)
            state = replace(state, current_ticket_id=ticket.id, staff=staff, priority_run=run)
            tx.save_counter_state(state)
            name = self._called_name(tx, ticket)
        # Called by hand out of order: counted as a call a walk-in waited for (no heads were read).
        self._pace_call(state, now, ticket, finished, True)
        view = self._view_after(counter, state, ticket)
        self._announce_call(ticket, counter, recall=False, view=view, finished=finished, name=name)
        return ticket

    def recall(self, counter_number: int, staff: str | None = None) -> Ticket:
        """Call the counter's current ticket again (the visitor did not come).

        Beyond the service's ``max_recalls`` the recall is refused
        (:class:`RecallLimitReached`), or the ticket becomes a no-show, as the
        site says (``[calls] on_recall_beyond_max``): a visitor recalled five
        times does not stay called for ever.
        """
        counter = self.hall.counter(counter_number)
        now = self.clock()
        expect = {TicketStatus.CALLED, TicketStatus.SERVING}
        with self.store.transaction() as tx:
            state, ticket = self._current(tx, counter.number, expect)
            limit = self.hall.rules.service(ticket.service).max_recalls
            beyond = limit is not None and ticket.status is TicketStatus.CALLED and ticket.call_count > limit
            if beyond and self.hall.rules.on_recall_beyond_max == "refuse":
                times = {1: "once", 2: "twice"}.get(limit or 0, f"{limit} times")
                raise RecallLimitReached(
                    f"ticket {ticket.number} was recalled {times} already: mark it a no-show or re-queue it",
                    # The console's words: 过号 (no-show) and 过号重排 (re-queue).
                    f"{ticket.number} 号已重呼 {limit} 次，达到上限：请过号或过号重排",
                )
            if beyond:
                detail = {"by": "recall_limit"}
                no_show = TicketStatus.NO_SHOW
                state = self._leave_counter(
                    tx, state, ticket, expect, no_show, EventKind.NO_SHOW, counter, now, staff, detail
                )
            else:
                ticket.call_count += 1
                ticket.called_at = now
                self._write(tx, ticket, expect, EventKind.RECALLED, counter, now, staff)
            name = None if beyond else self._called_name(tx, ticket)
        if beyond:
            self.pace.leg_ended(counter.number, ticket.service, now, ticket.called_at)
            self._publish_moved(ticket, EventKind.NO_SHOW, counter, state, None)
            return ticket
        view = self._view_after(counter, state, ticket)
        self._announce_call(ticket, counter, recall=True, view=view, name=name)
        return ticket

    def start(self, counter_number: int, staff: str | None = None) -> Ticket:
        """The visitor is at the counter: service time starts now."""
        return self._move(
            counter_number, {TicketStatus.CALLED}, TicketStatus.SERVING, EventKind.STARTED, staff
        )

    def finish(self, counter_number: int, staff: str | None = None) -> Ticket:
        """The service is done; the counter is free."""
        return self._move(counter_number, AT_COUNTER, TicketStatus.DONE, EventKind.FINISHED, staff)

    def no_show(self, counter_number: int, staff: str | None = None) -> Ticket:
        """The called visitor never came; the counter is free."""
        return self._move(
            counter_number, {TicketStatus.CALLED}, TicketStatus.NO_SHOW, EventKind.NO_SHOW, staff
        )

    def transfer(
        self,
        counter_number: int,
        to_service: str | None = None,
        to_counter: int | None = None,
        staff: str | None = None,
    ) -> Ticket:
        """Send the current ticket to another service or counter; the visitor keeps the number.

        The ticket keeps its place in time (``queue_at``), its priority and its
        owner, so it is not sent to the back of the next queue; the leg it was
        on is closed (``transferred``) and a new leg begins, with its own times
        and calls. A service that has taken its ``daily_limit`` takes the
        transfer or refuses it as it says (``transfer_into_capped``).
        """
        counter = self.hall.counter(counter_number)
        if to_service is None and to_counter is None:
            raise InvalidTransition(
                "a transfer needs a service or a counter to go to", "转办须指定业务或窗口"
            )
        service = self.hall.service(to_service) if to_service is not None else None
        target = self.hall.counter(to_counter) if to_counter is not None else None
        if target is not None and target.number == counter.number and service is None:
            raise InvalidTransition(
                "a ticket cannot be transferred to the counter it is at", "不能转到号票当前所在的窗口"
            )
        now = self.clock()
        with self.store.transaction() as tx:
            state, ticket = self._current(tx, counter.number, AT_COUNTER)
            if target is not None:
                self._check_staffed(tx, target)
            leg = tx.current_leg(ticket.id) or opening_leg(ticket)
            from_service = ticket.service
            if service is not None and service.code != from_service:
                self._check_capped(tx, service, ticket.business_day)
            ticket.status = TicketStatus.TRANSFERRED
            ticket.service = service.code if service else ticket.service
            ticket.target_counter = target.number if target else None
            ticket.counter = None
            # The row keeps the current leg: the next station's times and calls start afresh.
            ticket.called_at = ticket.started_at = ticket.finished_at = None
            ticket.call_count = 0
            ticket.leg = leg.leg + 1
            detail = {
                "from_counter": counter.number,
                "from_service": from_service,
                "to_service": ticket.service,
                "to_counter": ticket.target_counter,
            }
            if not tx.claim(ticket, AT_COUNTER):
                raise InvalidTransition(
                    f"ticket {ticket.number} was changed by someone else; look again",
                    f"{ticket.number} 号刚被他人改动，请刷新后再看",
                )
            event = TicketEvent(ticket.id, EventKind.TRANSFERRED, now, counter.number, staff, detail)
            self._record(tx, ticket, event, leg)
            state = replace(state, current_ticket_id=None)
            tx.save_counter_state(state)
        self.pace.leg_ended(counter.number, from_service, now, leg.called_at)
        self.pace.joined(ticket.service, _lag(ticket, now))
        self._publish(
            ev.TICKET_CHANGED,
            ticket=ticket.public(),
            event=EventKind.TRANSFERRED.value,
            counters=[self._view_after(counter, state, None)],
            # Where it stands in its new queue (the public view has no queue_at): the other
            # processes of a cluster count the same lag from it (server/cluster.py, RemotePace).
            queue_at=ticket.queue_at.isoformat(),
        )
        return ticket

    def _check_staffed(self, tx: StoreTx, target: Counter) -> None:
        """Refuse a transfer to a counter nobody is on post at (where the hall staffs counters by
        login): the visitor would wait at a closed counter. A counter on a break takes it."""
        if not self.hall.posts_required:
            return
        # Read, not locked: two counters handing a visitor to each other never wait on each other.
        state = next((s for s in tx.counter_states() if s.number == target.number), None)
        if state is None or state.post is None:
            raise CounterClosed(
                f"Nobody is on post at {target.name_en}: it takes no transfers",
                f"{target.name_zh}无人值守，不能转入",
            )

    def _check_capped(self, tx: StoreTx, service: Service, day: date) -> None:
        """Refuse a transfer into a full service where it says so (an 80-number clinic's 81st patient)."""
        if (
            service.daily_limit is None
            or self.hall.rules.service(service.code).transfer_into_capped != "refuse"
        ):
            return
        if tx.service_load(service.code, day) >= service.daily_limit:
            raise DailyLimitReached(
                f"service {service.code!r} has taken its {service.daily_limit} tickets for today; "
                "it takes no transfers",
                f"业务 {service.code!r} 今天的 {service.daily_limit} 个号已取完，不再接收转办",
            )

    def cancel(
        self,
        ticket_id: str,
        *,
        counter_number: int | None = None,
        staff: str | None = None,
    ) -> Ticket:
        """The visitor gives up their place: from the phone (no counter) or at a counter by staff.

        A visitor may cancel while waiting or called; staff also while serving.
        A called ticket frees its counter. The lobby's waiting count drops
        with the ticket's status (``queue_counts`` is kept by triggers).
        """
        counter = self.hall.counter(counter_number) if counter_number is not None else None
        now = self.clock()
        state: CounterState | None = None
        with self.store.transaction() as tx:
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"no ticket {ticket_id!r}", "没有这张号票")
            if ticket.counter is not None and ticket.status in AT_COUNTER:
                state = tx.counter_state(ticket.counter)  # locked: the counter's clerk cannot act meanwhile
                ticket = tx.get_ticket(ticket_id)
                assert ticket is not None
            allowed = set(CALLABLE) | {TicketStatus.CALLED}
            if counter is not None:
                allowed.add(TicketStatus.SERVING)
            if ticket.status not in allowed:
                raise NotCancellable(
                    f"号码 {ticket.number} 已在办理或已结束，不能取消 / "
                    f"ticket {ticket.number} is being served or has ended and cannot be cancelled"
                )
            if counter is not None and not self._within_reach(ticket, counter):
                raise InvalidTransition(
                    f"ticket {ticket.number} is not at or waiting for counter {counter.number}",
                    f"{ticket.number} 号不在 {counter.number} 号窗口，也不在等候该窗口",
                )
            expect = {ticket.status}
            at_counter = ticket.counter if ticket.status in AT_COUNTER else None
            self._apply(ticket, TicketStatus.CANCELLED, now)
            if not tx.claim(ticket, expect):
                raise InvalidTransition(
                    f"ticket {ticket.number} was changed by someone else; look again",
                    f"{ticket.number} 号刚被他人改动，请刷新后再看",
                )
            detail = {"by": "staff" if counter is not None else "visitor"}
            self._record(
                tx, ticket, TicketEvent(ticket.id, EventKind.CANCELLED, now, at_counter, staff, detail)
            )
            if state is not None and state.current_ticket_id == ticket.id:
                state = replace(state, current_ticket_id=None)
                tx.save_counter_state(state)
            else:
                state = None
        views = []
        if state is not None:
            self.pace.freed(state.number, now)
            views = [self._view_after(self.hall.counter(state.number), state, None)]
        self._publish(
            ev.TICKET_CHANGED, ticket=ticket.public(), event=EventKind.CANCELLED.value, counters=views
        )
        return ticket

    def on_my_way(self, ticket_id: str) -> Ticket:
        """The called visitor says from the phone they are coming (我在路上): once a call.

        The ticket id is the right, as for :meth:`cancel`. The counter's console
        shows it on its current ticket (``on_my_way`` in the ticket's view) and
        the no-show timer of this call waits ``rules.on_my_way_seconds`` more
        (:meth:`_overdue`); a recall is a new call, after which it may be said
        again. Recorded as an ``on_my_way`` event, which is nobody's service:
        no leg, statistic or estimate counts it. Refusals are bilingual (409).
        """
        now = self.clock()
        with self.store.transaction() as tx:
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"no ticket {ticket_id!r}", "没有这张号票")
            state = tx.counter_state(ticket.counter) if ticket.counter is not None else None
            ticket = tx.get_ticket(ticket_id)  # again, under the counter's lock
            assert ticket is not None
            if ticket.status is not TicketStatus.CALLED:
                raise NotCalled(
                    f"号码 {ticket.number} 现在没有被叫到 / ticket {ticket.number} is not being called now"
                )
            if ticket.on_my_way:
                raise AlreadyOnTheWay(
                    f"已告知窗口您在路上 / counter {ticket.counter} already knows you are on your way"
                )
            ticket.on_my_way_at = now
            if not tx.claim(ticket, {TicketStatus.CALLED}):
                raise InvalidTransition(
                    f"ticket {ticket.number} was changed by someone else; look again",
                    f"{ticket.number} 号刚被他人改动，请刷新后再看",
                )
            detail = {"call": ticket.call_count, "extra_seconds": self.hall.rules.on_my_way_seconds}
            self._record(
                tx, ticket, TicketEvent(ticket.id, EventKind.ON_MY_WAY, now, ticket.counter, None, detail)
            )
        views = []
        if state is not None and ticket.counter is not None and ticket.counter in self.hall.counters:
            views = [self._view_after(self.hall.counter(ticket.counter), state, ticket)]
        self._publish(
            ev.TICKET_CHANGED, ticket=ticket.public(), event=EventKind.ON_MY_WAY.value, counters=views
        )
        return ticket

    @staticmethod
    def _within_reach(ticket: Ticket, counter: Counter) -> bool:
        """Whether the staff of ``counter`` may act on ``ticket``: at it, or waiting for it."""
        if ticket.status in AT_COUNTER:
            return ticket.counter == counter.number
        return ticket.target_counter == counter.number or (
            ticket.target_counter is None and ticket.service in counter.services
        )

    def requeue(
        self,
        counter_number: int,
        ticket_id: str | None = None,
        number: str | None = None,
        staff: str | None = None,
    ) -> Ticket:
        """Put a late visitor back in the queue, keeping the number (过号重排).

        Without ``ticket_id`` or ``number``: the counter's current ticket,
        called and not come. With one: a ticket of today that was called here
        or that became a no-show in one of this counter's services (the
        visitor came back with the paper). It goes after the
        ``[calls] requeue_position``-th waiting ticket of its service and
        priority (or to the end), and its calls count afresh.
        """
        counter = self.hall.counter(counter_number)
        now = self.clock()
        day = self.hall.calendar.business_day(now)
        with self.store.transaction() as tx:
            state = tx.counter_state(counter.number)
            if ticket_id is None and number is None:
                state, ticket = self._current(tx, counter.number, {TicketStatus.CALLED})
            else:
                found = (
                    tx.get_ticket(ticket_id) if ticket_id is not None else tx.find_ticket(day, str(number))
                )
                if found is None:
                    raise UnknownTicket(f"no ticket {ticket_id or number!r}")
                ticket = found
            late = ticket.status is TicketStatus.NO_SHOW and ticket.service in counter.services
            called_here = ticket.status is TicketStatus.CALLED and ticket.counter == counter.number
            if not (late or called_here) or ticket.business_day != day:
                raise InvalidTransition(
                    f"ticket {ticket.number} is {ticket.status.value}: only a no-show of today in this "
                    "counter's services, or the visitor called here, can be re-queued",
                    f"{ticket.number} 号{status_zh(ticket.status)}：只有本窗口业务今天未到的号，"
                    "或在本窗口叫到的号，才能重新排队",
                )
            expect = {ticket.status}
            position = self.hall.rules.requeue_position
            ticket.queue_at = self._requeue_at(tx, ticket, position, now)
            ticket.status = TicketStatus.WAITING
            ticket.counter = ticket.target_counter = None
            ticket.called_at = ticket.started_at = ticket.finished_at = None
            ticket.call_count = 0
            if not tx.claim(ticket, expect):
                raise InvalidTransition(
                    f"ticket {ticket.number} was changed by someone else; look again",
                    f"{ticket.number} 号刚被他人改动，请刷新后再看",
                )
            detail: dict[str, Any] = {
                "position": "end" if position is None else position,
                "was": expect.pop().value,
            }
            self._record(
                tx, ticket, TicketEvent(ticket.id, EventKind.REQUEUED, now, counter.number, staff, detail)
            )
            freed = state.current_ticket_id == ticket.id
            if freed:
                state = replace(state, current_ticket_id=None)
                tx.save_counter_state(state)
            current = tx.get_ticket(state.current_ticket_id) if state.current_ticket_id else None
        if freed:
            self.pace.freed(counter.number, now)
        self.pace.joined(ticket.service, _lag(ticket, now))
        view = self._view_after(counter, state, current)
        self._publish(
            ev.TICKET_CHANGED,
            ticket=ticket.public(),
            event=EventKind.REQUEUED.value,
            counters=[view],
            queue_at=ticket.queue_at.isoformat(),  # its new place: for the other processes' lag
        )
        return ticket

    @staticmethod
    def _requeue_at(tx: StoreTx, ticket: Ticket, position: int | None, now: datetime) -> datetime:
        """The queue time that stands a ticket after ``position`` waiting tickets of its service and priority.

        Between the queue times of the ``position``-th and the next (tickets of
        one issue batch share a time: then just after the ``position``-th's);
        ``None``, or a queue shorter than ``position``: now, the end.
        """
        line = (
            []
            if position is None
            else tx.queue_line(ticket.business_day, ticket.service, ticket.priority, position + 1)
        )
        if position is None or len(line) <= position:
            last = tx.queue_end(ticket.business_day, ticket.service, ticket.priority)
            return now if last is None or last < now else last + TICK
        if position == 0:
            return line[0].queue_at - TICK
        before, after = line[position - 1].queue_at, line[position].queue_at
        gap = after - before
        return before + gap / 2 if gap >= 2 * TICK else before + TICK

    def expire_calls(self, now: datetime | None = None) -> list[Ticket]:
        """Turn calls nobody answered into no-shows, by each service's rule; the tickets turned.

        A called ticket not started ``no_show_after_seconds`` after its last
        call, once ``max_recalls`` recalls were made, becomes ``no_show`` by
        itself and frees its counter. The hub runs this every few seconds;
        tests pass ``now``.
        """
        now = now or self.clock()
        rules = self.hall.rules
        if not rules.watches_calls:
            return []
        day = self.hall.calendar.business_day(now)
        with self.store.read() as reader:
            due = [t for t in reader.called_tickets(day) if self._overdue(t, now)]
        expired = []
        for candidate in due:
            if candidate.counter is None or candidate.counter not in self.hall.counters:
                continue
            counter = self.hall.counter(candidate.counter)
            with self.store.transaction() as tx:
                state = tx.counter_state(counter.number)  # locked first: a recall meanwhile is seen
                ticket = tx.get_ticket(candidate.id)
                if (
                    ticket is None
                    or ticket.status is not TicketStatus.CALLED
                    or not self._overdue(ticket, now)
                ):
                    continue
                called, no_show = {TicketStatus.CALLED}, TicketStatus.NO_SHOW
                state = self._leave_counter(
                    tx, state, ticket, called, no_show, EventKind.NO_SHOW, counter, now, None, {"by": "timer"}
                )
            self.pace.leg_ended(counter.number, ticket.service, now, ticket.called_at)
            self._publish_moved(ticket, EventKind.NO_SHOW, counter, state, None)
            expired.append(ticket)
        return expired

    def at_closing(self, carry_over: bool, now: datetime | None = None) -> list[Ticket]:
        """After a service's closing, its tickets still waiting are carried over or closed; the tickets.

        A service's day is over when its last range of the day has ended and
        the hall's too (:meth:`~server.core.calendar.HallCalendar.day_over`): a
        morning clinic's last patients, or a ticket transferred into a service
        closed that day, wait until the hall closes, where a clerk may still
        call them. Waiting tickets of an earlier business day (the hub was down
        at closing) are handled at once. ``carry_over``: each keeps its number and its place
        (its queue time, before any of the next day's walk-ins) on the business
        day of the service's next opening, whose numbering goes on after the
        highest number carried. Otherwise, or with no opening known, or that day
        gone by already, or its number taken there, the ticket is cancelled
        ``{"by": "closing"}``.
        Tickets at a counter (called, serving) stay the clerk's. The hub runs
        this every half minute (``server/closing.py``); tests pass ``now``.
        """
        now = now or self.clock()
        calendar = self.hall.calendar
        if not calendar.enforce_hours:
            return []
        today = calendar.business_day(now)
        with self.store.read() as reader:
            standing = reader.standing_days(today)
        ended: list[Ticket] = []
        for day, service in standing:
            if day == today and not calendar.day_over(day, service, now):
                continue
            opening = None
            if carry_over:  # the first opening of a later business day
                opening = calendar.opening_from(calendar.day_start(day + timedelta(days=1)), service)
            if opening is not None and calendar.business_day(opening) < today:
                opening = None  # that day has passed too (the hub was down): the tickets are closed
            ended += self._close_queue(day, service, opening, now)
        return ended

    def _close_queue(self, day: date, service: str, opening: datetime | None, now: datetime) -> list[Ticket]:
        """``service``'s waiting tickets of ``day``: carried to ``opening``'s business day, or cancelled."""
        target = self.hall.calendar.business_day(opening) if opening is not None else None
        carried = {"by": "closing", "from_day": day.isoformat()}
        if opening is not None and target is not None:
            carried.update(to_day=target.isoformat(), opens_at=opening.isoformat())
        moved: list[tuple[Ticket, EventKind, dict[str, Any]]] = []
        with self.store.transaction() as tx:
            waiting = tx.standing(day, service)
            taken: set[str] = set()
            if target is not None and waiting:
                tx.seed_seq(service, target, max(t.seq for t in waiting))
                taken = tx.numbers_taken(target, [t.number for t in waiting])
            for ticket in waiting:
                expect = {ticket.status}
                if target is not None and ticket.number not in taken:
                    ticket.business_day = target
                    kind, detail = EventKind.CARRIED_OVER, carried
                else:
                    self._apply(ticket, TicketStatus.CANCELLED, now)
                    kind, detail = EventKind.CANCELLED, {"by": "closing"}
                if tx.claim(ticket, expect):
                    self._record(tx, ticket, TicketEvent(ticket.id, kind, now, detail=detail))
                    moved.append((ticket, kind, detail))
        for ticket, kind, detail in moved:
            self._publish(
                ev.TICKET_CHANGED, ticket=ticket.public(), event=kind.value, counters=[], closing=detail
            )
        return [ticket for ticket, _, _ in moved]

    def _overdue(self, ticket: Ticket, now: datetime) -> bool:
        rules = self.hall.rules.service(ticket.service)
        if rules.no_show_after_seconds is None or ticket.called_at is None:
            return False
        recalls = ticket.call_count - 1
        waited = (now - ticket.called_at).total_seconds()
        # "On my way" after this call: the visitor is coming, so the timer waits once more for them.
        patience = rules.no_show_after_seconds + (
            self.hall.rules.on_my_way_seconds if ticket.on_my_way else 0
        )
        return recalls >= (rules.max_recalls or 0) and waited >= patience

    def journey(self, ticket_id: str) -> tuple[Ticket, list[TicketLeg]]:
        """A ticket and the legs of its journey so far (staff and admins only: legs name staff).

        Read from the kept legs; a ticket without any yet (waiting since issue,
        or older than the legs table) gets them replayed from its event log.
        """
        with self.store.read() as tx:
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"no ticket {ticket_id!r}", "没有这张号票")
            legs = tx.legs(ticket_id)
            if not legs:
                legs = replay(ticket, tx.history(ticket_id), self.hall.targets)
        return ticket, legs

    def evaluate(
        self, counter_number: int, rating: Rating | str, source: str | None = None, reason: str | None = None
    ) -> Ticket:
        """Record the visitor's rating of the service just ended at this counter (the evaluation pad).

        The pad sits at the counter, so the leg it rates is the one that ended
        there last — finished, or served and sent on — within
        ``[satisfaction] pad_window_minutes``. The rating is credited to that
        leg's clerk and counter; each leg is rated once (a second is refused:
        :class:`AlreadyRated`).
        """
        counter = self.hall.counter(counter_number)
        satisfaction = self.hall.satisfaction
        verdict = satisfaction.verdict(str(rating), reason)
        now = self.clock()
        with self.store.transaction() as tx:
            leg = tx.last_rateable_leg(counter.number, now - satisfaction.pad_window)
            if leg is None:
                raise NothingToEvaluate(
                    f"{counter.number} 号窗口刚才没有办结的业务 / "
                    f"counter {counter.number} has finished no service to rate just now"
                )
            ticket = self._rate(tx, leg, verdict, now, source)
        self._publish(ev.TICKET_CHANGED, ticket=ticket.public(), event=EventKind.EVALUATED.value)
        return ticket

    def evaluate_ticket(
        self, ticket_id: str, rating: str, reason: str | None = None, leg: int | None = None
    ) -> tuple[Ticket, TicketLeg]:
        """The visitor rates a service of their ticket from the phone (its id is the key).

        ``leg``: the station rated; absent, the latest one that may be rated.
        Within ``[satisfaction] phone_window_minutes`` of its end, once per leg
        (a leg rated on the pad is rated). Refusals are bilingual.
        """
        satisfaction = self.hall.satisfaction
        verdict = satisfaction.verdict(rating, reason)
        now = self.clock()
        with self.store.transaction() as tx:
            ticket = tx.get_ticket(ticket_id)
            if ticket is None:
                raise UnknownTicket(f"没有这张号票 / no ticket {ticket_id!r}")
            chosen = chosen_leg(tx.legs(ticket_id), leg, now, satisfaction.phone_window)
            ticket = self._rate(tx, chosen, verdict, now, "phone")
            rated = tx.legs(ticket_id)[chosen.leg - 1]
        self._publish(ev.TICKET_CHANGED, ticket=ticket.public(), event=EventKind.EVALUATED.value)
        return ticket, rated

    def evaluation_offer(self, ticket: Ticket) -> TicketLeg | None:
        """The leg the visitor's phone may rate now, if any (``GET /tickets/{id}``).

        A ticket still on its first leg and not finished has nothing to rate:
        no read then, so a phone polling while it waits costs what it did.
        """
        if ticket.leg == 1 and ticket.status is not TicketStatus.DONE:
            return None
        with self.store.read() as tx:
            legs = tx.legs(ticket.id)
        return offer(legs, self.clock(), self.hall.satisfaction.phone_window)

    def _rate(
        self, tx: StoreTx, leg: TicketLeg, verdict: Verdict, now: datetime, source: str | None
    ) -> Ticket:
        """Give ``leg`` its rating, credited to its clerk and counter: the event and the kept leg, once."""
        locked = tx.leg_for_rating(leg.ticket_id, leg.leg)
        if locked is None:
            raise NothingToEvaluate("这一段服务不能评价 / this service cannot be rated")
        if locked.rating is not None:
            raise AlreadyRated("这次服务已经评价过了，谢谢 / this service has been rated already, thank you")
        ticket = tx.get_ticket(leg.ticket_id)
        assert ticket is not None, "a leg's ticket exists (foreign key)"
        # The event names the clerk credited (``staff``) and the leg, so SQL groups by clerk without guessing.
        event = TicketEvent(
            ticket.id,
            EventKind.EVALUATED,
            now,
            locked.counter,
            locked.staff,
            verdict.detail(locked.leg, source),
        )
        self._record(tx, ticket, event, locked)
        return ticket

    def pause(self, counter_number: int, staff: str | None = None, reason: str | None = None) -> CounterState:
        """Stop taking calls: a break of the clerk on post, with its reason; the current ticket stays.

        ``reason``: a code of the site's break reasons (None: the default one).
        Where the hall staffs counters by login, a counter nobody is on post at
        takes no break (:class:`CounterClosed`). A counter on a break already
        stays on that break.
        """
        code = self.hall.break_reason(reason)
        return self._set_status(counter_number, CounterStatus.PAUSED, staff, code)

    def resume(self, counter_number: int, staff: str | None = None) -> CounterState:
        """End the break: the counter takes calls again; the break's length goes to the post log."""
        return self._set_status(counter_number, CounterStatus.OPEN, staff)

    def counter_view(self, counter_number: int) -> dict[str, Any]:
        """One counter's state and current ticket, as the console shows it."""
        counter = self.hall.counter(counter_number)
        # A read: a counter without a row yet is open and idle, which _counter_view shows for None.
        with self.store.read() as tx:
            state = tx.find_counter_state(counter.number)
            current_id = state.current_ticket_id if state else None
            current = {t.id: t for t in tx.tickets_by_id([current_id] if current_id else [])}
        return self._counter_view(counter, state, current)

    # -- staff on post -------------------------------------------------------

    def counter_states(self) -> list[CounterState]:
        """Every counter's state now: who is on post, on which break since when (staff data)."""
        with self.store.read() as tx:
            return tx.counter_states()

    def clerk_on_post(self, counter_number: int) -> str | None:
        """Who acts at the counter from its hardware (a keypad is the console's keys): the clerk on
        post there. Where the hall staffs counters by login and nobody is on post, the counter is
        closed (:class:`CounterClosed`), as the console finds it; a core without logins: nobody."""
        counter = self.hall.counter(counter_number)
        with self.store.read() as tx:
            state = next((s for s in tx.counter_states() if s.number == counter.number), None)
        post = state.post if state is not None else None
        if post is None and self.hall.posts_required:
            raise CounterClosed(
                f"counter {counter.number} is closed: nobody is on post there",
                f"{counter.number} 号窗口未开放：没有工作人员在岗",
            )
        return post

    def post_log(self, since: datetime, until: datetime) -> list[PostEvent]:
        """The post log between two moments (attendance, the day's breaks)."""
        with self.store.read() as tx:
            return tx.post_events(since, until)

    def check_post(self, counter_number: int, username: str, move: bool = False) -> None:
        """Whether ``username`` may go on post at the counter, asked before their login is made: the
        refusals of :meth:`take_post` (which asks again, in its transaction), from a read."""
        counter = self.hall.counter(counter_number)
        with self.store.read() as reader:
            states = reader.counter_states()
        target = next((s for s in states if s.number == counter.number), None)
        elsewhere = [s.number for s in states if s.post == username and s.number != counter.number]
        refusal = _post_refusal(counter.number, target, elsewhere, username, move)
        if refusal is not None:
            raise refusal

    def hand_post(self, counter_number: int, session: str, to_session: str) -> bool:
        """The post held by login ``session`` passes to the same clerk's login ``to_session`` at the
        same counter (a console logged in again): no post ends, nothing is logged."""
        counter = self.hall.counter(counter_number)
        with self.store.transaction() as tx:
            state = tx.counter_state(counter.number)
            if state.post is None or state.post_session != session:
                return False
            tx.save_counter_state(replace(state, post_session=to_session))
        return True

    def take_post(self, counter_number: int, username: str, session: str, move: bool = False) -> PostTaken:
        """Put ``username`` on post at the counter (they logged in at it), held by login ``session``.

        One clerk, one counter: a clerk on post at another counter is refused
        (:class:`OnPostElsewhere`, naming it) unless ``move``, which ends that
        post first (its visitor handed back, see :meth:`end_post`). One counter,
        one clerk: a counter another clerk is on post at is refused
        (:class:`CounterStaffed`). The same clerk logging in again at the same
        counter keeps the post (the new login holds it). Returns the posts the
        move ended, whose logins the caller ends.
        """
        counter = self.hall.counter(counter_number)
        now = self.clock()
        with self.store.read() as reader:
            elsewhere = [
                s.number for s in reader.counter_states() if s.post == username and s.number != counter.number
            ]
        moved: list[_PostEnded] = []
        with self.store.transaction() as tx:
            # Locked in counter order: two logins locking the same counters never wait in a ring.
            states = {n: tx.counter_state(n) for n in sorted({counter.number, *elsewhere})}
            target = states[counter.number]
            others = [s for n, s in states.items() if n != counter.number and s.post == username]
            refusal = _post_refusal(counter.number, target, [o.number for o in others], username, move)
            if refusal is not None:
                raise refusal
            for other in others:
                moved.append(self._end_post_in(tx, other, now, PostEnd.MOVED, now))
            if target.post == username:
                state = replace(target, post_session=session)
                tx.save_counter_state(state)
                return PostTaken(counter.number, [m.as_dict() for m in moved], started=False)
            state = replace(
                target,
                status=CounterStatus.OPEN,
                post=username,
                post_session=session,
                post_since=now,
                break_reason=None,
                break_since=None,
            )
            tx.save_counter_state(state)
            tx.add_post_events(self._post_events(PostKind.POST_START, state, now))
            current = tx.get_ticket(state.current_ticket_id) if state.current_ticket_id else None
        for ended in moved:
            self._publish_post_end(ended)
        self._pace_state(state, now)
        view = self._view_after(counter, state, current)
        self._publish(
            ev.COUNTER_CHANGED, counter=counter.number, counters=[view], post=PostKind.POST_START.value
        )
        return PostTaken(counter.number, [m.as_dict() for m in moved], started=True)

    def end_post(
        self,
        counter_number: int,
        session: str,
        reason: PostEnd,
        *,
        force: bool = False,
        at: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        """Take the clerk off post at the counter, if login ``session`` still holds the post there.

        A clerk's own logout (``reason`` logout) with a visitor called or being
        served at the counter is refused (:class:`TicketAtCounter`) unless
        ``force``. Otherwise, and whenever a post ends any other way (a move, the
        login expired or ended by an admin), the visitor is handed back: one
        called and not come goes back to the queue at the place they had
        (``requeued``), one being served is finished (``finished``); both with
        ``{"by": "post_end"}``. A break ends with the post. ``at``: when the post
        ended (an expired login's expiry; default now). ``by``: who ended it, when
        not the clerk (an admin), kept on the post log's entry in the same
        transaction. Returns whether a post ended.
        """
        counter = self.hall.counter(counter_number)
        now = self.clock()
        with self.store.transaction() as tx:
            state = tx.counter_state(counter.number)
            if state.post is None or state.post_session != session:
                return False  # another login holds it (or nobody): not this login's post to end
            current = tx.get_ticket(state.current_ticket_id) if state.current_ticket_id else None
            if (
                reason is PostEnd.LOGOUT
                and not force
                and current is not None
                and current.status in AT_COUNTER
            ):
                raise TicketAtCounter(
                    f"ticket {current.number} is {current.status.value} at counter {counter.number}: "
                    "finish, transfer or re-queue it first, or log out with 'force' (it is handed back)"
                )
            ended = self._end_post_in(tx, state, now, reason, min(at or now, now), by)
        self._publish_post_end(ended)
        return True

    def _end_post_in(
        self,
        tx: StoreTx,
        state: CounterState,
        now: datetime,
        reason: PostEnd,
        at: datetime,
        by: str | None = None,
    ) -> _PostEnded:
        """End ``state``'s post inside ``tx``: its visitor handed back, its break and the post logged."""
        counter = self.hall.counter(state.number)
        state, ticket, kind = self._hand_back(tx, state, counter, now, reason)
        logged = self._break_ended(state, at, reason.value)
        started = state.post_since or at
        logged += self._post_events(
            PostKind.POST_END,
            state,
            at,
            reason.value,
            {"started_at": started.isoformat(), "seconds": seconds_between(started, at), **_by(by)},
        )
        session = state.post_session or ""
        state = replace(
            state,
            status=CounterStatus.OPEN,
            post=None,
            post_session=None,
            post_since=None,
            break_reason=None,
            break_since=None,
        )
        tx.save_counter_state(state)
        tx.add_post_events(logged)
        return _PostEnded(counter, state, session, reason, ticket, kind, now)

    def _hand_back(
        self, tx: StoreTx, state: CounterState, counter: Counter, now: datetime, reason: PostEnd
    ) -> tuple[CounterState, Ticket | None, EventKind | None]:
        """The visitor at a counter whose post ends: being served, finished; called, back in the queue."""
        ticket = tx.get_ticket(state.current_ticket_id) if state.current_ticket_id else None
        if ticket is None or ticket.status not in AT_COUNTER:
            return state, None, None
        detail: dict[str, Any] = {"by": "post_end", "reason": reason.value}
        if ticket.status is TicketStatus.SERVING:
            done, serving = TicketStatus.DONE, {TicketStatus.SERVING}
            state = self._leave_counter(
                tx, state, ticket, serving, done, EventKind.FINISHED, counter, now, state.post, detail
            )
            return state, ticket, EventKind.FINISHED
        # Called and not come to the desk yet: the visitor keeps the place they had (queue_at stays).
        ticket.status = TicketStatus.WAITING
        ticket.counter = ticket.target_counter = None
        ticket.called_at = ticket.started_at = ticket.finished_at = None
        ticket.call_count = 0
        if not tx.claim(ticket, {TicketStatus.CALLED}):
            raise InvalidTransition(
                f"ticket {ticket.number} was changed by someone else; look again",
                f"{ticket.number} 号刚被他人改动，请刷新后再看",
            )
        detail.update(position="kept", was=TicketStatus.CALLED.value)
        event = TicketEvent(ticket.id, EventKind.REQUEUED, now, counter.number, state.post, detail)
        self._record(tx, ticket, event)
        state = replace(state, current_ticket_id=None)
        return state, ticket, EventKind.REQUEUED

    def _break_ended(self, state: CounterState, at: datetime, by: str) -> list[PostEvent]:
        """The ``break_end`` of the break ``state`` is on (none when it is on none, or nobody is on post)."""
        if state.break_since is None or state.post is None:
            return []
        started = state.break_since
        detail = {"started_at": started.isoformat(), "seconds": seconds_between(started, at), "by": by}
        return self._post_events(PostKind.BREAK_END, state, at, state.break_reason or "", detail)

    def _post_events(
        self,
        kind: PostKind,
        state: CounterState,
        at: datetime,
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> list[PostEvent]:
        """The post log's entry for ``kind`` at ``state``'s counter (none when nobody is on post there:
        a core without logins pauses counters without a clerk)."""
        if state.post is None:
            return []
        day = self.hall.calendar.business_day(at)
        return [PostEvent(kind, at, day, state.post, state.number, reason, detail or {})]

    def _publish_post_end(self, ended: _PostEnded) -> None:
        """One event for a post that ended: the visitor handed back (if any), the closed counter's view.

        The pace model learns it too: a service finished at the post's end is a leg ended, a
        visitor sent back to the queue frees the counter, and the counter is no longer staffed.
        """
        number = ended.counter.number
        if ended.kind is EventKind.FINISHED and ended.ticket is not None:
            self.pace.leg_ended(number, ended.ticket.service, ended.at, ended.ticket.called_at)
        elif ended.kind is EventKind.REQUEUED:
            self.pace.freed(number, ended.at)
        self._pace_state(ended.state, ended.at)
        view = self._view_after(ended.counter, ended.state, None)
        if ended.ticket is not None and ended.kind is not None:
            self._publish(
                ev.TICKET_CHANGED,
                ticket=ended.ticket.public(),
                event=ended.kind.value,
                counters=[view],
                post=PostKind.POST_END.value,
            )
            return
        self._publish(
            ev.COUNTER_CHANGED, counter=ended.counter.number, counters=[view], post=PostKind.POST_END.value
        )

    # -- inside ------------------------------------------------------------

    def _set_status(
        self, counter_number: int, status: CounterStatus, staff: str | None, reason: str | None = None
    ) -> CounterState:
        counter = self.hall.counter(counter_number)
        now = self.clock()
        with self.store.transaction() as tx:
            state = tx.counter_state(counter.number)
            if self.hall.posts_required and state.post is None:
                raise CounterClosed(
                    f"counter {counter.number} is closed: nobody is on post there",
                    f"{counter.number} 号窗口未开放：没有工作人员在岗",
                )
            if state.status is status:  # a second tap, or two tabs: the break (or the work) goes on
                return state
            if status is CounterStatus.PAUSED:
                state = replace(state, status=status, staff=staff, break_reason=reason, break_since=now)
                logged = self._post_events(PostKind.BREAK_START, state, now, reason or "")
            else:
                logged = self._break_ended(state, now, RESUMED)
                state = replace(state, status=status, staff=staff, break_reason=None, break_since=None)
            tx.save_counter_state(state)
            tx.add_post_events(logged)
            current = tx.get_ticket(state.current_ticket_id) if state.current_ticket_id else None
        self._pace_state(state, self.clock())
        view = self._view_after(counter, state, current)
        kind = PostKind.BREAK_START if status is CounterStatus.PAUSED else PostKind.BREAK_END
        self._publish(ev.COUNTER_CHANGED, counter=counter.number, counters=[view], post=kind.value)
        return state

    def _check_calls(self, state: CounterState) -> None:
        """A counter calls only while it is staffed (where that counts) and not on a break."""
        if self.hall.posts_required and state.post is None:
            raise CounterClosed(
                f"counter {state.number} is closed: nobody is on post there",
                f"{state.number} 号窗口未开放：没有工作人员在岗",
            )
        if state.status is CounterStatus.PAUSED:
            raise CounterPaused(
                f"counter {state.number} is paused", f"{state.number} 号窗口正在暂停服务，请先恢复服务"
            )

    def _move(
        self,
        counter_number: int,
        expect: frozenset[TicketStatus] | set[TicketStatus],
        to: TicketStatus,
        kind: EventKind,
        staff: str | None,
    ) -> Ticket:
        counter = self.hall.counter(counter_number)
        now = self.clock()
        with self.store.transaction() as tx:
            state, ticket = self._current(tx, counter.number, expect)
            if to in AT_COUNTER:
                self._apply(ticket, to, now, staff)
                self._write(tx, ticket, expect, kind, counter, now, staff)
            else:
                state = self._leave_counter(tx, state, ticket, expect, to, kind, counter, now, staff)
        if to not in AT_COUNTER:
            self.pace.leg_ended(counter.number, ticket.service, now, ticket.called_at)
        elif to is TicketStatus.SERVING:
            self.pace.started(counter.number, now)
        self._publish_moved(ticket, kind, counter, state, ticket if to in AT_COUNTER else None)
        return ticket

    def _leave_counter(
        self,
        tx: StoreTx,
        state: CounterState,
        ticket: Ticket,
        expect: frozenset[TicketStatus] | set[TicketStatus],
        to: TicketStatus,
        kind: EventKind,
        counter: Counter,
        now: datetime,
        staff: str | None,
        detail: dict[str, Any] | None = None,
    ) -> CounterState:
        """The counter's ticket goes to ``to`` and leaves it: its event, and the counter freed
        (if it still holds that ticket). The counter's new state."""
        self._apply(ticket, to, now, staff)
        self._write(tx, ticket, expect, kind, counter, now, staff, detail)
        if state.current_ticket_id == ticket.id:
            state = replace(state, current_ticket_id=None)
            tx.save_counter_state(state)
        return state

    def _publish_moved(
        self, ticket: Ticket, kind: EventKind, counter: Counter, state: CounterState, current: Ticket | None
    ) -> None:
        """``ticket_changed`` for a ticket moved at ``counter``, with the counter's view after it."""
        view = self._view_after(counter, state, current)
        self._publish(ev.TICKET_CHANGED, ticket=ticket.public(), event=kind.value, counters=[view])

    @staticmethod
    def _apply(ticket: Ticket, to: TicketStatus, now: datetime, staff: str | None = None) -> None:
        ticket.status = to
        if to is TicketStatus.SERVING:
            ticket.started_at = now
            # 首问负责: whoever first served the visitor owns the case, through every transfer.
            ticket.owner = ticket.owner or staff
        elif to in FINAL:
            ticket.finished_at = now

    def _current(
        self, tx: StoreTx, counter_number: int, expect: frozenset[TicketStatus] | set[TicketStatus]
    ) -> tuple[CounterState, Ticket]:
        """The counter's state and its current ticket, which must be in one of ``expect``."""
        state = tx.counter_state(counter_number)
        ticket = tx.get_ticket(state.current_ticket_id) if state.current_ticket_id else None
        if ticket is None:
            raise InvalidTransition(
                f"counter {counter_number} has no current ticket", f"{counter_number} 号窗口当前没有号票"
            )
        if ticket.status not in expect:
            allowed = ", ".join(sorted(s.value for s in expect))
            raise InvalidTransition(
                f"ticket {ticket.number} is {ticket.status.value}; this needs {allowed}",
                f"{ticket.number} 号{status_zh(ticket.status)}，不能进行此操作",
            )
        return state, ticket

    def _write(
        self,
        tx: StoreTx,
        ticket: Ticket,
        expect: frozenset[TicketStatus] | set[TicketStatus],
        kind: EventKind,
        counter: Counter,
        now: datetime,
        staff: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        if not tx.claim(ticket, expect):
            raise InvalidTransition(
                f"ticket {ticket.number} was changed by someone else; look again",
                f"{ticket.number} 号刚被他人改动，请刷新后再看",
            )
        self._record(tx, ticket, TicketEvent(ticket.id, kind, now, counter.number, staff, detail or {}))

    def _record(self, tx: StoreTx, ticket: Ticket, event: TicketEvent, leg: TicketLeg | None = None) -> None:
        """Append ``event`` to the log and keep the journey's legs in step, in the same transaction.

        ``leg``: the leg the event belongs to, when the caller has it (a transfer
        has already moved the ticket on). The leg's wait and service are judged
        by the site's targets as the event decides them.
        """
        tx.add_event(event)
        leg = leg or tx.current_leg(ticket.id) or opening_leg(ticket)
        changed = advance(leg, event, self.hall.targets)
        if changed:
            tx.save_legs(changed)

    def _release_current(
        self, tx: StoreTx, state: CounterState, now: datetime, staff: str | None
    ) -> Ticket | None:
        """End the counter's current ticket before it calls another (呼叫下一位 ends the last).

        A visitor being served is finished. A visitor called but never started
        did not come: never ``done`` (served counts would lie), but a no-show,
        or the call is refused, as the site says (``[calls]
        on_call_next_while_called``). Returns the ticket ended, which the
        call's one event carries as ``finished``.
        """
        if not state.current_ticket_id:
            return None
        ticket = tx.get_ticket(state.current_ticket_id)
        if ticket is None or ticket.status not in AT_COUNTER:
            return None
        counter = self.hall.counter(state.number)
        if ticket.status is TicketStatus.CALLED:
            if self.hall.rules.on_call_next_while_called == "refuse":
                raise VisitorNotStarted(
                    f"ticket {ticket.number} was called but not started: "
                    "start it, mark it a no-show or re-queue it"
                )
            self._apply(ticket, TicketStatus.NO_SHOW, now)
            self._write(tx, ticket, AT_COUNTER, EventKind.NO_SHOW, counter, now, staff, {"by": "call_next"})
            return ticket
        self._apply(ticket, TicketStatus.DONE, now)
        self._write(tx, ticket, AT_COUNTER, EventKind.FINISHED, counter, now, staff, {"by": "call_next"})
        return ticket

    def _claim_call(
        self, tx: StoreTx, ticket: Ticket, counter: Counter, now: datetime, staff: str | None
    ) -> bool:
        expect = {ticket.status}
        ticket.status = TicketStatus.CALLED
        ticket.counter = counter.number
        ticket.target_counter = None
        ticket.called_at = now
        ticket.call_count += 1
        if not tx.claim(ticket, expect, calling=True):
            return False
        self._record(tx, ticket, TicketEvent(ticket.id, EventKind.CALLED, now, counter.number, staff))
        return True

    def _announce_call(
        self,
        ticket: Ticket,
        counter: Counter,
        recall: bool,
        view: dict[str, Any],
        finished: Ticket | None = None,
        name: str | None = None,
    ) -> None:
        """One event for the call: the ticket, where to go, the counter's new state, the finished ticket.

        ``name``: the booked name, masked (张*明), where the site calls by name; it is on the
        event (``name``, and the ``call`` entry) only then.
        """
        kind = ev.TICKET_RECALLED if recall else ev.TICKET_CALLED
        service = self.hall.services.get(ticket.service)
        public = ticket.public()
        self._publish(
            kind,
            ticket=public,
            counter={"number": counter.number, "name_zh": counter.name_zh, "name_en": counter.name_en},
            service={
                "code": ticket.service,
                "name_zh": service.name_zh if service else "",
                "name_en": service.name_en if service else "",
            },
            recall=recall,
            counters=[view],
            call={
                "ticket_id": ticket.id,
                "number": ticket.number,
                "service": ticket.service,
                "counter": counter.number,
                "at": public["called_at"],
                "recall": recall,
                "priority": public["priority"],
                "appointment": public["appointment"],
                **_name(name),
            },
            **_name(name),
            **_finished(finished),
            **_templates(self.hall.rules.call_templates(ticket.service, counter.kind)),
        )

    def _called_name(self, tx: StoreReader, ticket: Ticket | None) -> str | None:
        """The masked name booked for a called appointment ticket, where the site calls by name.

        One primary-key read in the call's own transaction, and only for an
        appointment's ticket at a site that calls by name; the raw name never
        leaves this method.
        """
        if ticket is None or not ticket.appointment:
            return None
        return self._masked_names(tx, [ticket.appointment]).get(ticket.appointment)

    def _masked_names(self, tx: StoreReader, appointment_ids: Sequence[str | None]) -> dict[str, str]:
        """Masked booked names by appointment id (nothing at a site that does not call by name)."""
        ids = {i for i in appointment_ids if i}
        if not self.hall.call_by_name or not ids:
            return {}
        masked = {key: mask_name(raw) for key, raw in tx.booked_names(ids).items()}
        return {key: name for key, name in masked.items() if name}

    def _view_after(self, counter: Counter, state: CounterState, current: Ticket | None) -> dict[str, Any]:
        """A counter's view from what a transaction just wrote: the event carries it, no read needed."""
        return self._counter_view(counter, state, {current.id: current} if current else {})

    def _counter_view(
        self, counter: Counter, state: CounterState | None, current: Mapping[str, Ticket]
    ) -> dict[str, Any]:
        ticket = current.get(state.current_ticket_id) if state and state.current_ticket_id else None
        return {
            "number": counter.number,
            "name_zh": counter.name_zh,
            "name_en": counter.name_en,
            "services": list(counter.services),
            "status": self._shown(state).value,
            "current": ticket.public() if ticket and ticket.status in AT_COUNTER else None,
        }

    def _shown(self, state: CounterState | None) -> CounterStatus:
        """What every screen shows of a counter: closed, paused or open (no row yet: nobody on post)."""
        if state is None:
            return CounterStatus.CLOSED if self.hall.posts_required else CounterStatus.OPEN
        return state.shown(self.hall.posts_required)

    def _publish(self, event: str, /, **payload: Any) -> None:
        self.bus.publish(HallEvent(event, payload))

    # -- the estimated wait ------------------------------------------------------

    def _pace_state(self, state: CounterState, now: datetime) -> None:
        self.pace.counter_set(state.number, state.status is CounterStatus.OPEN, self._staffed(state), now)

    def _staffed(self, state: CounterState) -> bool:
        """Whether the pace model counts a counter as staffed: a clerk on post there, where the hall
        staffs counters by login; elsewhere (a core without logins) once someone acted there."""
        if self.hall.posts_required:
            return state.post is not None
        return state.staff is not None

    def _pace_call(
        self,
        state: CounterState,
        now: datetime,
        called: Ticket | None,
        finished: Ticket | None,
        stood: bool,
    ) -> None:
        """Tell the pace model what a committed call did: the leg it ended, the clerk, the leg it began;
        ``stood``: whether a walk-in of the called ticket's service was waiting (``stood_in_line``)."""
        if finished is not None:
            self.pace.leg_ended(state.number, finished.service, now, finished.called_at)
        self._pace_state(state, now)
        if called is not None:
            self.pace.called(state.number, called.service, now, stood, carried=called.leg > 1)

    def estimate(self, ticket: Ticket, ahead: int) -> int | None:
        """A waiting ticket's estimated wait now, in minutes: its place now and the pace now."""
        if ticket.status not in CALLABLE:
            return None
        seconds = self.pace.wait_seconds(
            ticket.service, ahead, self.clock(), priority=ticket.priority, due_at=ticket.due_at
        )
        return minutes(seconds)

    def newcomer_estimate(
        self, service: str, waiting: int, by_service: Mapping[str, int] | None = None
    ) -> int | None:
        """The wait, in minutes, of a visitor who took a ticket of ``service`` now (the lobby's figure);
        ``by_service``: how many wait for each service (a shared counter first empties the queues it
        prefers)."""
        now = self.clock()
        seconds = self.pace.wait_seconds(
            service, waiting, now, waiting=by_service, arrivals_end=self._arrivals_end(now)
        )
        return minutes(seconds)

    def warm_pace(self, days: int = 7, limit: int = 5000) -> int:
        """Teach the pace model the legs of the last ``days`` days and the counters' states (at start).

        One read of at most ``limit`` legs; returns how many it learnt from.
        """
        now = self.clock()
        since = self.hall.calendar.business_day(now) - timedelta(days=days)
        with self.store.read() as tx:
            legs = tx.recent_legs(since, limit)
            states = tx.counter_states()
        known = [
            (s.number, s.status is CounterStatus.OPEN, self._staffed(s), s.current_ticket_id is not None)
            for s in states
        ]
        return self.pace.warm(legs, known, now)


def jumped(ticket: Ticket) -> bool:
    """Whether a called ticket went before people who stood in line before it: a priority of its own,
    an appointment, a transfer keeping its place in time."""
    return ticket.priority > 0 or ticket.appointment is not None or ticket.leg > 1


def stood_in_line(called: Ticket | None, heads: Sequence[Ticket]) -> bool:
    """Whether a walk-in of the called ticket's service was waiting at the call (among the heads the
    policy chose from, the called one included): only such calls say how often a waiting visitor
    is overtaken. A call of a walk-in counts (it is one a newcomer waits for); a priority called
    while no walk-in waits does not (it kept nobody waiting)."""
    if called is None:
        return False
    return any(h.service == called.service and not jumped(h) for h in heads)


def _lag(ticket: Ticket, now: datetime) -> float | None:
    """How far back in the queue's time a ticket joining it now takes its place (seconds; None: before
    every walk-in): :func:`~server.core.estimate.join_lag` of the ticket as this process holds it, the
    same rule the other processes of a cluster apply to the event they hear (server/cluster.py)."""
    return join_lag(
        now,
        ticket.queue_at,
        priority=ticket.priority > 0,
        appointment=ticket.appointment is not None,
        sent_to_counter=ticket.target_counter is not None,
    )


def _booked(request: IssueRequest) -> bool:
    """A check-in for a booked slot (not a late visitor's walk-in): open hours, no walk-in cap."""
    return request.appointment is not None and request.appointment.due_at is not None


def _by(actor: str | None) -> dict[str, Any]:
    """``by=<actor>`` on a post log entry made by someone other than the clerk (an admin)."""
    return {"by": actor} if actor else {}


def _templates(templates: dict[str, str]) -> dict[str, Any]:
    """``templates={lang: words}`` for a call whose service or counter kind has its own phrasing."""
    return {"templates": templates} if templates else {}


def _name(masked: str | None) -> dict[str, Any]:
    """``name=<masked name>`` for a call by name (张*明); nothing without one."""
    return {"name": masked} if masked else {}


def _finished(ticket: Ticket | None) -> dict[str, Any]:
    """``finished=<ticket>`` for an event whose action also ended the counter's last service."""
    return {"finished": ticket.public()} if ticket is not None else {}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
