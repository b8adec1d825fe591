"""How right the estimated wait was: the estimate given at issue against the real wait.

The real wait is the time from issue to the ticket's first call (its first
leg's ``called_at`` in ``ticket_legs``); only tickets that were called and
got an estimate count (a ticket issued with no counter open has none, one
that was cancelled or never called has no real wait). Figures per service
and for all of them: the mean absolute error in minutes and the share within
±5 minutes. Read from the store, nothing kept twice; both databases alike
(the arithmetic is done here, not in SQL, whose date arithmetic differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, and_, select

from .schema import ticket_legs, tickets
from .sql import read_only

#: An estimate this close to the real wait (either way) counts as right.
WITHIN_SECONDS = 300


@dataclass(frozen=True)
class Accuracy:
    """One service's (or the hall's) estimate error over a range of days."""

    service: str | None
    tickets: int
    #: Mean absolute error, seconds.
    mean_abs_error_seconds: float | None
    #: Share of tickets whose estimate was within ±5 minutes of the real wait.
    within_5_minutes: float | None
    #: Mean of (estimate − real wait), seconds: positive when the estimate was too long.
    mean_error_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        def minutes(seconds: float | None) -> float | None:
            return None if seconds is None else round(seconds / 60, 2)

        return {
            "service": self.service,
            "tickets": self.tickets,
            "mean_abs_error_minutes": minutes(self.mean_abs_error_seconds),
            "within_5_minutes": None if self.within_5_minutes is None else round(self.within_5_minutes, 4),
            "mean_error_minutes": minutes(self.mean_error_seconds),
        }


def _accuracy(service: str | None, errors: list[float]) -> Accuracy:
    if not errors:
        return Accuracy(service, 0, None, None, None)
    count = len(errors)
    return Accuracy(
        service,
        count,
        sum(abs(e) for e in errors) / count,
        sum(1 for e in errors if abs(e) <= WITHIN_SECONDS) / count,
        sum(errors) / count,
    )


def estimate_errors(engine: Engine, first: date, last: date) -> dict[str, list[float]]:
    """(estimate − real wait) in seconds of each called ticket issued from ``first`` to ``last``, by
    the service it was issued for."""
    query = (
        select(
            tickets.c.issued_at, tickets.c.estimate_seconds, ticket_legs.c.service, ticket_legs.c.called_at
        )
        .join(ticket_legs, and_(ticket_legs.c.ticket_id == tickets.c.id, ticket_legs.c.leg == 1))
        .where(
            tickets.c.business_day >= first,
            tickets.c.business_day <= last,
            tickets.c.estimate_seconds.is_not(None),
            ticket_legs.c.called_at.is_not(None),
        )
    )
    errors: dict[str, list[float]] = {}
    with read_only(engine).begin() as conn:
        for issued_at, estimate, service, called_at in conn.execute(query):
            real = max(0.0, (called_at - issued_at).total_seconds())
            errors.setdefault(service, []).append(float(estimate) - real)
    return errors


def estimate_accuracy(engine: Engine, first: date, last: date) -> tuple[Accuracy, list[Accuracy]]:
    """The hall's figure and each service's (by code), for tickets issued from ``first`` to ``last``."""
    errors = estimate_errors(engine, first, last)
    everything = [e for found in errors.values() for e in found]
    return _accuracy(None, everything), [_accuracy(code, errors[code]) for code in sorted(errors)]
