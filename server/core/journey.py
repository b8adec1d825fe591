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

A rating (``evaluated``) belongs to the leg it rates (``detail.leg``), which
is not always the current one: a visitor sent on to the cashier may still rate
the clerk who served them first. The leg keeps the verdict as given (level,
score, satisfied or not, reason), so statistics group ratings by clerk and
counter from the leg alone (server.core.satisfaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from .model import EventKind, LegOutcome, Ticket, TicketEvent


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
    #: The visitor's rating of this station (server.core.satisfaction), as it was when given:
    #: the level, its score (0–100), whether it counted as satisfied, the reason on a low one.
    rating: str | None = None
    rating_score: int | None = None
    rating_satisfied: bool | None = None
    rating_reason: str | None = None
    rated_at: datetime | None = None
    #: Whole seconds waited (queue → first call) and served (start → end of the leg), truncated
    #: toward zero; None until there is one. Kept with the leg so statistics sort integers.
    wait_seconds: int | None = None
    service_seconds: int | None = None

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


def advance(leg: TicketLeg, event: TicketEvent) -> list[TicketLeg]:
    """The legs ``event`` changes, as they are after it.

    [] (nothing moves), [leg], or [closed, next] for a transfer.
    """
    return [_timed(changed) for changed in _advance(leg, event)]


def whole_seconds(delta: timedelta) -> int:
    """A duration in whole seconds, truncated toward zero, from exact microseconds (no float)."""
    micros = delta // timedelta(microseconds=1)
    return micros // 1_000_000 if micros >= 0 else -(-micros // 1_000_000)


def _timed(leg: TicketLeg) -> TicketLeg:
    """The leg with its waiting and service seconds worked out from its own times."""
    wait = whole_seconds(leg.called_at - leg.queued_at) if leg.called_at is not None else None
    served = (
        whole_seconds(leg.finished_at - leg.started_at)
        if leg.started_at is not None and leg.finished_at is not None
        else None
    )
    if (wait, served) == (leg.wait_seconds, leg.service_seconds):
        return leg
    return replace(leg, wait_seconds=wait, service_seconds=served)


def _advance(leg: TicketLeg, event: TicketEvent) -> list[TicketLeg]:
    kind = event.kind
    if kind is EventKind.CALLED:
        return [
            replace(
                leg,
                counter=event.counter,
                staff=event.staff or leg.staff,
                called_at=leg.called_at or event.at,
                calls=leg.calls + 1,
                finished_at=None,
                outcome=None,
            )
        ]
    if kind is EventKind.RECALLED:
        return [replace(leg, calls=leg.calls + 1)]
    if kind is EventKind.STARTED:
        return [replace(leg, started_at=event.at, staff=event.staff or leg.staff)]
    if kind in _CLOSING:
        return [replace(leg, finished_at=event.at, outcome=_CLOSING[kind])]
    if kind is EventKind.REQUEUED:
        return [replace(leg, counter=None, finished_at=None, outcome=None)]
    if kind is EventKind.TRANSFERRED:
        closed = replace(leg, finished_at=event.at, outcome=LegOutcome.TRANSFERRED)
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


def replay(ticket: Ticket, history: Sequence[TicketEvent]) -> list[TicketLeg]:
    """Every leg of ``ticket`` rebuilt from its event log alone."""
    transfers = [e for e in history if e.kind is EventKind.TRANSFERRED]
    first_service = (
        str(transfers[0].detail.get("from_service") or ticket.service) if transfers else ticket.service
    )
    issued = next((e.at for e in history if e.kind is EventKind.ISSUED), ticket.issued_at)
    legs = [TicketLeg(ticket.id, 1, ticket.business_day, first_service, issued)]
    for event in history:
        for changed in advance(_leg_of(legs, event), event):
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
