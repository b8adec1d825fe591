"""A ticket's journey: the legs (stations) it went through, kept as a view of its event log.

One ticket is carried through stations (挂号 → 就诊 → 收费 → 取药; 业扩受理 →
勘查 → 缴费). Each station is a *leg* with its own service, counter, staff,
times and calls, so every station's report is right. The event log
(:class:`~server.core.model.TicketEvent`) stays the truth: :func:`advance`
folds one event into the current leg, the core writes the result in the same
transaction as the event, and :func:`replay` rebuilds every leg from the log
alone (a test checks both agree).

Leg 1 gets its row with the first event after issue (a call, a cancel), not
at issue: the kiosk's hot path writes nothing more than it did.

Each leg also keeps how long its wait and its service took and whether they
met the service's targets (:mod:`server.core.targets` says what is measured):
the event that decides one (the first call, the end) writes it. The
statistics (server/store/stats.py) read the same two durations.

A rating (``evaluated``) belongs to the leg it rates (``detail.leg``), which
is not always the current one: a visitor sent on to the cashier may still rate
the clerk who served them first. The leg keeps the verdict as given (level,
score, satisfied or not, reason), so statistics group ratings by clerk and
counter from the leg alone (server.core.satisfaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from .model import EventKind, LegOutcome, Ticket, TicketEvent
from .targets import NO_RULES, TargetRules, Targets, gave_up, judged


@dataclass(frozen=True)
class TicketLeg:
    """One station of a ticket's journey."""

    ticket_id: str
    leg: int
    business_day: date
    service: str
    #: When the ticket began to wait for this station (issue, or the transfer that sent it here).
    queued_at: datetime
    #: Whether a transfer sent the ticket here (leg 1 never).
    transfer: bool = False
    counter: int | None = None
    staff: str | None = None
    #: The first call of this leg; recalls count in ``calls``.
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    calls: int = 0
    #: None while the leg is open.
    outcome: LegOutcome | None = None
    #: The leg's latest call or recall: a service never started is measured from it.
    last_called_at: datetime | None = None
    #: Seconds from ``queued_at`` to the first call (or to the end of a leg never called).
    wait_seconds: float | None = None
    #: Whether the wait met the service's target; None: no target, or not judged (yet).
    wait_met: bool | None = None
    #: Seconds from the start (or the last call, never started) to the end of a service given.
    service_seconds: float | None = None
    service_met: bool | None = None
    #: The visitor's rating of this station (server.core.satisfaction), as it was when given:
    #: the level, its score (0–100), whether it counted as satisfied, the reason on a low one.
    rating: str | None = None
    rating_score: int | None = None
    rating_satisfied: bool | None = None
    rating_reason: str | None = None
    rated_at: datetime | None = None

    def staff_view(self) -> dict[str, Any]:
        """The leg as staff and admins read it (it names staff: never on a public screen)."""
        return {
            "leg": self.leg,
            "service": self.service,
            "counter": self.counter,
            "staff": self.staff,
            "queued_at": _iso(self.queued_at),
            "called_at": _iso(self.called_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "calls": self.calls,
            "outcome": self.outcome.value if self.outcome else None,
            "transfer": self.transfer,
            "last_called_at": _iso(self.last_called_at),
            "wait_seconds": self.wait_seconds,
            "wait_met": self.wait_met,
            "service_seconds": self.service_seconds,
            "service_met": self.service_met,
            "rating": self.rating,
            "rating_reason": self.rating_reason,
        }


def opening_leg(ticket: Ticket) -> TicketLeg:
    """The leg a ticket is on when it has no row yet: leg 1 from its issue (or, for a ticket
    older than the legs table, its current leg from its queue time)."""
    return TicketLeg(
        ticket_id=ticket.id,
        leg=ticket.leg,
        business_day=ticket.business_day,
        service=ticket.service,
        queued_at=ticket.issued_at if ticket.leg == 1 else ticket.queue_at,
        transfer=ticket.leg > 1,
    )


#: The verdict of a rating recorded before ratings carried their score (migration 0015 keeps the
#: same numbers): the three levels of the pads of that time, the top two satisfied.
LEGACY_VERDICTS: dict[str, tuple[int, bool]] = {
    "very_satisfied": (100, True),
    "satisfied": (80, True),
    "dissatisfied": (0, False),
}

_CLOSING = {
    EventKind.FINISHED: LegOutcome.DONE,
    EventKind.NO_SHOW: LegOutcome.NO_SHOW,
    EventKind.CANCELLED: LegOutcome.CANCELLED,
}


def advance(leg: TicketLeg, event: TicketEvent, targets: TargetRules = NO_RULES) -> list[TicketLeg]:
    """The legs ``event`` changes, as they are after it.

    [] (nothing moves), [leg], or [closed, next] for a transfer. ``targets``:
    the site's, by which the first call judges the wait and the end the service.
    """
    kind = event.kind
    promise = targets.of(leg.service)
    if kind is EventKind.CALLED:
        called = replace(
            leg,
            counter=event.counter,
            staff=event.staff or leg.staff,
            called_at=leg.called_at or event.at,
            last_called_at=event.at,
            calls=leg.calls + 1,
            finished_at=None,
            outcome=None,
        )
        if leg.called_at is None:  # the first call ends the wait (a re-queued leg's second does not)
            wait = judged(event.at - leg.queued_at, promise.wait)
            called = replace(called, wait_seconds=wait.seconds, wait_met=wait.met)
        return [called]
    if kind is EventKind.RECALLED:
        return [replace(leg, calls=leg.calls + 1, last_called_at=event.at)]
    if kind is EventKind.STARTED:
        return [replace(leg, started_at=event.at, staff=event.staff or leg.staff)]
    if kind in _CLOSING:
        return [_ended(replace(leg, finished_at=event.at, outcome=_CLOSING[kind]), promise)]
    if kind is EventKind.REQUEUED:
        return [
            replace(leg, counter=None, finished_at=None, outcome=None, service_seconds=None, service_met=None)
        ]
    if kind is EventKind.TRANSFERRED:
        closed = _ended(replace(leg, finished_at=event.at, outcome=LegOutcome.TRANSFERRED), promise)
        following = TicketLeg(
            ticket_id=leg.ticket_id,
            leg=leg.leg + 1,
            business_day=leg.business_day,
            service=str(event.detail.get("to_service") or leg.service),
            queued_at=event.at,
            transfer=True,
        )
        return [closed, following]
    if kind is EventKind.EVALUATED:
        return _rated(leg, event)
    return []  # issued: the journey does not move


def _rated(leg: TicketLeg, event: TicketEvent) -> list[TicketLeg]:
    """The leg with the rating an ``evaluated`` event gave it (``detail.leg``; absent, the leg given)."""
    detail = event.detail
    rating = detail.get("rating")
    if not isinstance(rating, str) or detail.get("leg", leg.leg) != leg.leg:
        return []
    legacy = LEGACY_VERDICTS.get(rating, (None, None))
    score = detail.get("score", legacy[0])
    satisfied = detail.get("satisfied", legacy[1])
    reason = detail.get("reason")
    return [
        replace(
            leg,
            rating=rating,
            rating_score=score,
            rating_satisfied=satisfied,
            rating_reason=reason if isinstance(reason, str) else None,
            rated_at=event.at,
        )
    ]


#: How a leg may end after a service was given (a cancel counts only once the service started).
_SERVED = frozenset({LegOutcome.DONE, LegOutcome.TRANSFERRED})


def _ended(leg: TicketLeg, promise: Targets) -> TicketLeg:
    """A leg just closed, with its wait judged if no call ended it and its service, if one was given."""
    end = leg.finished_at
    assert end is not None, "a closed leg has its end"
    if leg.called_at is None and leg.wait_seconds is None:
        wait = gave_up(end - leg.queued_at, promise.wait)
        leg = replace(leg, wait_seconds=wait.seconds, wait_met=wait.met)
    began = leg.started_at or leg.last_called_at or leg.called_at
    served = leg.outcome in _SERVED or (leg.outcome is LegOutcome.CANCELLED and leg.started_at is not None)
    if not served or began is None:
        return replace(leg, service_seconds=None, service_met=None)
    service = judged(end - began, promise.service)
    return replace(leg, service_seconds=service.seconds, service_met=service.met)


def replay(
    ticket: Ticket, history: Sequence[TicketEvent], targets: TargetRules = NO_RULES
) -> list[TicketLeg]:
    """Every leg of ``ticket`` rebuilt from its event log alone (judged by ``targets``)."""
    transfers = [e for e in history if e.kind is EventKind.TRANSFERRED]
    first_service = (
        str(transfers[0].detail.get("from_service") or ticket.service) if transfers else ticket.service
    )
    issued = next((e.at for e in history if e.kind is EventKind.ISSUED), ticket.issued_at)
    legs = [TicketLeg(ticket.id, 1, ticket.business_day, first_service, issued)]
    for event in history:
        for changed in advance(_leg_of(legs, event), event, targets):
            if changed.leg <= len(legs):
                legs[changed.leg - 1] = changed
            else:
                legs.append(changed)
    return legs


def _leg_of(legs: list[TicketLeg], event: TicketEvent) -> TicketLeg:
    """The leg an event folds into: a rating names its leg; every other event moves the current one."""
    if event.kind is EventKind.EVALUATED:
        asked = event.detail.get("leg")
        if isinstance(asked, int) and 1 <= asked <= len(legs):
            return legs[asked - 1]
    return legs[-1]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
