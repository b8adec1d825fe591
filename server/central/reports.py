"""The hall manager's reports (server/reports/) across halls: by company, region or hall.

A report here is the hall's own report (server/reports/figures.py ``build_report``)
asked of the hall's own SQL (server/store/stats.py) over the central copies of the
halls' ``tickets`` and ``ticket_legs`` (:class:`~server.store.stats.Source`):

- one hall: the same figures, grouped and named as the hall's own report, from the
  hall's shipped profile (time zone, day start, satisfaction levels, names);
- a region or the company: every figure over all their halls' legs (counts are the
  halls' sums; a percentile is the percentile of all the legs, not a mean of the
  halls'); services grouped by code (templates keep them alike), counters and clerks
  with their hall (``"<hall>/<counter>"``): counter 1 of two halls is two counters.
  The hours and days are those of the halls' time zone when they share one (else
  UTC), the share satisfied is judged by their levels and target when they share
  them (else the defaults: three levels, 80 %).

Beside the queue's figures, a report carries the scope's complaints and cases, each
hall's and their sum (server/central/deadlines.py): the hall's own report has no such
section, so ``complaints``, ``cases`` and ``as_of`` are the central report's additions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import Engine

from ..core.calendar import HallCalendar
from ..core.satisfaction import Level, Satisfaction
from ..reports.figures import Period, build_report
from ..store.stats import Source, Statistics
from . import schema as central
from .deadlines import figures
from .store import Refused


@dataclass(frozen=True)
class Named:
    """A service or counter as a report names it."""

    name_zh: str
    name_en: str


@dataclass(frozen=True)
class HallView:
    """A hall, a region or the company as a report sees it (server.reports.figures.Hall)."""

    name_zh: str
    name_en: str
    calendar: HallCalendar
    satisfaction: Satisfaction
    services: dict[Any, Named] = field(default_factory=dict)
    counters: dict[Any, Named] = field(default_factory=dict)


def _calendar(profile: dict[str, Any]) -> HallCalendar:
    hours, minutes = (int(part) for part in str(profile.get("day_starts_at", "00:00")).split(":"))
    return HallCalendar(timezone=str(profile.get("timezone", "UTC")), day_starts_at=time(hours, minutes))


def _satisfaction(profile: dict[str, Any]) -> Satisfaction:
    shipped = profile.get("satisfaction")
    if not isinstance(shipped, dict) or not shipped.get("levels"):
        return Satisfaction()
    levels = tuple(
        Level(lv["code"], lv["name_zh"], lv["name_en"], int(lv["score"]), bool(lv["satisfied"]))
        for lv in shipped["levels"]
    )
    return Satisfaction(levels=levels, target=int(shipped.get("target", 80)))


def hall_view(profile: dict[str, Any]) -> HallView:
    """One hall from its shipped profile: its report here equals its own."""
    return HallView(
        name_zh=str(profile.get("name_zh", "")),
        name_en=str(profile.get("name_en", "")),
        calendar=_calendar(profile),
        satisfaction=_satisfaction(profile),
        services={s["code"]: Named(s["name_zh"], s["name_en"]) for s in profile.get("services", [])},
        counters={c["number"]: Named(c["name_zh"], c["name_en"]) for c in profile.get("counters", [])},
    )


def group_view(name_zh: str, name_en: str, halls: list[dict[str, Any]]) -> HallView:
    """Several halls: shared zone and levels where they agree, services by code, counters by hall."""
    profiles = [h["profile"] or {} for h in halls]
    zones = {(p.get("timezone", "UTC"), p.get("day_starts_at", "00:00")) for p in profiles}
    calendar = _calendar(profiles[0]) if len(zones) == 1 and profiles else HallCalendar()
    levels = {repr(p.get("satisfaction")) for p in profiles}
    satisfaction = _satisfaction(profiles[0]) if len(levels) == 1 and profiles else Satisfaction()
    services: dict[Any, Named] = {}
    counters: dict[Any, Named] = {}
    for hall, profile in zip(halls, profiles, strict=True):
        one = hall_view(profile)
        for code, named in one.services.items():
            services.setdefault(code, named)
        for number, named in one.counters.items():
            counters[f"{hall['hall_id']}/{number}"] = Named(
                f"{one.name_zh} {named.name_zh}", f"{one.name_en} {named.name_en}"
            )
    return HallView(name_zh, name_en, calendar, satisfaction, services, counters)


def parse_scope(value: str | None) -> tuple[str, str | None]:
    """``company`` (default), ``region:<region>`` or ``hall:<hall id>``."""
    if value in (None, "", "company"):
        return "company", None
    kind, _, name = value.partition(":")
    if kind not in ("region", "hall") or not name:
        raise Refused(
            400,
            "bad_scope",
            f"scope: expected company, region:<region> or hall:<hall>; got {value!r}",
            zh=f"scope 须为 company、region:<区域> 或 hall:<营业厅>，收到 {value!r}",
        )
    return kind, name


class CentralReports:
    """Reports over the central store, for a scope of halls."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def report(
        self, halls: list[dict[str, Any]], scope: str | None, period: Period, now: datetime
    ) -> dict[str, Any]:
        """The hall's report over the scope's halls, with their complaints and cases (``deadlines``)."""
        kind, name = parse_scope(scope)
        if kind == "hall":
            chosen = [h for h in halls if h["hall_id"] == name]
            if not chosen:
                raise Refused(404, "unknown_hall", f"no hall {name!r}", zh=f"没有营业厅 {name!r}")
            view = hall_view(chosen[0]["profile"] or {})
        elif kind == "region":
            chosen = [h for h in halls if h["region"] == name]
            if not chosen:
                raise Refused(
                    404, "unknown_region", f"no hall in region {name!r}", zh=f"区域 {name!r} 没有营业厅"
                )
            view = group_view(f"区域 {name}", f"Region {name}", chosen)
        else:
            chosen = halls
            view = group_view("全公司", "Company", chosen)
        source = Source(
            central.tickets,
            central.ticket_legs,
            halls=tuple(h["hall_id"] for h in chosen),
            per_hall=kind != "hall",
        )
        statistics = Statistics(self.engine, view.calendar, view.satisfaction, source)
        answer = build_report(statistics, view, period)
        answer["scope"] = {"kind": kind, "name": name, "halls": [h["hall_id"] for h in chosen]}
        answer.update(figures(self.engine, chosen, period, now))
        return answer
