"""A report's period and figures: the statistics of one day or month, grouped four ways, as JSON.

A report never computes a figure of its own: it asks the statistics
(server/store/stats.py) for the period by hour (a day) or by day (a month), by
service, by counter and by clerk, in one read transaction so the sections agree,
and lays their answers out side by side (``report_json`` of server/core/stats.py,
as ``GET /stats`` answers them). The clerk's scorecard is the clerk's group of the
month by clerk, and a rank among the month's clerks.

Nothing about a visitor is in a report: the statistics select counts, times and
ratings only, never a ticket id, number, name, phone or priority category. The
figures name staff (by clerk), so reports are for admins and supervisors.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

from ..core.calendar import HallCalendar
from ..core.satisfaction import Satisfaction
from ..core.stats import BadStatsQuery, Report, StatsQuery, check_year, parse_day, report_json

Kind = Literal["daily", "monthly"]
#: The groupings of a report, after its grouping in time (hour for a day, day for a month).
SECTIONS = ("service", "counter", "clerk")


class ReportFigures(Protocol):
    """What a report needs of the statistics (the hub's StatisticsService)."""

    def reports(self, queries: Sequence[StatsQuery]) -> list[Report]: ...


class Hall(Protocol):
    """What a report needs of the hall: its names, zone, satisfaction levels, services' and counters' names.

    The hub's :class:`server.core.queue.Hall`; the central service's halls and groups of halls
    (server/central/reports.py) from what each hall shipped.
    """

    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def calendar(self) -> HallCalendar: ...
    @property
    def satisfaction(self) -> Satisfaction: ...
    @property
    def services(self) -> Mapping[Any, Any]: ...
    @property
    def counters(self) -> Mapping[Any, Any]: ...


@dataclass(frozen=True)
class Period:
    """A report's business days: one day (grouped by hour) or one calendar month (grouped by day)."""

    kind: Kind
    first: date
    last: date

    @property
    def by(self) -> str:
        """The grouping in time: a day's hours, a month's days."""
        return "hour" if self.kind == "daily" else "day"

    @property
    def label(self) -> str:
        """``2026-03-10`` or ``2026-03``: the period as it was asked for (and in file names)."""
        return self.first.isoformat() if self.kind == "daily" else self.first.isoformat()[:7]

    def query(self, by: str) -> StatsQuery:
        return StatsQuery(self.first, self.last, by)

    def json(self) -> dict[str, Any]:
        first, last = self.first.isoformat(), self.last.isoformat()
        return {"kind": self.kind, "label": self.label, "from": first, "to": last}


def day_period(value: str | None) -> Period:
    """``?day=YYYY-MM-DD``: one business day."""
    if value is None:
        raise BadStatsQuery(
            "'day' is required: the business day, as YYYY-MM-DD", "缺少 day：请填写营业日，格式为 YYYY-MM-DD"
        )
    day = parse_day(value, "day")  # in a year of YEARS (server/core/stats.py), like /stats
    return Period("daily", day, day)


def month_period(value: str | None) -> Period:
    """``?month=YYYY-MM``: the calendar month's business days (a month to come is empty, not refused)."""
    if value is None:
        raise BadStatsQuery(
            "'month' is required: the month, as YYYY-MM", "缺少 month：请填写月份，格式为 YYYY-MM"
        )
    if len(value) != 7 or not value.isascii() or value[4] != "-" or not (value[:4] + value[5:]).isdigit():
        raise BadStatsQuery(
            f"'month' must be a month as YYYY-MM; got {value!r}",
            f"month 须为月份，格式为 YYYY-MM，收到 {value!r}",
        )
    year, month = int(value[:4]), int(value[5:])
    if not 1 <= month <= 12:
        raise BadStatsQuery(
            f"'month' is not a month of the calendar: {value!r}", f"month：{value!r} 不是日历上的月份"
        )
    check_year(year, value, "month")
    return Period("monthly", date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def _hall_json(hall: Hall) -> dict[str, Any]:
    return {"name_zh": hall.name_zh, "name_en": hall.name_en, "timezone": hall.calendar.timezone}


def satisfaction_config(hall: Hall) -> dict[str, Any]:
    """The target and the levels, as ``GET /stats`` gives them: what the share is measured against."""
    return {
        "target": hall.satisfaction.target,
        "levels": [
            {
                "code": level.code,
                "name_zh": level.name_zh,
                "name_en": level.name_en,
                "score": level.score,
                "satisfied": level.satisfied,
            }
            for level in hall.satisfaction.levels
        ],
    }


def build_report(figures: ReportFigures, hall: Hall, period: Period) -> dict[str, Any]:
    """The report as the API answers it: the hall's total, then each grouping's groups, the hand-offs.

    ``total`` and ``handoffs`` come from the grouping in time (tickets issued count there;
    by counter or clerk they do not apply), each section's groups are ``GET /stats``'s.
    """
    groupings = (period.by, *SECTIONS)
    answers = figures.reports([period.query(by) for by in groupings])
    shaped = [report_json(answer, hall.services, hall.counters) for answer in answers]
    timeline = shaped[0]
    return {
        "period": period.json(),
        "hall": _hall_json(hall),
        "satisfaction": satisfaction_config(hall),
        "total": timeline["total"],
        "sections": {by: answer["groups"] for by, answer in zip(groupings, shaped, strict=True)},
        "handoffs": timeline["handoffs"],
    }


# -- the clerk's monthly scorecard (星级营业员) -----------------------------------------------


def _share(group: dict[str, Any]) -> float | None:
    share: float | None = group["satisfaction"]["share"]
    return share


def _rank(clerks: list[dict[str, Any]], me: dict[str, Any], better: Callable[[Any, Any], bool]) -> int:
    """1 + the number of clerks strictly better than ``me`` (equal figures share a rank: 1, 2, 2, 4)."""
    return 1 + sum(1 for other in clerks if better(other, me))


def _served_more(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return int(a["tickets"]["served"]) > int(b["tickets"]["served"])


def _rated_better(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """A higher share satisfied; at an equal share, more ratings behind it."""
    sa, sb = _share(a), _share(b)
    if sa is None or sb is None:
        return False
    ra, rb = a["satisfaction"]["ratings"], b["satisfaction"]["ratings"]
    return bool(sa > sb or (sa == sb and ra > rb))


def clerk_groups(figures: ReportFigures, hall: Hall, period: Period) -> list[dict[str, Any]]:
    """The period's groups by clerk (``GET /stats?by=clerk``'s), legs at no counter left out."""
    (answer,) = figures.reports([period.query("clerk")])
    groups: list[dict[str, Any]] = report_json(answer, hall.services, hall.counters)["groups"]
    return [g for g in groups if g["key"] is not None]


def scorecard(hall: Hall, period: Period, clerks: list[dict[str, Any]], username: str) -> dict[str, Any]:
    """The clerk's figures of the period and their rank among its clerks (zeros and no rank: none).

    Ranks: by visitors served, and by share satisfied (more ratings first at an equal share)
    among the clerks rated at least once. Equal figures share a rank (1, 2, 2, 4).
    """
    mine = next((g for g in clerks if g["key"] == username), None)
    rated = [g for g in clerks if _share(g) is not None]
    card: dict[str, Any] = {
        "clerk": username,
        "period": period.json(),
        "hall": _hall_json(hall),
        "target": hall.satisfaction.target,
        "served": 0,
        "service_mean_seconds": None,
        "satisfaction_share": None,
        "satisfaction_index": None,
        "target_met": None,
        "ratings": 0,
        "no_show": 0,
        "rank": {"served": None, "satisfaction": None, "clerks": len(clerks), "rated_clerks": len(rated)},
        "figures": None,
    }
    if mine is None:
        return card
    card.update(
        served=mine["tickets"]["served"],
        service_mean_seconds=mine["service_time"]["mean"],
        satisfaction_share=_share(mine),
        satisfaction_index=mine["satisfaction"]["index"],
        target_met=mine["satisfaction"]["target_met"],
        ratings=mine["satisfaction"]["ratings"],
        no_show=mine["tickets"]["no_show"],
        figures={k: v for k, v in mine.items() if k != "key"},
    )
    card["rank"].update(
        served=_rank(clerks, mine, _served_more),
        satisfaction=_rank(rated, mine, _rated_better) if _share(mine) is not None else None,
    )
    return card
