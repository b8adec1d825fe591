"""A report as rows and columns: one layout for the CSV, the workbook and the PDF: the same numbers.

Each row is one group of one section (the hall's total, an hour or day, a
service, a counter, a clerk, a hand-off path); each column one figure of the
report's JSON, read from it as it is (no figure is worked out here). Headers
carry both languages ("办结 Served"), so one header row serves every reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Column:
    """One figure: its machine name, its header in Chinese and English, and where it is in a group."""

    name: str
    zh: str
    en: str
    read: Callable[[dict[str, Any]], Cell]

    @property
    def header(self) -> str:
        return f"{self.zh} {self.en}"


def _figure(section: str, name: str) -> Callable[[dict[str, Any]], Cell]:
    def read(group: dict[str, Any]) -> Cell:
        value: Cell = group.get(section, {}).get(name)
        return value

    return read


def _level(code: str) -> Callable[[dict[str, Any]], Cell]:
    def read(group: dict[str, Any]) -> Cell:
        levels = group.get("satisfaction", {}).get("levels")
        return None if levels is None else int(levels.get(code, 0))

    return read


#: The columns every row has, before the site's rating levels.
FIGURES: tuple[Column, ...] = (
    Column("issued", "取号", "Issued", _figure("tickets", "issued")),
    Column("served", "办结", "Served", _figure("tickets", "served")),
    Column("no_show", "过号", "No-show", _figure("tickets", "no_show")),
    Column("cancelled", "取消", "Cancelled", _figure("tickets", "cancelled")),
    Column("transferred", "转出", "Transferred out", _figure("tickets", "transferred")),
    Column("transferred_in", "转入", "Transferred in", _figure("tickets", "transferred_in")),
    Column("wait_count", "等候人次", "Waits", _figure("waiting", "count")),
    Column("wait_mean", "平均等候(秒)", "Mean wait (s)", _figure("waiting", "mean")),
    Column("wait_p50", "等候P50(秒)", "Wait p50 (s)", _figure("waiting", "p50")),
    Column("wait_p90", "等候P90(秒)", "Wait p90 (s)", _figure("waiting", "p90")),
    Column("service_count", "办理人次", "Services", _figure("service_time", "count")),
    Column("service_mean", "平均办理(秒)", "Mean service (s)", _figure("service_time", "mean")),
    Column("service_p50", "办理P50(秒)", "Service p50 (s)", _figure("service_time", "p50")),
    Column("service_p90", "办理P90(秒)", "Service p90 (s)", _figure("service_time", "p90")),
    Column("ratings", "评价数", "Ratings", _figure("satisfaction", "ratings")),
    Column("satisfied", "满意数", "Satisfied", _figure("satisfaction", "satisfied")),
    Column("share", "满意率", "Share satisfied", _figure("satisfaction", "share")),
    Column("index", "满意度指数", "Satisfaction index", _figure("satisfaction", "index")),
    Column("target_met", "达标", "Target met", _figure("satisfaction", "target_met")),
)


@dataclass(frozen=True)
class Section:
    """A part of a report: ``hall``, ``hour`` or ``day``, ``service``, ``counter``, ``clerk``, ``handoff``."""

    name: str
    zh: str
    en: str


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("hall", "全厅", "Hall"),
        Section("hour", "时段", "Hours"),
        Section("day", "日期", "Days"),
        Section("service", "业务", "Services"),
        Section("counter", "窗口", "Counters"),
        Section("clerk", "营业员", "Clerks"),
        Section("handoff", "内转", "Hand-offs"),
    )
}
#: The order of a report's sections in every file (a JSON object's keys come back sorted).
ORDER = ("hour", "day", "service", "counter", "clerk")
#: The leading columns: which section, which group, its names.
LEADING = (
    Column("section", "部分", "Section", lambda g: None),
    Column("key", "分组", "Group", lambda g: None),
    Column("name_zh", "名称", "Name (zh)", lambda g: None),
    Column("name_en", "名称(英)", "Name (en)", lambda g: None),
)


@dataclass(frozen=True)
class Table:
    """A report laid out: the columns (the site's levels after the figures), then each section's rows."""

    columns: tuple[Column, ...]
    sections: list[tuple[Section, list[list[Cell]]]]

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    def rows(self) -> Iterator[list[Cell]]:
        for _section, rows in self.sections:
            yield from rows


def columns(report: dict[str, Any]) -> tuple[Column, ...]:
    """Every column: the leading four, the figures, one per rating level the site offers."""
    levels = tuple(
        Column(f"level_{lv['code']}", lv["name_zh"], lv["name_en"], _level(lv["code"]))
        for lv in report["satisfaction"]["levels"]
    )
    return (*LEADING, *FIGURES, *levels)


def _key(section: str, key: Any) -> Cell:
    """A group's key as a reader says it: hour 9 → ``09:00``; the legs at no counter → empty."""
    if key is None:
        return None
    if section == "hour":
        return f"{int(key):02d}:00"
    return key if isinstance(key, int | str) else str(key)


#: How the legs that never reached a counter (cancelled while waiting) are named by counter and clerk.
NOWHERE = ("未到窗口", "not at a counter")


def _names(section: str, group: dict[str, Any]) -> tuple[Cell, Cell]:
    if group.get("key") is None and section in ("counter", "clerk"):
        return NOWHERE
    return group.get("name_zh"), group.get("name_en")


def layout(report: dict[str, Any]) -> Table:
    """The report's rows, section by section: the hall, the time groups, services, counters, clerks, paths."""
    cols = columns(report)
    figures = cols[len(LEADING) :]
    hall = report["hall"]

    def row(section: str, key: Cell, names: tuple[Cell, Cell], group: dict[str, Any]) -> list[Cell]:
        return [section, key, *names, *(c.read(group) for c in figures)]

    sections: list[tuple[Section, list[list[Cell]]]] = [
        (SECTIONS["hall"], [row("hall", "total", (hall["name_zh"], hall["name_en"]), report["total"])])
    ]
    for name in ORDER:
        if name not in report["sections"]:
            continue
        groups = report["sections"][name]
        rows = [row(name, _key(name, g["key"]), _names(name, g), g) for g in groups]
        sections.append((SECTIONS[name], rows))
    services = {g["key"]: g for g in report["sections"].get("service", [])}
    paths = []
    for path in report["handoffs"]:
        out, into = services.get(path["from"], {}), services.get(path["to"], {})
        names = (
            f"{out.get('name_zh') or path['from']}→{into.get('name_zh') or path['to']}",
            f"{out.get('name_en') or path['from']}→{into.get('name_en') or path['to']}",
        )
        cells = row("handoff", f"{path['from']}→{path['to']}", names, {})
        cells[[c.name for c in cols].index("transferred")] = path["count"]
        paths.append(cells)
    sections.append((SECTIONS["handoff"], paths))
    return Table(cols, sections)


def file_name(report: dict[str, Any], extension: str) -> str:
    """``qcall-monthly-2026-03.csv``: ASCII, so every browser and mail client keeps it."""
    period = report["period"]
    return f"qcall-{period['kind']}-{period['label']}.{extension}"
