"""Half-day caps (上午/下午号源): how many walk-in tickets a service gives in a morning and an afternoon.

Hospitals give out a clinic's numbers by session: 40 in the morning, 30 in the
afternoon, and a patient who comes at 11:00 when the morning's are gone is told
when the afternoon's start. The half-days split at ``[appointments] noon``
(:meth:`~server.core.calendar.HallCalendar.half_day`). The counts are kept by
the store in the issuing transaction (``half_day_counts``), like ticket
numbers; appointments' check-ins have their own quota and do not count here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .calendar import Half


@dataclass(frozen=True)
class HalfDayCaps:
    """Walk-in tickets per half-day of one service; None: no cap in that half."""

    am: int | None = None
    pm: int | None = None

    def cap(self, half: Half) -> int | None:
        return self.am if half == "am" else self.pm
