"""Waiting-time and service-time targets (时限): what each service promises, and how each leg measured up.

A hall promises its visitors a call within so many minutes of joining a queue
and a service done within so many more (utility halls: at most 20 minutes per
transaction, 时限合格率 100 %). ``[targets]`` in the site file gives the site's
targets; a service may set its own. This module is the one place that says
what is measured, so the journey's legs, the consoles' marks and the share
within target all agree:

- **wait** of a leg: from joining the queue (the issue, or the transfer that
  sent the ticket to this station: ``TicketLeg.queued_at``) to the leg's
  *first* call. A re-queue (过号重排) starts no new wait: the hall kept its
  promise, or broke it, at the first call. A leg that ends without any call
  (the visitor cancelled while waiting) has its wait measured to that end: it
  counts as missed when it ran past the target, and is not judged otherwise
  (the visitor left before the promise fell due).
- **service** of a leg: from its start (开始办理), or from its last call when
  the clerk never pressed start, to its end: finished, transferred on, or
  cancelled after it started. A no-show, or a cancel before the start, was no
  service and is not measured.
- **due**: the moment a target is breached: a waiting leg's ``queued_at`` plus
  the wait target; the ticket at a counter's start (or last call) plus the
  service target. Staff pages mark a ticket "nearly due" from ``warn_before``
  ahead of that moment and "overdue" after it.
- **share within target**, per service and per counter: legs that met a target
  over legs that had one (:func:`shares`).

A leg's verdict is written with the event that decides it (the call, the end),
with the targets in force then; a later change of the site file does not
rewrite it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Targets:
    """One service's promises; None: no target of that kind."""

    wait: timedelta | None = None
    service: timedelta | None = None


NO_TARGETS = Targets()


@dataclass(frozen=True)
class TargetRules:
    """The site's targets by service (``[targets]`` and the services' own keys) and the warning's lead."""

    #: The site's targets: a service without its own (or one no longer configured) has these.
    default: Targets = NO_TARGETS
    #: Every configured service's targets, its own keys over the site's.
    services: Mapping[str, Targets] = field(default_factory=dict)
    #: How long before a breach the staff pages mark a ticket "nearly due".
    warn_before: timedelta = timedelta(minutes=3)

    def of(self, service: str) -> Targets:
        return self.services.get(service, self.default)

    @property
    def any(self) -> bool:
        """Whether any service has a target (without one, nothing is due and nothing is judged)."""
        every = [self.default, *self.services.values()]
        return any(t.wait is not None or t.service is not None for t in every)


#: A hall without targets.
NO_RULES = TargetRules()


@dataclass(frozen=True)
class Measured:
    """One span of a leg (its wait or its service) in seconds, and whether it met its target."""

    seconds: float | None = None
    #: None: no target, or nothing to judge.
    met: bool | None = None


def judged(span: timedelta, target: timedelta | None) -> Measured:
    """A span that ended as it should (a wait ended by a call, a service ended): met if within the target."""
    return Measured(span.total_seconds(), None if target is None else span <= target)


def gave_up(span: timedelta, target: timedelta | None) -> Measured:
    """A wait that ended without a call: missed if it had run past the target, else not judged."""
    return Measured(span.total_seconds(), False if target is not None and span > target else None)


def due_at(since: datetime | None, target: timedelta | None) -> datetime | None:
    """When a span that began at ``since`` breaches ``target`` (None: no target, or not begun)."""
    if since is None or target is None:
        return None
    return since + target


@dataclass(frozen=True)
class Tally:
    """The kept legs of one service at one counter (None: never called) over some days, counted."""

    service: str
    counter: int | None
    #: Legs whose wait had a target and was judged, and how many of them met it.
    wait_with_target: int = 0
    wait_met: int = 0
    service_with_target: int = 0
    service_met: int = 0


@dataclass(frozen=True)
class Share:
    """Legs that had a target and legs that met it; ``share`` is None when none had one."""

    with_target: int = 0
    met: int = 0

    @property
    def share(self) -> float | None:
        return self.met / self.with_target if self.with_target else None

    def __add__(self, other: Share) -> Share:
        return Share(self.with_target + other.with_target, self.met + other.met)

    def as_dict(self) -> dict[str, Any]:
        return {"with_target": self.with_target, "met": self.met, "share": self.share}


@dataclass(frozen=True)
class Shares:
    """The wait and the service of one group of legs (a service, a counter, the hall)."""

    wait: Share = Share()
    service: Share = Share()

    def __add__(self, other: Shares) -> Shares:
        return Shares(self.wait + other.wait, self.service + other.service)

    def as_dict(self) -> dict[str, Any]:
        return {"wait": self.wait.as_dict(), "service": self.service.as_dict()}


@dataclass(frozen=True)
class TargetReport:
    """The share within target of some business days, for the hall, per service and per counter.

    A leg never called (cancelled while waiting) counts for its service and the
    hall only: no counter had it.
    """

    first_day: date
    last_day: date
    hall: Shares
    services: dict[str, Shares]
    counters: dict[int, Shares]


def shares(tallies: Iterable[Tally], first_day: date, last_day: date) -> TargetReport:
    """Add up the store's tallies per service, per counter and for the whole hall."""
    hall = Shares()
    services: dict[str, Shares] = {}
    counters: dict[int, Shares] = {}
    for tally in tallies:
        these = Shares(
            Share(tally.wait_with_target, tally.wait_met), Share(tally.service_with_target, tally.service_met)
        )
        hall += these
        services[tally.service] = services.get(tally.service, Shares()) + these
        if tally.counter is not None:
            counters[tally.counter] = counters.get(tally.counter, Shares()) + these
    return TargetReport(first_day, last_day, hall, services, counters)
