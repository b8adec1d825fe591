"""The supervisor's screen, the hub's side: read the hall for the view, and keep the open pages fed.

:func:`supervisor_view` reads what :func:`server.core.supervision.view` needs in
one read of the store (the waiting tickets and their legs, the counters, their
tickets) plus the rota, the pace model and the device board, all at the hub's
clock. ``GET /api/v1/supervisor`` answers it; :class:`SupervisorFeed` sends it
to the ``supervisors`` room.

The feed costs nothing while nobody has the page open: its task starts with
the first page, and a hall event or a device's new state only sets a flag when
the room is empty. With pages open, a burst of events costs one view per
:data:`GAP` seconds, however many came: the view is a small snapshot (tens of
counters and services, the alerts), so it is sent whole instead of as deltas,
and a page that missed one loses nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from .core import case_codes
from .core.case_book import CaseBook
from .core.cases import ALL_CASES, Case
from .core.journey import opening_leg
from .core.model import AT_COUNTER
from .core.rota import compare
from .core.supervision import AtCounter, CaseDue, DeviceState, HallNow, WaitingTicket, view
from .core.targets import due_at
from .hub import Hub

log = logging.getLogger(__name__)

#: The event that carries the view to the supervisors' pages.
SUPERVISOR = "supervisor"
#: Seconds a burst of events gathers before the view is read again (one read per gap at most).
GAP = 0.25


def supervisor_view(hub: Hub) -> dict[str, Any]:
    """The supervisor's view now (docs/contract.md, "Supervisor")."""
    return view(hub.core.hall, hall_now(hub))


def hall_now(hub: Hub) -> HallNow:
    """Read the hall for the supervisor's view: one store read, the rota, the pace model, the devices."""
    core = hub.core
    hall = core.hall
    now = hub.clock()
    day = hall.calendar.business_day(now)
    queues = {s["code"]: s for s in core.service_queues()["services"]}
    with core.store.read() as tx:
        standing = [t for code in hall.services for t in tx.standing(day, code)]
        legs = tx.current_legs([t.id for t in standing])
        states = tx.counter_states()
        at_counters = tx.tickets_by_id([s.current_ticket_id for s in states if s.current_ticket_id])
    waiting = []
    for ticket in standing:
        leg = legs.get(ticket.id)
        if leg is None or leg.leg != ticket.leg:
            leg = opening_leg(ticket)
        target = hall.targets.of(ticket.service).wait
        due = due_at(leg.queued_at if leg.called_at is None else None, target)
        waiting.append(WaitingTicket(ticket.number, ticket.service, leg.queued_at, due))
    tickets = {t.id: t for t in at_counters if t.status in AT_COUNTER}
    current = {}
    for state in states:
        there = tickets.get(state.current_ticket_id or "")
        if there is not None:
            began = there.started_at or there.called_at
            target = hall.targets.of(there.service).service
            current[state.number] = AtCounter(there.number, there.service, due_at(began, target))
    free_since = {}
    for number in hall.counters:
        pace = core.pace.counter(number)
        free_since[number] = pace.free_since if pace else None
    hhmm = hall.calendar.local(now).strftime("%H:%M")
    return HallNow(
        now=now,
        queues=queues,
        waiting=waiting,
        states=states,
        staffing=compare(hall.counters, hub.rota.day(day), states, hhmm),
        current=current,
        free_since=free_since,
        # A page under a name the site file lacks is the admin's to sort out, not the floor's alert.
        devices=[_device(d) for d in hub.devices.all() if d.get("configured", True)],
        **_cases(hub),
    )


def _cases(hub: Hub) -> dict[str, Any]:
    """How many cases are overdue, the oldest of them and the one whose step ends next, as the
    supervisor's alert reads them (a count and two rows, however many cases are open); nothing when
    the site has no kinds of case."""
    book = hub.cases
    if not book.kinds:
        return {}
    count, oldest, following = book.due_now(ALL_CASES)
    return {
        "cases_overdue_count": count,
        "case_oldest": _case_due(book, oldest) if oldest is not None else None,
        "case_next": _case_due(book, following) if following is not None else None,
    }


def _case_due(book: CaseBook, case: Case) -> CaseDue | None:
    active = case.active
    if active is None or active.due_at is None or active.due_on is None:
        return None
    kind = book.kind_of(case)
    return CaseDue(
        case_codes.shown(case.code),
        kind.name_zh if kind else case.kind,
        kind.name_en if kind else case.kind,
        active.name_zh,
        active.name_en,
        active.owner,
        active.due_on,
        active.due_at,
    )


def _device(status: dict[str, Any]) -> DeviceState:
    return DeviceState(
        status["name"],
        status["kind"],
        status["state"],
        datetime.fromisoformat(status["since"]),
        bool(status["healthy"]),
    )


class SupervisorFeed:
    """Sends the supervisor's view to the ``supervisors`` room after hall events and device changes.

    ``emit(event, payload, to)`` is the Socket.IO server's; ``spawn`` starts its
    task (once, with the first page); ``sleep`` is the loop's.
    """

    def __init__(self, hub: Hub, emit: Any, spawn: Any, sleep: Any, room: str) -> None:
        self.hub = hub
        self._emit = emit
        self._spawn = spawn
        self._sleep = sleep
        self.room = room
        self._sids: set[str] = set()
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._started = False

    @property
    def watching(self) -> int:
        """How many supervisor pages are open."""
        return len(self._sids)

    def join(self, sid: str) -> None:
        """A page joined the room: start the task if it is the first ever, send it the view now."""
        with self._lock:
            self._sids.add(sid)
            start = not self._started
            self._started = True
        if start:
            self._spawn(self._run)
        self.send_to(sid)

    def leave(self, sid: str) -> None:
        with self._lock:
            self._sids.discard(sid)

    def holds(self, sid: str) -> bool:
        return sid in self._sids

    def send_to(self, sid: str) -> None:
        """The view to one page (on joining, or when it asks again)."""
        self._emit(SUPERVISOR, supervisor_view(self.hub), sid)

    def poke(self, *_args: Any) -> None:
        """Something changed (a hall event, a device's state): a new view soon, if anyone looks."""
        if self._sids:
            self._wanted.set()

    def _run(self) -> None:
        while not self.hub.closed:
            self._wanted.wait()
            self._sleep(GAP)
            self._wanted.clear()
            if not self._sids:
                continue
            try:
                self._emit(SUPERVISOR, supervisor_view(self.hub), self.room)
            except Exception:  # a store hiccup: the next event (or the page's own refresh) tries again
                log.exception("the supervisor's view could not be read")
