"""Deadlines in working days, shared by everything the hall promises to finish "within N working days".

A case's step (业扩报装) and a complaint (投诉查处) both end at the end of the
n-th working day after the day they began, in the hall's time zone, counting
the hall's working-day calendar (``[hours] holidays``: holidays skipped,
调休 make-up days counted). One rule, here, so the two never disagree about
which day is "the right day".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .calendar import HallCalendar


def deadline(calendar: HallCalendar, moment: datetime, working_days: int) -> tuple[date, datetime]:
    """The last working day of something begun at ``moment``, and the moment it is overdue (UTC).

    Counted by :meth:`HallCalendar.deadline` (the hall's working days from the
    hall-local date of ``moment``, which itself never counts); it is overdue
    from the instant after that day's last one: the next local midnight.
    """
    last = calendar.deadline(moment, working_days)
    return calendar.local(last).date(), last + timedelta(microseconds=1)


def overdue(due_at: datetime | None, now: datetime) -> bool:
    """Past its deadline: ``now`` is at or after the instant it became overdue."""
    return due_at is not None and now >= due_at


def working_days_taken(calendar: HallCalendar, began: datetime, ended: datetime) -> int:
    """Working days from the hall-local day ``began`` to the one ``ended`` (0: closed the same day)."""
    return calendar.workdays.working_days_between(calendar.local(began).date(), calendar.local(ended).date())
