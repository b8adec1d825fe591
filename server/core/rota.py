"""The rota (排班): who should be at which counter, when, on each day; and how that compares with now.

A rota entry is ``date, username, counter, start, end`` in the hall's local
time (``end`` after ``start``; ``24:00`` ends a day). One clerk cannot be at
two counters at once and one counter has one clerk at a time, so entries that
overlap either way are refused. A CSV import is all or nothing, with every
bad line named (the appointments import's refusal shape: ``lines``), and each
line's problem with its line, field and words in both languages (``problems``).

Comparing the rota with who is on post (:func:`compare`) gives each counter
one word: ``ok``, ``on_break``, ``missing`` (planned, nobody there),
``someone_else``, ``unplanned`` (on post, not on the rota) or ``closed``
(nobody planned, nobody there). Plain Python, no I/O.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from .appointments import AppointmentRefusal, ImportRefused
from .bilingual import Bilingual, Problem
from .model import CounterState

#: Local times of a rota: 00:00 to 23:59, and 24:00 for the end of the day.
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
_CLOCKLIKE = re.compile(r"^\d\d:\d\d$")
#: Most line errors one refused import lists.
ERRORS_SHOWN = 20
#: Most entries one import takes (a month of a large hall fits many times over).
MAX_ROWS = 5000
#: Roles that are put on post at a counter (and so may be on the rota).
ROTA_ROLES = frozenset({"staff", "admin"})

#: CSV header names (English and Chinese) → field.
_COLUMNS = {
    "date": "date",
    "日期": "date",
    "username": "username",
    "user": "username",
    "用户名": "username",
    "工号": "username",
    "counter": "counter",
    "窗口": "counter",
    "start": "start",
    "开始": "start",
    "开始时间": "start",
    "end": "end",
    "结束": "end",
    "结束时间": "end",
}
_REQUIRED = ("date", "username", "counter", "start", "end")


class RotaImportRefused(ImportRefused):
    """A rota CSV with errors: nothing of it was kept (``bad_import``, 400). ``problems``: each with its
    line, field (``""``: the line as a whole) and words in both languages; ``lines``: the same in English,
    one string each (``line 3: there is no counter '7'``), as before."""

    def __init__(self, problems: list[Problem], total: int) -> None:
        more = f" (+{total - len(problems)})" if total > len(problems) else ""
        AppointmentRefusal.__init__(
            self,
            f"导入失败，没有保存任何排班：{total} 处错误{more}",
            f"import refused, no rota entry was saved: {total} error(s){more}",
        )
        self.problems = problems
        self.lines = [f"line {p.line}: {p.en}" for p in problems]


class BadRotaEntry(AppointmentRefusal):
    """One rota entry the hall cannot take (an unknown clerk or counter, an overlap): ``bad_rota``, 409 (it
    depends on the users, the counters and the day's rota; a body of the wrong shape is 400).

    ``field``: the form field it is about (``date``, ``username``, ``counter``, ``start``, ``end``),
    or None for an overlap with the day's other entries.
    """

    code = "bad_rota"

    def __init__(self, zh: str, en: str, field: str | None = None) -> None:
        super().__init__(zh, en)
        self.field = field


@dataclass(frozen=True)
class RotaEntry:
    """One span of a rota: ``username`` should be at ``counter`` on ``day`` from ``start`` to ``end``."""

    day: date
    username: str
    counter: int
    start: str
    end: str
    #: The store's id (None before it is kept).
    id: int | None = None

    def covers(self, hhmm: str) -> bool:
        """Whether the local time ``hhmm`` ("09:30") falls in this span (start included, end not)."""
        return self.start <= hhmm < self.end

    def meets(self, other: RotaEntry) -> bool:
        """Whether the two spans overlap on the same day."""
        return self.day == other.day and self.start < other.end and other.start < self.end

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "date": self.day.isoformat(),
            "username": self.username,
            "counter": self.counter,
            "start": self.start,
            "end": self.end,
        }


#: The roles as the rota's refusals name them in Chinese.
_ROLE_ZH = {"staff": "工作人员", "admin": "管理员", "triage": "预检分诊", "supervisor": "值班长"}
#: The rota's fields (a CSV's columns) in Chinese.
_FIELD_ZH = {"date": "日期", "username": "用户名", "counter": "窗口", "start": "开始时间", "end": "结束时间"}


class RotaFieldError(Bilingual):
    """A rota entry's field the hall cannot take: which field, and why in each language.

    A ``ValueError`` whose text is the English sentence, so the CSV import's ``lines`` read as
    before; the admin form's refusal (``bad_rota``) and the import's ``problems`` carry ``field``,
    ``error_zh`` and ``error_en``, each wholly in its own language.
    """

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.field = field


def entry_from(values: Mapping[str, Any], users: Mapping[str, str], counters: Collection[int]) -> RotaEntry:
    """A rota entry from a CSV line's or an API body's fields; :class:`RotaFieldError` says which field
    is wrong, in both languages (the first of :func:`entry_problems`).

    ``users``: user name → role (only staff and admins are put on post).
    """
    problems = entry_problems(values, users, counters)
    if problems:
        raise problems[0]
    start, end = str(values.get("start") or ""), str(values.get("end") or "")
    counter = int(str(values.get("counter")).strip())
    day = date.fromisoformat(str(values.get("date")))
    return RotaEntry(day, str(values.get("username")), counter, start, end)


def entry_problems(
    values: Mapping[str, Any], users: Mapping[str, str], counters: Collection[int]
) -> list[RotaFieldError]:
    """Every field of a rota entry the hall cannot take, in the columns' order (empty: the entry is
    good): an import reports each problem of a line, not only the first."""
    problems: list[RotaFieldError] = []
    raw_day = str(values.get("date") or "")
    try:
        date.fromisoformat(raw_day)
    except ValueError:
        problems.append(
            RotaFieldError(
                "date",
                f"日期“{raw_day}”无效，应形如 2026-12-01",
                f"date {raw_day!r} is not a date like 2026-12-01",
            )
        )
    username = str(values.get("username") or "")
    role = users.get(username)
    if role is None:
        problems.append(RotaFieldError("username", f"没有用户“{username}”", f"there is no user {username!r}"))
    elif role not in ROTA_ROLES:
        problems.append(
            RotaFieldError(
                "username",
                f"用户“{username}”是{_ROLE_ZH.get(role, role)}：只有工作人员和管理员可排到窗口",
                f"user {username!r} is {role}: only staff and admins are put on post at a counter",
            )
        )
    raw_counter = str(values.get("counter") if values.get("counter") is not None else "").strip()
    if not raw_counter.isascii() or not raw_counter.isdigit() or int(raw_counter) not in counters:
        zh, en = f"没有窗口“{raw_counter}”", f"there is no counter {raw_counter!r}"
        problems.append(RotaFieldError("counter", zh, en))
    start, end = str(values.get("start") or ""), str(values.get("end") or "")
    for name, value in (("start", start), ("end", end)):
        if not _HHMM.match(value):
            problems.append(
                RotaFieldError(
                    name,
                    f"{_FIELD_ZH[name]}“{value}”无效，应形如 09:00（24:00 表示一天结束）",
                    f"{name} {value!r} is not a time like 09:00 (24:00 ends a day)",
                )
            )
    # The order is judged whenever both read as hh:mm, even out of range (25:00 then 08:00: both wrong).
    if _CLOCKLIKE.match(start) and _CLOCKLIKE.match(end) and (start == "24:00" or start >= end):
        problems.append(
            RotaFieldError(
                "end", f"开始时间 {start} 须早于结束时间 {end}", f"start {start} is not before end {end}"
            )
        )
    return problems


@dataclass(frozen=True)
class Clash:
    """Two rota entries that overlap: the later one's index, what is wrong in each language, and the
    field the two share (``username``: one clerk in two places; ``counter``: two clerks at one)."""

    index: int
    zh: str
    en: str
    field: str


def clashes(entries: Sequence[RotaEntry]) -> list[Clash]:
    """Pairs of entries that overlap: for each, the index of the later and what is wrong.

    A clerk in two places at once, or a counter with two clerks at once.
    """
    found: list[Clash] = []
    for i, entry in enumerate(entries):
        for earlier in entries[:i]:
            if not entry.meets(earlier):
                continue
            span_en = f"from {earlier.start} to {earlier.end} on {entry.day}"
            span_zh = f"{entry.day} {earlier.start}–{earlier.end}"
            if entry.username == earlier.username:
                zh = f"{entry.username} 在 {span_zh} 已排在 {earlier.counter} 号窗口"
                en = f"{entry.username} is already at counter {earlier.counter} {span_en}"
                found.append(Clash(i, zh, en, "username"))
                break
            if entry.counter == earlier.counter:
                zh = f"{entry.counter} 号窗口在 {span_zh} 已排了 {earlier.username}"
                en = f"counter {entry.counter} already has {earlier.username} {span_en}"
                found.append(Clash(i, zh, en, "counter"))
                break
    return found


def parse_csv(text: str, users: Mapping[str, str], counters: Collection[int]) -> list[RotaEntry]:
    """The rota in a CSV file (at least one entry), or :class:`RotaImportRefused` naming every bad line
    (the header is line 1).

    Columns ``date, username, counter, start, end`` (or 日期, 用户名/工号, 窗口,
    开始, 结束), in any order. Entries that overlap within the file are refused too.
    """
    text = text.removeprefix("\ufeff")  # Excel's "CSV UTF-8" starts with a byte-order mark
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        zh, en = (
            "没有列名行（date, username, counter, start, end）",
            "no header line (date, username, counter, start, end)",
        )
        raise RotaImportRefused([Problem("", zh, en, 1)], 1) from None
    columns = [_COLUMNS.get(h.strip().lower()) for h in header]
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        zh = f"缺少“{_FIELD_ZH[missing[0]]}”列（{missing[0]}）"
        raise RotaImportRefused([Problem(missing[0], zh, f"missing column {missing[0]!r}", 1)], 1)
    errors: list[Problem] = []
    entries: list[RotaEntry] = []
    lines: list[int] = []
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(entries) >= MAX_ROWS:
                zh, en = f"一个文件最多 {MAX_ROWS} 条排班", f"more than {MAX_ROWS} entries in one file"
                errors.append(Problem("", zh, en, number))
                break
            values = {col: cell.strip() for col, cell in zip(columns, row, strict=False) if col}
            problems = entry_problems(values, users, counters)
            if problems:  # every problem of the line, each with its column
                errors += [Problem(p.field, p.message_zh, p.message_en, number) for p in problems]
            else:
                entries.append(entry_from(values, users, counters))
                lines.append(number)
    except csv.Error as exc:
        # The csv module's own words are English only.
        zh = "无法按 CSV 读取此行（例如字段过长、引号没有配对）"
        errors.append(Problem("", zh, f"not CSV ({exc})", reader.line_num))
    errors += [Problem(c.field, c.zh, c.en, lines[c.index]) for c in clashes(entries)]
    if not entries and not errors:
        errors.append(Problem("", "列名行之后没有排班", "the CSV holds no rota entries after its header", 2))
    if errors:
        errors.sort(key=lambda p: p.line or 0)
        raise RotaImportRefused(errors[:ERRORS_SHOWN], len(errors))
    return entries


class Staffing(StrEnum):
    """A counter now, the rota against who is on post."""

    OK = "ok"
    ON_BREAK = "on_break"
    MISSING = "missing"
    SOMEONE_ELSE = "someone_else"
    UNPLANNED = "unplanned"
    CLOSED = "closed"


@dataclass(frozen=True)
class CounterStaffing:
    """Who should be at a counter now and who is: the rota's entries covering now, the post, a verdict.

    ``planned_at``: for each planned clerk on post at another counter, that counter.
    """

    counter: int
    planned: tuple[RotaEntry, ...]
    state: Staffing
    on_post: str | None = None
    post_since: datetime | None = None
    break_reason: str | None = None
    break_since: datetime | None = None
    planned_at: tuple[tuple[str, int], ...] = ()

    def as_dict(self, now: datetime) -> dict[str, Any]:
        on_break = None
        if self.break_since is not None:
            on_break = {
                "reason": self.break_reason,
                "since": self.break_since.isoformat(),
                "seconds": max(0, int((now - self.break_since).total_seconds())),
            }
        return {
            "counter": self.counter,
            "state": self.state.value,
            "planned": [e.as_dict() for e in self.planned],
            "on_post": self.on_post,
            "post_since": self.post_since.isoformat() if self.post_since else None,
            "break": on_break,
            "planned_at": dict(self.planned_at),
        }


def compare(
    counters: Iterable[int], entries: Sequence[RotaEntry], states: Sequence[CounterState], hhmm: str
) -> list[CounterStaffing]:
    """Each counter's staffing at local time ``hhmm`` of the rota's day: the rota ``entries`` of that
    day against the counters' ``states`` (who is on post, on a break)."""
    by_counter = {s.number: s for s in states}
    posted = {s.post: s.number for s in states if s.post}
    out = []
    for number in counters:
        planned = tuple(e for e in entries if e.counter == number and e.covers(hhmm))
        state = by_counter.get(number)
        clerk = state.post if state else None
        names = {e.username for e in planned}
        if planned and clerk in names:
            verdict = Staffing.ON_BREAK if state and state.break_since else Staffing.OK
        elif planned:
            verdict = Staffing.SOMEONE_ELSE if clerk else Staffing.MISSING
        else:
            verdict = Staffing.UNPLANNED if clerk else Staffing.CLOSED
        elsewhere = tuple(
            (name, posted[name]) for name in sorted(names) if name in posted and posted[name] != number
        )
        out.append(
            CounterStaffing(
                number,
                planned,
                verdict,
                clerk,
                state.post_since if state and clerk else None,
                state.break_reason if state and clerk else None,
                state.break_since if state and clerk else None,
                elsewhere,
            )
        )
    return out
