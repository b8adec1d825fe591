"""Time as the hall sees it: the business day and the opening hours.

Ticket numbers restart every business day at a configured local time (often
midnight, sometimes 03:00 for halls open late), so the day a ticket belongs to
is not the calendar date in UTC. All moments are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .workdays import WorkCalendar

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock; tests pass their own."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class HallCalendar:
    """The site's time zone, day boundary and opening hours.

    ``hours`` maps a weekday (0 = Monday) to ``(open, close)`` pairs in local
    time; an absent weekday is closed. ``enforce_hours`` off means tickets can
    be taken at any time (the demo, 24-hour halls).
    """

    timezone: str = "UTC"
    day_starts_at: time = time(0, 0)
    hours: Mapping[int, Sequence[tuple[time, time]]] = field(default_factory=dict)
    enforce_hours: bool = False
    #: Which dates count towards a working-day deadline (``[hours] holidays``).
    workdays: WorkCalendar = field(default_factory=WorkCalendar)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def business_day(self, moment: datetime) -> date:
        """The day whose numbering ``moment`` belongs to."""
        local = self.local(moment)
        shift = timedelta(hours=self.day_starts_at.hour, minutes=self.day_starts_at.minute)
        return (local - shift).date()

    def is_open(self, moment: datetime) -> bool:
        """Whether a walk-in ticket may be issued at ``moment``."""
        if not self.enforce_hours:
            return True
        local = self.local(moment)
        now = local.time()
        return any(start <= now < end for start, end in self.hours.get(local.weekday(), ()))
