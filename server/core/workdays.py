"""Working days: which dates count when a deadline is "N working days" away.

A service hall promises hand-offs within one working day and a case's steps
within so many working days (业扩报装). Which dates are working days is not the
hall's opening hours (a utility hall opens every day of the week, 无周休日, yet
a weekend does not count towards a deadline): it is the country's statutory
calendar — public holidays, and in China the make-up working days (调休) that
move a weekend day into the week — plus the site's own exceptions, which win.

The statutory calendar comes from maintained libraries, never from a table in
this project: ``chinese-calendar`` for China (it knows each year's 调休 as the
State Council publishes it), ``holidays`` for every other country. A year a
library does not know yet (China's next year before it is published) falls
back to Monday–Friday without public holidays; :meth:`WorkCalendar.known`
says whether a date is covered, so the hall can warn rather than guess.

Plain Python, no I/O: the libraries are tables in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Protocol

from .bilingual import Bilingual

#: Saturday and Sunday (``date.weekday()``), the weekend when no library says otherwise.
WEEKEND = frozenset({5, 6})
#: How far a working-day count may look ahead before it is called a mistake (10 years of days off).
_MAX_SCAN = 3660


class UnknownCountry(Bilingual):
    """The holiday country is not one the libraries know (in both languages: the admin page's hours form)."""


class _Statutory(Protocol):
    """A country's statutory calendar: whether ``day`` is a working day, or None when unknown."""

    def working(self, day: date) -> bool | None: ...

    def holiday(self, day: date) -> str | None:
        """The name of the public holiday on ``day`` (English, as the library says it), else None."""


class _China:
    """China's calendar from ``chinese-calendar``: holidays and make-up working days (调休)."""

    def working(self, day: date) -> bool | None:
        import chinese_calendar

        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:  # a year the library has no data for yet
            return None

    def holiday(self, day: date) -> str | None:
        import chinese_calendar

        try:
            off, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            return None
        # A make-up working day carries its festival's name too, but is no day off.
        return str(name) if off and name else None


@dataclass
class _Country:
    """Any other country from ``holidays``: its weekend and public holidays (no make-up days)."""

    code: str
    _years: dict[int, object] = field(default_factory=dict)

    def working(self, day: date) -> bool | None:
        table = self._table(day.year)
        weekend = getattr(table, "weekend", WEEKEND)
        return day.weekday() not in weekend and day not in table  # type: ignore[operator]

    def holiday(self, day: date) -> str | None:
        name = self._table(day.year).get(day)  # type: ignore[attr-defined]
        return str(name) if name else None

    def _table(self, year: int) -> object:
        table = self._years.get(year)
        if table is None:
            import holidays

            table = holidays.country_holidays(self.code, years=year)
            self._years[year] = table
        return table


@cache
def statutory(country: str | None) -> _Statutory | None:
    """The statutory calendar of ``country`` (ISO 3166 code such as ``CN``, ``HK``, ``US``); None: none.

    Raises :class:`UnknownCountry` for a code no library knows, so a config
    error names it at start-up rather than on the first deadline.
    """
    if country is None:
        return None
    code = country.upper()
    if code == "CN":
        return _China()
    import holidays

    if code not in holidays.list_supported_countries():
        raise UnknownCountry(
            f"没有节假日国家 {country!r}；应为 ISO 国家代码，如 'CN'、'HK'、'SG'",
            f"unknown holiday country {country!r}; expected an ISO code such as 'CN', 'HK', 'SG'",
        )
    return _Country(code)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days of a site: the country's statutory calendar, then the site's own exceptions.

    ``exceptions`` maps a date to True (a working day, whatever the country
    says) or False (a day off: the site's own closing, a local holiday).
    """

    country: str | None = None
    exceptions: Mapping[date, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        statutory(self.country)  # an unknown country fails here, when the site is loaded

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` counts towards a working-day deadline."""
        if day in self.exceptions:
            return self.exceptions[day]
        table = statutory(self.country)
        known = table.working(day) if table is not None else None
        return known if known is not None else day.weekday() not in WEEKEND

    def holiday(self, day: date) -> str | None:
        """The public holiday on ``day`` by the country's calendar (its English name), else None.

        What closes a hall that does not open on public holidays (``[hours]
        open_on_holidays = false``): a statutory holiday, weekend days inside
        it included (国庆 on a Saturday), never a plain weekend.
        """
        table = statutory(self.country)
        return table.holiday(day) if table is not None else None

    def is_makeup_day(self, day: date) -> bool:
        """A working day on a Saturday or Sunday: a make-up day (调休) or a site's own working weekend day."""
        return day.weekday() in WEEKEND and self.is_working_day(day)

    def known(self, day: date) -> bool:
        """Whether ``day`` is covered by the statutory calendar (or a site exception), not a weekday guess."""
        if day in self.exceptions or self.country is None:
            return True
        table = statutory(self.country)
        return table is not None and table.working(day) is not None

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself never counts).

        ``count`` 0 gives the first working day on or after ``start``: a
        deadline of "the same working day" that lands on a day off moves to
        the next working day.
        """
        if count < 0:
            raise ValueError(f"expected a number of working days >= 0, got {count}")
        day = start
        if count == 0:
            return self._next_working(day, include=True)
        for _ in range(count):
            day = self._next_working(day, include=False)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
        if end <= start:
            return 0
        if (end - start).days > _MAX_SCAN:
            raise ValueError(f"expected dates within {_MAX_SCAN} days, got {start} and {end}")
        return sum(
            1 for offset in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(offset))
        )

    def working_days(self, days: Iterable[date]) -> list[date]:
        """The working days among ``days``, in their order."""
        return [day for day in days if self.is_working_day(day)]

    def _next_working(self, day: date, *, include: bool) -> date:
        candidate = day if include else day + timedelta(days=1)
        for _ in range(_MAX_SCAN):
            if self.is_working_day(candidate):
                return candidate
            candidate += timedelta(days=1)
        raise ValueError(f"no working day within {_MAX_SCAN} days of {day}")
