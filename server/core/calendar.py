"""Time as the hall sees it: the business day, the opening hours and the working days.

Ticket numbers restart every business day at a configured local time (often
midnight, sometimes 03:00 for halls open late), so the day a ticket belongs to
is not the calendar date in UTC. All moments are stored in UTC.

Opening hours decide when walk-in tickets are issued, per site and per
service: weekly ranges with breaks, the last ticket a few minutes before each
closing, public holidays (closed when the hall does not open on them), make-up
working days (调休) that open a weekend day with a weekday's hours, and the
site's own exceptions, which win over everything. The kiosk asks on every tap,
so :meth:`HallCalendar.verdict` is computed once per minute and service and
kept: every boundary is a whole local minute, so one answer holds for the
minute.

Which dates count towards a deadline ("within 3 working days") is the working
calendar (:class:`~server.core.workdays.WorkCalendar`), not the opening hours:
a utility hall opens every day of the week, yet a Sunday is no working day.
:meth:`HallCalendar.deadline` is the one place a deadline becomes a moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from .workdays import WorkCalendar

Clock = Callable[[], datetime]
#: One opening range in local time, start before end.
Span = tuple[time, time]
#: Ranges per weekday (0 = Monday); an absent weekday is closed.
Week = Mapping[int, Sequence[Span]]
#: A range ending at 24:00 is kept as 23:59:59 (``time`` has no 24:00); it closes at midnight.
END_OF_DAY = time(23, 59, 59)
#: How far :meth:`HallCalendar.next_opening` looks ahead before it says "no opening known".
HORIZON_DAYS = 400

Half = Literal["am", "pm"]


def utc_now() -> datetime:
    """The real clock; tests pass their own."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class DayException:
    """``[[hours.exceptions]]``: one date of the site's own.

    ``hours`` replaces that date's opening hours (empty: closed all day; None:
    the day's usual hours, the entry only names the day or says whether it is
    a working day). ``services`` empty: the whole hall and every service;
    otherwise only those services (which then win over a hall-wide entry).
    """

    day: date
    hours: tuple[Span, ...] | None = None
    name_zh: str = ""
    name_en: str = ""
    services: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ServiceHours:
    """A service's own weekly hours and last-ticket minutes, over the hall's (None: the hall's)."""

    hours: Week | None = None
    last_ticket: timedelta | None = None


@dataclass(frozen=True)
class Window:
    """One opening range of one date, as moments: tickets are issued from ``opens`` to ``last_ticket``."""

    opens: datetime
    last_ticket: datetime
    closes: datetime

    @property
    def issues(self) -> bool:
        """Whether any walk-in ticket is issued in this range (a short one may end before its last ticket)."""
        return self.last_ticket > self.opens


@dataclass(frozen=True)
class Verdict:
    """Whether walk-in tickets are issued at a moment, and when that changes (moments in UTC).

    ``open``: within the opening hours (a booked visitor may still check in);
    ``issuing``: walk-in tickets are issued (open, before the last ticket).
    ``opens_at``: the next start of issuing after the moment (while issuing:
    the one after this range). ``closes_at``: the end of the current range;
    ``last_ticket_at``: the end of issuing in it. ``day_name``: the day's
    exception or public holiday, (zh, en).
    """

    open: bool
    issuing: bool
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    last_ticket_at: datetime | None = None
    day_name: tuple[str, str] | None = None


#: The verdict when hours are not enforced: always issuing, nothing to change.
ALWAYS = Verdict(open=True, issuing=True)


@dataclass(frozen=True)
class HallCalendar:
    """The site's time zone, day boundary, opening hours and working days.

    ``hours`` maps a weekday (0 = Monday) to ``(open, close)`` pairs in local
    time; an absent weekday is closed. ``enforce_hours`` off means tickets can
    be taken at any time (the demo, 24-hour halls).
    """

    timezone: str = "UTC"
    day_starts_at: time = time(0, 0)
    hours: Week = field(default_factory=dict)
    enforce_hours: bool = False
    #: Which dates count towards a working-day deadline (``[hours] holidays``).
    workdays: WorkCalendar = field(default_factory=WorkCalendar)
    #: No walk-in ticket this long before each closing (``last_ticket_minutes``).
    last_ticket: timedelta = timedelta(0)
    #: Whether the hall opens on the country's public holidays (with the weekday's hours).
    open_on_holidays: bool = True
    #: The weekday whose hours a make-up working day (调休) takes when its own weekday has none.
    makeup_day_hours: int | None = None
    exceptions: Sequence[DayException] = ()
    #: Services with hours or a last ticket of their own, by code.
    service_hours: Mapping[str, ServiceHours] = field(default_factory=dict)
    #: Where the morning half-day (上午号源) ends and the afternoon's begins, local time.
    noon: time = time(12, 0)
    #: The verdicts of the current minute, by service key: ``[(minute, {key: verdict})]``.
    _verdicts: list[tuple[int, dict[str | None, Verdict]]] = field(
        default_factory=lambda: [(-1, {})], init=False, compare=False, repr=False
    )

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

    def day_start(self, day: date) -> datetime:
        """When business day ``day`` begins (``day_starts_at``, local), as UTC."""
        return self._moment(day, self.day_starts_at)

    # -- a day's hours -------------------------------------------------------

    def spans(self, day: date, service: str | None = None) -> tuple[Span, ...]:
        """The opening ranges of ``day`` for ``service`` (None: the hall), in local time.

        The site's exception for that date wins (the service's own first); then a
        public holiday closes a hall that does not open on them; then a make-up
        working day (调休) whose weekday has no hours takes ``makeup_day_hours``'
        weekday's; else the weekday's own hours (the service's, or the hall's).
        """
        exception = self._exception(day, service)
        if exception is not None and exception.hours is not None:
            return exception.hours
        if not self.open_on_holidays and self.workdays.holiday(day):
            return ()
        week = self._week(service)
        spans = tuple(week.get(day.weekday(), ()))
        if not spans and self.makeup_day_hours is not None and self.workdays.is_makeup_day(day):
            spans = tuple(week.get(self.makeup_day_hours, ()))
        return spans

    def windows(self, day: date, service: str | None = None) -> list[Window]:
        """The opening ranges of ``day`` as moments, each with its last-ticket time."""
        last = self._last_ticket(service)
        out = []
        for start, end in self.spans(day, service):
            opens, closes = self._moment(day, start), self._moment(day, end)
            out.append(Window(opens, max(opens, closes - last), closes))
        return out

    def closing(self, day: date, service: str | None = None) -> datetime | None:
        """When ``day``'s last range ends (the day's closing), None on a day without hours."""
        windows = self.windows(day, service)
        return windows[-1].closes if windows else None

    def day_over(self, day: date, service: str, moment: datetime) -> bool:
        """Whether ``service``'s business day ``day`` has ended at ``moment``: its last range and the
        hall's have both closed (a day without hours for either ends with the other's, or at
        the next day's start)."""
        closings = [c for c in (self.closing(day, service), self.closing(day)) if c is not None]
        return moment >= (max(closings) if closings else self.day_start(day + timedelta(days=1)))

    def own_hours(self, service: str) -> bool:
        """Whether ``service`` keeps hours of its own (ranges, a last ticket, exceptions), not the hall's."""
        return service in self._own_hours

    def day_name(self, day: date, service: str | None = None) -> tuple[str, str] | None:
        """The name of ``day`` as the kiosk says it: the site's exception, else the public holiday."""
        exception = self._exception(day, service)
        if exception is not None and (exception.name_zh or exception.name_en):
            return (exception.name_zh or exception.name_en, exception.name_en or exception.name_zh)
        holiday = self.workdays.holiday(day)
        if holiday:
            return (HOLIDAY_NAMES_ZH.get(holiday, holiday), holiday)
        return None

    # -- now ---------------------------------------------------------------

    def is_open(self, moment: datetime, service: str | None = None) -> bool:
        """Whether the hall (or ``service``) is within its opening hours at ``moment``."""
        return self.verdict(moment, service).open

    def issuing(self, moment: datetime, service: str | None = None) -> bool:
        """Whether a walk-in ticket may be issued at ``moment`` (open, and before the last ticket)."""
        return self.verdict(moment, service).issuing

    def verdict(self, moment: datetime, service: str | None = None) -> Verdict:
        """Open, issuing and what comes next, for ``service`` at ``moment``: kept for the minute.

        The issue path asks this for every batch; it costs a dictionary look-up
        except once per minute and service.
        """
        if not self.enforce_hours:
            return ALWAYS
        minute = int(moment.timestamp() // 60)
        kept, table = self._verdicts[0]
        if kept != minute:
            table = {}
            self._verdicts[0] = (minute, table)
        key = service if service in self._own_hours else None
        found = table.get(key)
        if found is None:
            found = table[key] = self._verdict(moment.replace(second=0, microsecond=0), key)
        return found

    def next_opening(self, moment: datetime, service: str | None = None) -> datetime | None:
        """When walk-in tickets are next issued after ``moment`` (the start of a range), None if not
        within :data:`HORIZON_DAYS`. Closed days, holidays the hall does not open on, exceptions
        and ranges too short for a ticket are skipped."""
        if not self.enforce_hours:
            return None
        first = self.local(moment).date()
        for offset in range(HORIZON_DAYS):
            for window in self.windows(first + timedelta(days=offset), service):
                if window.issues and window.opens > moment:
                    return window.opens
        return None

    def opening_from(self, moment: datetime, service: str | None = None) -> datetime | None:
        """``moment`` itself if tickets are issued then, else the next opening."""
        if self.issuing(moment, service):
            return moment
        return self.next_opening(moment, service)

    # -- half-days ---------------------------------------------------------

    def half_day(self, moment: datetime) -> Half:
        """The half-day (上午/下午号源) ``moment`` is in: before or after ``noon`` of its business day."""
        noon = self._moment(self.business_day(moment), self.noon)
        return "am" if moment < noon else "pm"

    def next_half_day(self, moment: datetime, service: str | None = None) -> datetime | None:
        """When walk-in tickets are next issued in a later half-day than ``moment``'s."""
        day = self.business_day(moment)
        if self.half_day(moment) == "am":
            start = self._moment(day, self.noon)
        else:
            start = self.day_start(day + timedelta(days=1))
        return self.opening_from(start, service)

    # -- working days --------------------------------------------------------

    def deadline(self, moment: datetime, working_days: int) -> datetime:
        """The end (last instant, UTC) of the ``working_days``-th working day after ``moment``'s local date.

        ``moment``'s own date never counts; 0 gives the end of the first working
        day on or after it. Holidays are skipped and make-up days (调休) count,
        by the country's calendar and the site's exceptions (``workdays``).
        """
        due = self.workdays.add_working_days(self.local(moment).date(), working_days)
        return datetime.combine(due, time.max, self.zone).astimezone(UTC)

    # -- inside --------------------------------------------------------------

    @cached_property
    def _by_day(self) -> dict[tuple[date, str | None], DayException]:
        out: dict[tuple[date, str | None], DayException] = {}
        for exception in self.exceptions:
            for service in exception.services or [None]:
                out[(exception.day, service)] = exception
        return out

    @cached_property
    def _own_hours(self) -> frozenset[str]:
        """Services whose verdict is their own: hours, a last ticket or exceptions of their own."""
        excepted = {s for e in self.exceptions for s in e.services}
        return frozenset(self.service_hours) | excepted

    def _exception(self, day: date, service: str | None) -> DayException | None:
        if service is not None:
            own = self._by_day.get((day, service))
            if own is not None:
                return own
        return self._by_day.get((day, None))

    def _week(self, service: str | None) -> Week:
        own = self.service_hours.get(service) if service is not None else None
        return own.hours if own is not None and own.hours is not None else self.hours

    def _last_ticket(self, service: str | None) -> timedelta:
        own = self.service_hours.get(service) if service is not None else None
        return own.last_ticket if own is not None and own.last_ticket is not None else self.last_ticket

    def _moment(self, day: date, at: time) -> datetime:
        """Local ``at`` on ``day`` as UTC (23:59:59 ends the day: the next midnight)."""
        if at == END_OF_DAY:
            day, at = day + timedelta(days=1), time(0, 0)
        return datetime.combine(day, at, self.zone).astimezone(UTC)

    def _verdict(self, moment: datetime, service: str | None) -> Verdict:
        day = self.local(moment).date()
        current = next((w for w in self.windows(day, service) if w.opens <= moment < w.closes), None)
        issuing = current is not None and moment < current.last_ticket
        return Verdict(
            open=current is not None,
            issuing=issuing,
            opens_at=self.next_opening(moment, service),
            closes_at=current.closes if current is not None else None,
            last_ticket_at=current.last_ticket if current is not None and issuing else None,
            day_name=self.day_name(day, service),
        )


#: The Chinese names of the holidays chinese-calendar names in English (its ``Holiday`` enum):
#: words for the kiosk, not a table of dates.
HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
