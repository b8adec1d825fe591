"""Statistics of the hall (统计): what is asked, and the plain figures that come back.

The figures are computed by SQL from what the event log keeps (server/store/stats.py:
``tickets`` and ``ticket_legs``, written in the transaction of each event); this
module holds the question (:class:`StatsQuery`, checked here so every adapter
refuses alike), the definitions that must read the same on SQLite and
PostgreSQL (:func:`nearest_rank`), and the answer's shape (:func:`report_json`).

Definitions, stated once (docs/architecture.md, "Statistics"):

* A period is a range of the hall's business days (``from`` … ``to``, at most
  :data:`MAX_DAYS`); every figure belongs to the business day of its ticket.
* ``issued`` counts tickets (new visitors); every other figure counts *legs*
  (one station of a ticket's journey), so a visitor sent from one service to
  another is ``transferred`` out of the first and ``served`` at the second,
  and counted once in the hall's total of each.
* ``hour`` is the hour of the hall's local time at which the leg joined its
  queue (a ticket's issue, or the transfer that sent it on): figures by hour
  follow the visitors who arrived in that hour.
* Waiting and service are the legs' own ``wait_seconds`` and ``service_seconds``,
  with the definitions of :mod:`server.core.targets` (the same the share within
  target counts): waiting from joining the queue to the leg's first call (a leg
  that ended without a call: to its end, the visitor waited that long); service
  from its start (or its last call, when the clerk never pressed start) to the
  end of a service given (finished, transferred on, or cancelled after the
  start; a no-show is no service). The legs keep exact seconds; the mean is of
  those, to 0.1 s, and a percentile is the value that occurred, in whole
  seconds truncated toward zero.
* Percentiles are nearest-rank: p50 and p90 are the values at rank
  ``ceil(p·n/100)`` of the n sorted values — always a value that occurred.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import QueueError

#: How the figures may be grouped.
GROUPINGS = ("day", "hour", "service", "counter", "clerk")
#: The longest period one question may cover (a leap year).
MAX_DAYS = 366
#: The percentiles every duration reports.
PERCENTILES = (50, 90)
#: The years a question may name. The store reads a few days either side of a period (its time
#: zone's steps), which past year 9999 or before year 1 is no date at all; and a typo (0202, 20266)
#: is better refused than answered empty. The reports (server/reports/) ask the same.
YEARS = (2000, 2999)


class BadStatsQuery(QueueError):
    """A question the statistics cannot answer: a bad date or range, an unknown grouping or filter."""

    code = "bad_request"

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        #: The same, whole, in Chinese (the refusal's ``error_zh``).
        self.message_zh = zh


@dataclass(frozen=True)
class StatsQuery:
    """One question: a period of business days, a grouping, and optional filters."""

    first: date
    last: date
    by: str = "day"
    service: str | None = None
    counter: int | None = None

    def __post_init__(self) -> None:
        check_year(self.first.year, self.first.isoformat(), "from")
        check_year(self.last.year, self.last.isoformat(), "to")
        if self.by not in GROUPINGS:
            raise BadStatsQuery(
                f"'by' must be one of {', '.join(GROUPINGS)}; got {self.by!r}",
                f"by 须为 {'、'.join(GROUPINGS)} 之一，收到 {self.by!r}",
            )
        if self.last < self.first:
            raise BadStatsQuery(
                f"'to' ({self.last}) is before 'from' ({self.first})",
                f"to（{self.last}）早于 from（{self.first}）",
            )
        if self.days > MAX_DAYS:
            raise BadStatsQuery(
                f"a period is at most {MAX_DAYS} days; {self.first} to {self.last} is {self.days}",
                f"查询时段最长 {MAX_DAYS} 天，{self.first} 到 {self.last} 共 {self.days} 天",
            )

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def counts_issued(self) -> bool:
        """Whether ``issued`` applies: tickets are issued at kiosks, not at a counter or by a clerk."""
        return self.by not in ("counter", "clerk") and self.counter is None


def check_year(year: int, value: str, name: str) -> None:
    """Refuse a year outside :data:`YEARS`, naming the parameter that holds it."""
    if not YEARS[0] <= year <= YEARS[1]:
        raise BadStatsQuery(
            f"'{name}' must be a year from {YEARS[0]} to {YEARS[1]}; got {value!r}",
            f"{name} 的年份须在 {YEARS[0]} 到 {YEARS[1]} 之间，收到 {value!r}",
        )


def parse_day(value: str, name: str) -> date:
    """A business day written ``YYYY-MM-DD`` (nothing else: 2026-3-1 and 20260301 are refused),
    in a year of :data:`YEARS`."""
    if len(value) != 10 or not value.isascii() or value[4] != "-" or value[7] != "-":
        raise BadStatsQuery(
            f"'{name}' must be a date as YYYY-MM-DD; got {value!r}",
            f"{name} 须为日期，格式为 YYYY-MM-DD，收到 {value!r}",
        )
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadStatsQuery(
            f"'{name}' is not a date of the calendar: {value!r}", f"{name}：{value!r} 不是日历上的日期"
        ) from None
    check_year(day.year, value, name)
    return day


def nearest_rank(p: int, n: int) -> int:
    """The 1-based rank of the ``p``-th percentile among ``n`` sorted values: ``ceil(p·n/100)``.

    In integers, so SQLite and PostgreSQL compute the same rank
    (PostgreSQL's ``percentile_disc`` multiplies in floating point: 0.9 × 70
    is 63.000…01 there, and its rank 64).
    """
    return (p * n + 99) // 100


@dataclass(frozen=True)
class Durations:
    """Waiting or service times of a group: their count, their exact total (seconds), and the
    nearest-rank percentiles in whole seconds (truncated toward zero)."""

    count: int = 0
    total: float = 0
    p50: int | None = None
    p90: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": round(self.total / self.count, 1) if self.count else None,
            "p50": self.p50,
            "p90": self.p90,
        }


@dataclass
class Figures:
    """Every figure of one group (or of the whole period), section by section.

    ``sections`` maps a figure group's name (``tickets``, ``waiting``,
    ``service_time``, ``satisfaction``, and any group added later) to its
    figures: each figure group of server/store/stats.py fills its own.
    """

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merge(self, section: str, values: Mapping[str, Any]) -> None:
        self.sections.setdefault(section, {}).update(values)


@dataclass(frozen=True)
class Handoff:
    """Tickets sent from one service to the next (内转) in the period."""

    from_service: str
    to_service: str
    count: int


@dataclass
class Report:
    """The answer to a :class:`StatsQuery`: one :class:`Figures` per group, the total, the hand-offs."""

    query: StatsQuery
    groups: dict[Any, Figures]
    total: Figures
    handoffs: list[Handoff]


def satisfaction_json(ratings: int, satisfied: int, score_total: int, target: int) -> dict[str, Any]:
    """The satisfaction figures of a group: the share satisfied (0–1), the index (0–100), the target met.

    Computed from integer sums, so both databases give the same figures.
    """
    if not ratings:
        return {"ratings": 0, "satisfied": 0, "share": None, "index": None, "target_met": None}
    share = satisfied / ratings
    return {
        "ratings": ratings,
        "satisfied": satisfied,
        "share": round(share, 4),
        "index": round(score_total / ratings, 1),
        "target_met": share * 100 >= target,
    }


def report_json(report: Report, services: Mapping[str, Any], counters: Mapping[int, Any]) -> dict[str, Any]:
    """The report as the API answers it: groups in key order (no key — legs never at a counter — last),
    a service's or counter's names with its key."""
    query = report.query
    keys = sorted(report.groups, key=lambda k: (k is None, k))
    return {
        "from": query.first.isoformat(),
        "to": query.last.isoformat(),
        "by": query.by,
        "service": query.service,
        "counter": query.counter,
        "groups": [
            {**_key_json(query.by, key, services, counters), **_sections(report.groups[key])} for key in keys
        ],
        "total": _sections(report.total),
        "handoffs": [{"from": h.from_service, "to": h.to_service, "count": h.count} for h in report.handoffs],
    }


def _sections(figures: Figures) -> dict[str, Any]:
    return {section: dict(values) for section, values in figures.sections.items()}


def _key_json(by: str, key: Any, services: Mapping[str, Any], counters: Mapping[int, Any]) -> dict[str, Any]:
    """The group's key, and the service's or counter's names where the key is one."""
    if by == "day":
        return {"key": key.isoformat() if key is not None else None}
    named = services.get(key) if by == "service" else counters.get(key) if by == "counter" else None
    if by in ("service", "counter"):
        return {
            "key": key,
            "name_zh": named.name_zh if named else None,
            "name_en": named.name_en if named else None,
        }
    return {"key": key}
