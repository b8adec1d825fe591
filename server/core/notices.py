"""Notices (公告): what a hall posts on its lobby screens and kiosks besides the queue, and when.

Four kinds, in the hall's words: ``notice`` (news, a plain text), ``tariff``
(电价/水价: a table with bilingual column headings and rows), ``outage``
(停电计划: an area, from, to) and ``hotline`` (a number to call, with a line
of text). Every notice is bilingual and has a schedule: it shows from
``starts_at`` (default: now) until ``ends_at`` (default: ``default_days``
after the start, ``[notices] default_days``), unless it is withdrawn. A
notice past its end is *expired*; one not yet started is *scheduled*.

:func:`checked` turns a draft (what an admin typed) into the fields to keep,
or refuses it with :class:`BadNotice` naming the field, in both languages:
nothing is kept from a refused draft. Plain Python, no I/O; the store keeps
the result and the hub tells the screens (``notices_changed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from .errors import QueueError

NoticeKind = Literal["notice", "tariff", "outage", "hotline"]
NOTICE_KINDS: tuple[NoticeKind, ...] = ("notice", "tariff", "outage", "hotline")
NoticeState = Literal["scheduled", "current", "expired", "withdrawn"]

#: Longest texts, in characters (the columns' widths): a screen shows a title on one line.
TITLE_ZH, TITLE_EN = 80, 120
BODY_ZH, BODY_EN = 500, 1000
AREA_ZH, AREA_EN = 120, 200
#: A tariff's table: readable from 3 m on a lobby screen's content zone.
MAX_COLUMNS, MAX_ROWS, MAX_CELL = 6, 20, 40
HEADING_ZH, HEADING_EN = 20, 40
#: The longest schedule one notice may have (a year): a forgotten notice must end some day.
MAX_DAYS = 366


class BadNotice(QueueError):
    """A draft the hall cannot post: ``field`` says which, in both languages (400 ``bad_notice``)."""

    code = "bad_notice"

    def __init__(self, name: str, zh: str, en: str) -> None:
        super().__init__(f"'{name}': {en}")
        self.field = name
        self.message_zh = zh
        self.message_en = en


class UnknownNotice(QueueError):
    """No notice has this id (404 ``not_found``)."""

    code = "not_found"


class NoticeWithdrawn(QueueError):
    """A withdrawn notice is neither edited nor withdrawn again (409 ``notice_withdrawn``)."""

    code = "notice_withdrawn"


@dataclass(frozen=True)
class TariffColumn:
    zh: str
    en: str


@dataclass(frozen=True)
class Tariff:
    """A tariff's table: one heading per column in each language, rows of cells (text: "0.5283 元")."""

    columns: tuple[TariffColumn, ...]
    rows: tuple[tuple[str, ...], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns], "rows": [list(r) for r in self.rows]}

    @staticmethod
    def from_dict(value: dict[str, Any]) -> Tariff:
        columns = tuple(TariffColumn(str(c.get("zh", "")), str(c.get("en", ""))) for c in value["columns"])
        return Tariff(columns, tuple(tuple(str(cell) for cell in row) for row in value["rows"]))


@dataclass(frozen=True)
class NoticeDraft:
    """What an admin sends: texts as typed, times as ISO 8601 (a time without an offset is hall time)."""

    kind: NoticeKind
    title_zh: str = ""
    title_en: str = ""
    body_zh: str = ""
    body_en: str = ""
    tariff: dict[str, Any] | None = None
    area_zh: str = ""
    area_en: str = ""
    outage_from: str | None = None
    outage_to: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    position: int = 0


@dataclass(frozen=True)
class NoticeFields:
    """A checked draft: what the store keeps."""

    kind: NoticeKind
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    tariff: Tariff | None
    area_zh: str
    area_en: str
    outage_from: datetime | None
    outage_to: datetime | None
    starts_at: datetime
    ends_at: datetime
    position: int


@dataclass(frozen=True)
class Notice:
    """A kept notice: its fields, who made and last changed it, and whether it was withdrawn."""

    id: int
    fields: NoticeFields
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None

    def state(self, now: datetime) -> NoticeState:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if now < self.fields.starts_at:
            return "scheduled"
        if now >= self.fields.ends_at:
            return "expired"
        return "current"

    def showing(self, now: datetime) -> bool:
        return self.state(now) == "current"

    def public(self) -> dict[str, Any]:
        """What a screen shows: the texts, the table, the power cut, the end. No names of staff."""
        f = self.fields
        return {
            "id": self.id,
            "kind": f.kind,
            "title_zh": f.title_zh,
            "title_en": f.title_en,
            "body_zh": f.body_zh,
            "body_en": f.body_en,
            "tariff": f.tariff.as_dict() if f.tariff else None,
            "area_zh": f.area_zh,
            "area_en": f.area_en,
            "outage_from": _iso(f.outage_from),
            "outage_to": _iso(f.outage_to),
            "starts_at": f.starts_at.isoformat(),
            "ends_at": f.ends_at.isoformat(),
            "position": f.position,
        }

    def as_dict(self, now: datetime) -> dict[str, Any]:
        """The admin's view: the public part, the state now, who and when."""
        return {
            **self.public(),
            "state": self.state(now),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
            "withdrawn_at": _iso(self.withdrawn_at),
            "withdrawn_by": self.withdrawn_by,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def checked(draft: NoticeDraft, now: datetime, default_days: int, zone: tzinfo) -> NoticeFields:
    """The draft as fields to keep, or :class:`BadNotice` for the first field that is wrong."""
    if draft.kind not in NOTICE_KINDS:
        raise BadNotice("kind", "公告类型无效", f"expected one of {', '.join(NOTICE_KINDS)}")
    texts = {k: (getattr(draft, k) or "").strip() for k in ("title_zh", "title_en", "body_zh", "body_en")}
    if not texts["title_zh"] and not texts["title_en"]:
        raise BadNotice("title_zh", "请填写标题（中文或英文）", "a title is needed, in Chinese or English")
    _fits("title_zh", texts["title_zh"], TITLE_ZH)
    _fits("title_en", texts["title_en"], TITLE_EN)
    _fits("body_zh", texts["body_zh"], BODY_ZH)
    _fits("body_en", texts["body_en"], BODY_EN)
    area_zh, area_en = (draft.area_zh or "").strip(), (draft.area_en or "").strip()
    _fits("area_zh", area_zh, AREA_ZH)
    _fits("area_en", area_en, AREA_EN)
    if not 0 <= draft.position <= 999:
        raise BadNotice("position", "显示顺序须为 0–999", "the display order must be 0 to 999")
    tariff = _tariff(draft.tariff) if draft.kind == "tariff" else None
    outage_from = outage_to = None
    if draft.kind == "outage":
        if not area_zh and not area_en:
            raise BadNotice("area_zh", "请填写停电区域", "the area of the power cut is needed")
        outage_from = _moment("outage_from", draft.outage_from, zone)
        outage_to = _moment("outage_to", draft.outage_to, zone)
        if outage_from is None:
            raise BadNotice("outage_from", "请填写停电开始时间", "the start of the power cut is needed")
        if outage_to is None:
            raise BadNotice("outage_to", "请填写停电结束时间", "the end of the power cut is needed")
        if outage_to <= outage_from:
            raise BadNotice(
                "outage_to", "停电结束时间须晚于开始时间", "the power cut must end after it starts"
            )
    starts_at = _moment("starts_at", draft.starts_at, zone) or now
    ends_at = _moment("ends_at", draft.ends_at, zone) or starts_at + timedelta(days=default_days)
    if ends_at <= starts_at:
        raise BadNotice("ends_at", "结束时间须晚于开始时间", "the notice must end after it starts")
    if ends_at - starts_at > timedelta(days=MAX_DAYS):
        longest = f"a notice shows for at most {MAX_DAYS} days"
        raise BadNotice("ends_at", f"公告最长显示 {MAX_DAYS} 天", longest)
    return NoticeFields(
        draft.kind,
        texts["title_zh"],
        texts["title_en"],
        texts["body_zh"],
        texts["body_en"],
        tariff,
        area_zh,
        area_en,
        outage_from,
        outage_to,
        starts_at,
        ends_at,
        draft.position,
    )


def _fits(name: str, text: str, longest: int) -> None:
    if len(text) > longest:
        raise BadNotice(name, f"最多 {longest} 个字", f"at most {longest} characters (got {len(text)})")


def _moment(name: str, value: str | None, zone: tzinfo) -> datetime | None:
    """An ISO 8601 time; one without an offset is read in the hall's zone. None or "" → None."""
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        expected = f"expected a time such as 2026-12-01T09:00 or 2026-12-01T09:00+08:00, got {value!r}"
        raise BadNotice(name, "时间格式无效", expected) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def _tariff(value: dict[str, Any] | None) -> Tariff:
    if not value or not isinstance(value, dict):
        raise BadNotice("tariff", "请填写价目表", "a tariff needs its table")
    columns = value.get("columns")
    rows = value.get("rows")
    if not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS:
        raise BadNotice("tariff.columns", f"价目表须有 1–{MAX_COLUMNS} 列", f"1 to {MAX_COLUMNS} columns")
    headings = []
    for i, column in enumerate(columns):
        if not isinstance(column, dict) or set(column) - {"zh", "en"}:
            raise BadNotice(f"tariff.columns.{i}", "列标题须为 {zh, en}", "a column heading is {zh, en}")
        zh, en = str(column.get("zh") or "").strip(), str(column.get("en") or "").strip()
        if not zh and not en:
            raise BadNotice(f"tariff.columns.{i}", "请填写列标题", "a column needs a heading")
        _fits(f"tariff.columns.{i}.zh", zh, HEADING_ZH)
        _fits(f"tariff.columns.{i}.en", en, HEADING_EN)
        headings.append(TariffColumn(zh, en))
    if not isinstance(rows, list) or not rows:
        raise BadNotice("tariff.rows", "价目表至少要有一行", "a tariff needs at least one row")
    if len(rows) > MAX_ROWS:
        raise BadNotice("tariff.rows", f"价目表最多 {MAX_ROWS} 行", f"at most {MAX_ROWS} rows")
    kept = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(headings):
            cells_zh = f"第 {i + 1} 行须有 {len(headings)} 格"
            raise BadNotice(f"tariff.rows.{i}", cells_zh, f"row {i + 1} needs {len(headings)} cells")
        cells = []
        for j, cell in enumerate(row):
            if not isinstance(cell, str | int | float) or isinstance(cell, bool):
                raise BadNotice(f"tariff.rows.{i}.{j}", "单元格须为文字", "a cell is a text")
            text = str(cell).strip()
            _fits(f"tariff.rows.{i}.{j}", text, MAX_CELL)
            cells.append(text)
        if not any(cells):
            raise BadNotice(f"tariff.rows.{i}", f"第 {i + 1} 行是空的", f"row {i + 1} is empty")
        kept.append(tuple(cells))
    return Tariff(tuple(headings), tuple(kept))


def next_change(notices: Iterable[Notice], now: datetime) -> datetime | None:
    """The first start or end after ``now`` of a notice not withdrawn: when the screens must change."""
    moments = [
        moment
        for n in notices
        if n.withdrawn_at is None
        for moment in (n.fields.starts_at, n.fields.ends_at)
        if moment > now
    ]
    return min(moments, default=None)


def in_order(notices: Sequence[Notice]) -> list[Notice]:
    """The display order: ``position``, then the newest start first, then the id."""
    return sorted(notices, key=lambda n: (n.fields.position, -n.fields.starts_at.timestamp(), n.id))
