"""Appointments (预约): bookings, their quota per half-day, check-in rules, names kept masked.

Plain Python, no I/O. A booking holds a service (optionally a counter or a
named resource such as a doctor), a slot and a short code. Booking and
cancelling run here against an :class:`AppointmentStore` (one transaction
each, audited with the change); checking in issues a ticket through the
queue core's own issue path, which claims the booking in the ticket's
transaction (:class:`AppointmentClaim` on an ``IssueRequest``), so a code used
twice, even by two kiosks at once, gives exactly one ticket.

Every refusal a visitor may read carries its message in Chinese and in English
(:class:`AppointmentRefusal`): the kiosk shows both.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from .bilingual import Bilingual, Problem, shown
from .calendar import Clock, HallCalendar, utc_now
from .errors import QueueError
from .model import Service

#: Characters of a generated code: no 0/O and no 1/I, which a visitor confuses.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 6
#: What a code may look like after normalisation: generated ones, and a booking system's own.
_CODE = re.compile(r"^[A-Z0-9]{4,16}$")
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")
SOURCES = ("phone", "web", "onsite", "import")
#: Most line errors one refused import lists (the file may be thousands of lines of one mistake).
IMPORT_ERRORS_SHOWN = 20
#: Most rows one import takes (a day of a large hospital's bookings fits many times over).
IMPORT_MAX_ROWS = 5000


class AppointmentStatus(StrEnum):
    """Where a booking is: booked, then checked in at the kiosk, or missed, or cancelled."""

    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


Half = Literal["am", "pm"]


# -- refusals -----------------------------------------------------------------------------


class AppointmentRefusal(QueueError):
    """A refusal shown to a visitor or a booking clerk: one sentence in each language."""

    code = "appointment_refused"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.message_zh = zh
        self.message_en = en


class UnknownAppointment(AppointmentRefusal):
    code = "unknown_appointment"


class AppointmentUsed(AppointmentRefusal):
    code = "appointment_used"


class AppointmentCancelled(AppointmentRefusal):
    code = "appointment_cancelled"


class AppointmentMissed(AppointmentRefusal):
    code = "appointment_missed"


class NotToday(AppointmentRefusal):
    code = "appointment_not_today"


class TooEarly(AppointmentRefusal):
    code = "too_early"


class TooLate(AppointmentRefusal):
    code = "too_late"


class SlotFull(AppointmentRefusal):
    code = "slot_full"


class BookingRefused(AppointmentRefusal):
    """The booking phone missed too many appointments lately (the configured no-show rule)."""

    code = "booking_refused"


class BadBooking(AppointmentRefusal):
    """A booking the hall cannot take as asked: a service without appointments, a past day, a code taken,
    an unknown counter (the API answers 409: it depends on the site, the day and the bookings)."""

    code = "bad_booking"


class ImportRefused(AppointmentRefusal):
    """A CSV import with errors: nothing of it was kept (``bad_import``, 400). ``problems``: each with its
    line, field (the column; ``""``: the line as a whole) and words in both languages; ``lines``: the same
    in English, one string each (``line 3: date '2026-13-01' is not a date like 2026-12-01``), as before."""

    code = "bad_import"

    def __init__(self, problems: list[Problem], total: int) -> None:
        more = f" (+{total - len(problems)})" if total > len(problems) else ""
        super().__init__(
            f"导入失败，没有保存任何预约：{total} 处错误{more}",
            f"import refused, nothing was saved: {total} error(s){more}",
        )
        self.problems = problems
        self.lines = [f"line {p.line}: {p.en}" for p in problems]


class BookingFieldError(Bilingual):
    """A booking's field the hall cannot take: which field (the CSV's column), and why in each language.

    A ``ValueError`` whose text is the English sentence, as the import's ``lines`` and ``bad_booking``
    read it before."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(zh, en)
        self.field = field


# -- plain data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Appointment:
    """One booking. ``phone`` and ``name`` never leave the hub unmasked (:meth:`staff_view`)."""

    id: str
    code: str
    business_day: date
    half: Half
    service: str
    slot_start: datetime
    slot_end: datetime
    source: str
    status: AppointmentStatus
    created_at: datetime
    counter: int | None = None
    resource: str | None = None
    phone: str | None = None
    name: str | None = None
    checked_in_at: datetime | None = None

    def staff_view(self, calendar: HallCalendar) -> dict[str, Any]:
        """The booking as staff lists show it: phone and name masked, times in the hall's zone."""
        return {
            "id": self.id,
            "code": self.code,
            "business_day": self.business_day.isoformat(),
            "half": self.half,
            "service": self.service,
            "counter": self.counter,
            "resource": self.resource,
            "slot_start": calendar.local(self.slot_start).isoformat(),
            "slot_end": calendar.local(self.slot_end).isoformat(),
            "phone": mask_phone(self.phone),
            "name": mask_name(self.name),
            "source": self.source,
            "status": self.status.value,
            "checked_in_at": self.checked_in_at.isoformat() if self.checked_in_at else None,
        }

    def kiosk_view(self, calendar: HallCalendar) -> dict[str, Any]:
        """What the kiosk may show to pick one of several bookings of a phone: no phone, no name."""
        return {
            "id": self.id,
            "service": self.service,
            "counter": self.counter,
            "slot_start": calendar.local(self.slot_start).strftime("%H:%M"),
            "slot_end": calendar.local(self.slot_end).strftime("%H:%M"),
        }


@dataclass(frozen=True)
class BookingDraft:
    """A booking as asked for (API body, CSV line), before it has a code, a slot or a quota."""

    service: str
    day: date
    start: time
    source: str
    code: str | None = None
    counter: int | None = None
    resource: str | None = None
    phone: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class AppointmentRules:
    """The site's appointment rules (``[appointments]`` and each service's capacity)."""

    #: Per service: places per half-day (号源), e.g. ``{"REG": {"am": 20, "pm": 20}}``.
    #: A service absent here takes no appointments.
    capacity: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Per service: the slot length in minutes (default :attr:`slot_minutes`).
    slot_minutes_by_service: Mapping[str, int] = field(default_factory=dict)
    slot_minutes: int = 30
    #: Check-in opens this long before the slot starts ...
    early_minutes: int = 30
    #: ... and takes an appointment until this long after it starts.
    late_minutes: int = 15
    #: Later than that: a walk-in ticket the same day, or refused.
    late: Literal["walk_in", "refuse"] = "walk_in"
    #: Local time where the morning's quota ends and the afternoon's begins.
    noon: time = time(12, 0)
    #: ``no_show_limit`` missed bookings of one phone within ``no_show_days``: no new booking.
    no_show_limit: int | None = None
    no_show_days: int = 90
    #: The site calls patients by name (masked): the booked name is kept, else never.
    call_by_name: bool = False
    #: Days after the appointment's day when its name is erased.
    name_retention_days: int = 30

    def slot_length(self, service: str) -> timedelta:
        return timedelta(minutes=self.slot_minutes_by_service.get(service, self.slot_minutes))

    def half_of(self, start: time) -> Half:
        return "am" if start < self.noon else "pm"


@dataclass(frozen=True)
class AppointmentClaim:
    """What an ``IssueRequest`` carries for a check-in; the core claims the booking with the ticket.

    ``expect``: the statuses the booking may be claimed from (a late visitor's
    booking that the sweep already marked ``no_show`` becomes a walk-in).
    ``due_at``: the ticket's due time; None makes it a walk-in.
    """

    id: str
    due_at: datetime | None
    expect: tuple[str, ...] = (AppointmentStatus.BOOKED.value,)


Arrival = Literal["on_time", "walk_in"]


# -- pure functions -----------------------------------------------------------------------


def new_code() -> str:
    """A short code a visitor types on the kiosk: 6 characters, none of 0/O/1/I."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_appointment_id() -> str:
    return "a" + secrets.token_urlsafe(9)


def normalize_code(text: str) -> str | None:
    """The code in what a visitor typed or a scanner sent, or None when it cannot be one.

    Case and spaces or dashes do not matter; a scanned QR code may hold a link
    ending in the code (``…/a/K7M2QX`` or ``…?code=K7M2QX``). O and I are read as
    0 and 1: generated codes have none of the four, a booking system's codes
    may have the digits.
    """
    text = text.strip()
    for sep in ("=", "/"):
        text = text.rsplit(sep, 1)[-1]
    text = re.sub(r"[\s-]", "", text).upper().replace("O", "0").replace("I", "1")
    return text if _CODE.match(text) else None


def normalize_phone(text: str) -> str | None:
    """Digits (and a leading +) of a phone number, or None when it cannot be one."""
    text = re.sub(r"[\s()-]", "", text)
    return text if _PHONE.match(text) else None


def mask_phone(phone: str | None) -> str | None:
    """``138****5678``: enough for a clerk to ask "is this yours?", not enough to call."""
    if not phone:
        return None
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * (len(phone) - 2) + phone[-2:]


def mask_name(name: str | None) -> str | None:
    """A name as it may be shown or announced: 张*明, 张*, 欧**明, J*** S****.

    Chinese names keep their first and last character (two characters: the
    first only); Latin names keep the first letter of each word.
    """
    if not name:
        return None
    name = name.strip()
    if any(ch.isspace() for ch in name) or name.isascii():
        return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def slot_of(
    draft: BookingDraft, calendar: HallCalendar, rules: AppointmentRules
) -> tuple[datetime, datetime]:
    """The slot's start and end as UTC moments (the draft's day and time are the hall's local ones)."""
    local = datetime.combine(draft.day, draft.start, tzinfo=calendar.zone)
    start = local.astimezone(UTC)
    return start, start + rules.slot_length(draft.service)


def arrival(
    appointment: Appointment, now: datetime, calendar: HallCalendar, rules: AppointmentRules
) -> Arrival:
    """Whether a visitor checking in ``now`` gets an appointment ticket, a walk-in one, or a refusal."""
    status = appointment.status
    if status is AppointmentStatus.CHECKED_IN:
        raise AppointmentUsed("此预约码已使用过", "this appointment code has been used already")
    if status is AppointmentStatus.CANCELLED:
        raise AppointmentCancelled("此预约已取消", "this appointment was cancelled")
    today = calendar.business_day(now)
    if appointment.business_day != today:
        day = appointment.business_day.isoformat()
        raise NotToday(f"此预约不是今天的（{day}）", f"this appointment is not for today ({day})")
    opens = appointment.slot_start - timedelta(minutes=rules.early_minutes)
    closes = appointment.slot_start + timedelta(minutes=rules.late_minutes)
    if now < opens:
        at = calendar.local(opens).strftime("%H:%M")
        raise TooEarly(f"还未到签到时间，请于 {at} 后签到", f"too early: check-in opens at {at}")
    if now <= closes and status is AppointmentStatus.BOOKED:
        return "on_time"
    if rules.late == "walk_in":
        return "walk_in"
    at = calendar.local(closes).strftime("%H:%M")
    raise TooLate(
        f"已超过签到时间（{at}），预约已失效，请到服务台咨询",
        f"too late: check-in closed at {at}, the appointment has lapsed; please ask at the desk",
    )


def claim_for(appointment: Appointment, how: Arrival) -> AppointmentClaim:
    """The claim a check-in puts on its ticket request: due at the slot, or a walk-in."""
    if how == "on_time":
        return AppointmentClaim(appointment.id, appointment.slot_start)
    expect = (AppointmentStatus.BOOKED.value, AppointmentStatus.NO_SHOW.value)
    return AppointmentClaim(appointment.id, None, expect)


def used_refusal() -> AppointmentUsed:
    """The refusal of a claim that lost: the booking was checked in (or changed) meanwhile."""
    return AppointmentUsed("此预约码已使用过", "this appointment code has been used already")


#: CSV header names (English, and what Chinese booking systems write) → field.
_COLUMNS = {
    "code": "code",
    "预约码": "code",
    "service": "service",
    "业务": "service",
    "科室": "service",
    "date": "date",
    "日期": "date",
    "start": "start",
    "slot_start": "start",
    "time": "start",
    "时间": "start",
    "phone": "phone",
    "电话": "phone",
    "手机": "phone",
    "name": "name",
    "姓名": "name",
    "counter": "counter",
    "窗口": "counter",
    "诊室": "counter",
    "resource": "resource",
    "医生": "resource",
}
_REQUIRED = ("service", "date", "start")
#: The columns' names in Chinese, for the refusals.
_FIELD_ZH = {"service": "业务", "date": "日期", "start": "时间"}


def parse_csv(text: str, services: Collection[str]) -> list[BookingDraft]:
    """The bookings in a booking system's CSV export, or :class:`ImportRefused` with every bad line.

    The first line names the columns (``code, service, date, start, phone,
    name``, and optionally ``counter``, ``resource``; the Chinese names too).
    ``code`` may be empty (one is made). Line numbers count the header as 1.
    """
    text = text.removeprefix("\ufeff")  # Excel's "CSV UTF-8" starts with a byte-order mark
    reader = csv.reader(io.StringIO(text))
    errors: list[Problem] = []
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        zh, en = (
            "没有列名行（code, service, date, start, phone, name）",
            "no header line (code, service, date, start, phone, name)",
        )
        raise ImportRefused([Problem("", zh, en, 1)], 1) from None
    columns = [_COLUMNS.get(h.strip().lower()) for h in header]
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        zh = f"缺少“{_FIELD_ZH[missing[0]]}”列（{missing[0]}）"
        raise ImportRefused([Problem(missing[0], zh, f"missing column {missing[0]!r}", 1)], 1)
    drafts: list[BookingDraft] = []
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(drafts) >= IMPORT_MAX_ROWS:
                zh, en = (
                    f"一个文件最多 {IMPORT_MAX_ROWS} 条预约",
                    f"more than {IMPORT_MAX_ROWS} bookings in one file",
                )
                errors.append(Problem("", zh, en, number))
                break
            values = {col: cell.strip() for col, cell in zip(columns, row, strict=False) if col}
            try:
                drafts.append(_draft(values, services, "import"))
            except BookingFieldError as exc:
                errors.append(Problem(exc.field, exc.message_zh, exc.message_en, number))
    except csv.Error as exc:
        # The csv module's own words are English only.
        zh = "无法按 CSV 读取此行（例如字段过长、引号没有配对）"
        errors.append(Problem("", zh, f"not CSV ({exc})", reader.line_num))
    if errors:
        raise ImportRefused(errors[:IMPORT_ERRORS_SHOWN], len(errors))
    return drafts


def draft_from(
    values: Mapping[str, str | int | None], services: Collection[str], source: str
) -> BookingDraft:
    """A draft from an API body's fields; :class:`BadBooking` names the field that is wrong."""
    try:
        return _draft(values, services, source)
    except BookingFieldError as exc:
        raise BadBooking(f"预约有误：{exc.message_zh}", f"bad booking: {exc.message_en}") from None


def _draft(values: Mapping[str, Any], services: Collection[str], source: str) -> BookingDraft:
    service = str(values.get("service") or "")
    if service not in services:
        raise BookingFieldError(
            "service",
            f"业务 {shown(service)} 不存在或不接受预约",
            f"service {service!r} is unknown or takes no appointments",
        )
    try:
        day = date.fromisoformat(str(values.get("date") or ""))
    except ValueError:
        raise BookingFieldError(
            "date",
            f"日期 {shown(values.get('date'))} 无效，应形如 2026-12-01",
            f"date {values.get('date')!r} is not a date like 2026-12-01",
        ) from None
    raw_start = str(values.get("start") or "")
    match = re.match(r"^([01]?\d|2[0-3]):([0-5]\d)$", raw_start)
    if not match:
        raise BookingFieldError(
            "start",
            f"时间 {shown(raw_start)} 无效，应形如 09:30",
            f"start {raw_start!r} is not a time like 09:30",
        )
    code = None
    if values.get("code"):
        code = normalize_code(str(values["code"]))
        if code is None:
            raise BookingFieldError(
                "code",
                f"预约码 {shown(values['code'])} 无效，应为 4 到 16 个字母或数字",
                f"code {values['code']!r} is not 4-16 letters or digits",
            )
    phone = None
    if values.get("phone"):
        phone = normalize_phone(str(values["phone"]))
        if phone is None:
            raise BookingFieldError(
                "phone",
                f"电话 {shown(values['phone'])} 不是有效的电话号码",
                f"phone {values['phone']!r} is not a phone number",
            )
    counter = values.get("counter")
    if counter is not None and counter != "":
        try:
            counter = int(counter)
        except ValueError:
            raise BookingFieldError(
                "counter", f"窗口 {shown(counter)} 须为数字", f"counter {counter!r} is not a number"
            ) from None
    else:
        counter = None
    name = str(values.get("name") or "").strip() or None
    if name is not None and len(name) > 64:
        raise BookingFieldError("name", "姓名最多 64 个字符", "name is longer than 64 characters")
    resource = str(values.get("resource") or "").strip() or None
    if resource is not None and len(resource) > 64:
        raise BookingFieldError(
            "resource", "资源（如医生）最多 64 个字符", "resource is longer than 64 characters"
        )
    return BookingDraft(
        service=service,
        day=day,
        start=time(int(match[1]), int(match[2])),
        source=source,
        code=code,
        counter=counter,
        resource=resource,
        phone=phone,
        name=name,
    )


# -- the store it needs -------------------------------------------------------------------


class AppointmentReader(Protocol):
    def get(self, appointment_id: str) -> Appointment | None: ...

    def by_code(self, day: date, code: str) -> Appointment | None: ...

    def by_phone(self, day: date, phone: str) -> list[Appointment]: ...

    def day(self, day: date) -> list[Appointment]: ...

    def booked(self, service: str, day: date, half: str) -> int:
        """Live bookings (booked, checked in, missed) of ``service`` on ``day``'s ``half``."""


class AppointmentTx(AppointmentReader, Protocol):
    def take_place(self, service: str, day: date, half: str) -> int:
        """Count one more booking in the quota (upsert); returns how many it holds now."""

    def give_back_place(self, service: str, day: date, half: str) -> None: ...

    def code_taken(self, day: date, codes: Collection[str]) -> set[str]: ...

    def add(self, batch: Sequence[Appointment]) -> None: ...

    def set_status(
        self, appointment_id: str, expect: Collection[str], to: str, at: datetime | None = None
    ) -> bool:
        """Change the status if it is still one of ``expect``; False when someone changed it first."""

    def no_shows_since(self, phone: str, since: date) -> int: ...

    def mark_overdue(self, started_before: datetime) -> int:
        """Booked appointments whose slot started before ``started_before`` become ``no_show``; how many."""

    def erase_names(self, before: date) -> int:
        """Forget the names of appointments of days before ``before``; returns how many."""

    def audit(
        self, actor: str, action: str, target: str, at: datetime, detail: dict[str, Any], address: str
    ) -> None: ...


class AppointmentStore(Protocol):
    def transaction(self) -> AbstractContextManager[AppointmentTx]: ...

    def read(self) -> AbstractContextManager[AppointmentReader]: ...


@dataclass(frozen=True)
class Actor:
    """Who made a change (audited): a user, a booking system's token, the CLI."""

    name: str
    address: str = ""


class AppointmentBook:
    """Book, cancel, list, look up for check-in, mark no-shows, erase names."""

    def __init__(
        self,
        store: AppointmentStore,
        calendar: HallCalendar,
        services: Mapping[str, Service],
        rules: AppointmentRules,
        clock: Clock = utc_now,
        counters: Collection[int] | None = None,
    ) -> None:
        self.counters = counters
        self.store = store
        self.calendar = calendar
        self.services = services
        self.rules = rules
        self.clock = clock

    @property
    def bookable(self) -> list[str]:
        """The services that take appointments (a capacity is configured)."""
        return [code for code in self.services if code in self.rules.capacity]

    def book(self, drafts: Sequence[BookingDraft], actor: Actor) -> list[Appointment]:
        """Keep every draft, or none: one transaction, the quota checked per half-day, audited."""
        now = self.clock()
        today = self.calendar.business_day(now)
        made: list[Appointment] = []
        with self.store.transaction() as tx:
            given = [d.code for d in drafts if d.code]
            if len(set(given)) != len(given):
                twice = next(c for c in given if given.count(c) > 1)
                raise BadBooking(f"预约码 {twice} 重复", f"the code {twice} is given twice")
            for draft in drafts:
                made.append(self._one(tx, draft, now, today, made))
            tx.add(made)
            action = (
                "appointment.import"
                if len(drafts) > 1 or drafts[0].source == "import"
                else "appointment.create"
            )
            target = f"appointment:{made[0].id}" if len(made) == 1 else f"appointments:{len(made)}"
            detail = {"count": len(made), "days": sorted({a.business_day.isoformat() for a in made})}
            tx.audit(actor.name, action, target, now, detail, actor.address)
        return made

    def _one(
        self, tx: AppointmentTx, draft: BookingDraft, now: datetime, today: date, earlier: list[Appointment]
    ) -> Appointment:
        capacity = self.rules.capacity.get(draft.service)
        if draft.service not in self.services or capacity is None:
            raise BadBooking(
                f"业务 {draft.service} 不接受预约", f"the service {draft.service!r} takes no appointments"
            )
        if draft.day < today:
            raise BadBooking(f"{draft.day} 已经过去", f"{draft.day} is in the past")
        if draft.counter is not None and self.counters is not None and draft.counter not in self.counters:
            raise BadBooking(f"没有 {draft.counter} 号窗口", f"there is no counter {draft.counter}")
        if draft.source not in SOURCES:
            raise BadBooking("来源有误", f"source must be one of {', '.join(SOURCES)}")
        half = self.rules.half_of(draft.start)
        if draft.phone and self.rules.no_show_limit is not None:
            since = today - timedelta(days=self.rules.no_show_days)
            if tx.no_shows_since(draft.phone, since) >= self.rules.no_show_limit:
                raise BookingRefused(
                    f"此电话近 {self.rules.no_show_days} 天内爽约 {self.rules.no_show_limit} 次以上，"
                    "暂不能预约",
                    f"this phone missed {self.rules.no_show_limit} or more appointments in "
                    f"{self.rules.no_show_days} days: no new booking for now",
                )
        places = capacity.get(half, 0)
        if tx.take_place(draft.service, draft.day, half) > places:
            label = "上午" if half == "am" else "下午"
            raise SlotFull(
                f"{draft.day} {label}的号源已满（{places} 个）",
                f"{draft.day} {'morning' if half == 'am' else 'afternoon'} is fully booked ({places} places)",
            )
        start, end = slot_of(draft, self.calendar, self.rules)
        code = draft.code or self._free_code(tx, draft.day, earlier)
        if draft.code and (
            tx.code_taken(draft.day, [code])
            or any(a.code == code and a.business_day == draft.day for a in earlier)
        ):
            raise BadBooking(f"预约码 {code} 当天已被使用", f"the code {code} is taken on {draft.day}")
        return Appointment(
            id=new_appointment_id(),
            code=code,
            business_day=draft.day,
            half=half,
            service=draft.service,
            slot_start=start,
            slot_end=end,
            source=draft.source,
            status=AppointmentStatus.BOOKED,
            created_at=now,
            counter=draft.counter,
            resource=draft.resource,
            phone=draft.phone,
            # Kept only where the site calls by name: elsewhere nobody needs it.
            name=draft.name if self.rules.call_by_name else None,
        )

    @staticmethod
    def _free_code(tx: AppointmentTx, day: date, earlier: Iterable[Appointment]) -> str:
        mine = {a.code for a in earlier if a.business_day == day}
        while True:  # 32**6 codes a day: a clash is rare, two in a row rarer still
            code = new_code()
            if code not in mine and not tx.code_taken(day, [code]):
                return code

    def cancel(self, appointment_id: str, actor: Actor) -> Appointment:
        """Cancel a booking not used yet; its place goes back to the quota."""
        now = self.clock()
        with self.store.transaction() as tx:
            found = tx.get(appointment_id)
            if found is None:
                raise UnknownAppointment("没有此预约", "no such appointment")
            if not tx.set_status(
                found.id, [AppointmentStatus.BOOKED.value], AppointmentStatus.CANCELLED.value
            ):
                raise AppointmentUsed(
                    f"此预约为 {found.status.value}，不能取消",
                    f"this appointment is {found.status.value}: it cannot be cancelled",
                )
            tx.give_back_place(found.service, found.business_day, found.half)
            tx.audit(
                actor.name,
                "appointment.cancel",
                f"appointment:{found.id}",
                now,
                {"code": found.code},
                actor.address,
            )
        return replace(found, status=AppointmentStatus.CANCELLED)

    def day(self, day: date) -> list[Appointment]:
        """The day's bookings; missed ones are marked first, so the list never shows a stale "booked"."""
        self.sweep()
        with self.store.read() as tx:
            return tx.day(day)

    def for_code(self, text: str) -> tuple[Appointment, Arrival]:
        """Today's booking with this code and how its visitor arrives (a refusal says why not)."""
        code = normalize_code(text)
        if code is None:
            raise UnknownAppointment(
                "预约码格式不对，请核对后重新输入", "that is not an appointment code: please check it"
            )
        now = self.clock()
        with self.store.read() as tx:
            found = tx.by_code(self.calendar.business_day(now), code)
        if found is None:
            raise UnknownAppointment(
                "今天没有此预约码，请核对后重新输入", "no appointment today with this code: please check it"
            )
        return found, arrival(found, now, self.calendar, self.rules)

    def for_phone(self, text: str) -> list[tuple[Appointment, Arrival]]:
        """Today's bookings of this phone that can be checked in now (one, several, or a refusal)."""
        phone = normalize_phone(text)
        if phone is None:
            raise UnknownAppointment("电话号码格式不对", "that is not a phone number")
        now = self.clock()
        with self.store.read() as tx:
            found = tx.by_phone(self.calendar.business_day(now), phone)
        if not found:
            raise UnknownAppointment("今天没有此电话的预约", "no appointment today for this phone number")
        ready: list[tuple[Appointment, Arrival]] = []
        refusal: AppointmentRefusal | None = None
        for appointment in sorted(found, key=lambda a: a.slot_start):
            try:
                ready.append((appointment, arrival(appointment, now, self.calendar, self.rules)))
            except AppointmentRefusal as exc:
                refusal = refusal or exc
        if not ready:
            assert refusal is not None
            raise refusal
        return ready

    def sweep(self) -> int:
        """Bookings not checked in by the end of their late window become ``no_show``.

        Run at read (the day's list) and by the hub's periodic task.
        """
        now = self.clock()
        with self.store.transaction() as tx:
            return tx.mark_overdue(now - timedelta(minutes=self.rules.late_minutes))

    def erase_names(self) -> int:
        """Forget booked names older than the retention period; audited when any were erased."""
        now = self.clock()
        before = self.calendar.business_day(now) - timedelta(days=self.rules.name_retention_days)
        with self.store.transaction() as tx:
            erased = tx.erase_names(before)
            if erased:
                tx.audit("hub", "appointment.erase_names", f"before:{before}", now, {"count": erased}, "")
        return erased
