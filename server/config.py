"""The site config: one TOML file per hall, validated with pydantic.

A mistake in the file stops the hub with one line that names the file, the key
and what was expected (``ConfigError``), because the person installing the hall
on Monday reads that line and nothing else.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from drivers.printing.printer_settings import (
    BasePrinterSettings,
    FilePrinterSettings,
    NetworkPrinterSettings,
    SerialPrinterSettings,
    UsbPrinterSettings,
    VirtualPrinterSettings,
    parse_printer_settings,
)
from drivers.validation import location

from .core.appointments import AppointmentRules
from .core.bilingual import Bilingual, shown
from .core.calendar import DayException, HallCalendar, ServiceHours
from .core.cases import CaseKind, StepPlan
from .core.complaints import DEFAULT_CATEGORIES, Category, ComplaintRules
from .core.estimate import PaceModel, PaceRules
from .core.half_days import HalfDayCaps
from .core.model import Counter, PriorityCategory, PriorityGrant, Service
from .core.policy import FairPolicy, FairRules
from .core.posts import DEFAULT_BREAK_REASONS, BreakReason
from .core.queue import Hall
from .core.rules import CallRules, ServiceRules
from .core.satisfaction import DEFAULT_REASONS, LEVEL_CODES, Reason, Satisfaction, make_levels
from .core.targets import TargetRules, Targets
from .core.workdays import WorkCalendar, statutory
from .paths import var_dir
from .pydantic_zh import PATTERN_HINTS, in_chinese

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: The end may be 24:00 (and only 24:00 of hour 24) for a day open until midnight.
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24(?=:00$)):([0-5]\d)$")


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line for a person."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


def _hhmm(value: str) -> time:
    match = _HHMM.match(value)
    if not match:
        raise Bilingual(f"须为 HH:MM 格式的时间，收到 {value!r}", f"expected a time as HH:MM, got {value!r}")
    return time(int(match[1]), int(match[2]))


class SiteSection(_Strict):
    name_zh: Annotated[str, Field(min_length=1, max_length=80)]
    name_en: Annotated[str, Field(min_length=1, max_length=80)]
    languages: list[Literal["zh", "en"]] = ["zh", "en"]
    timezone: str = "Asia/Shanghai"
    day_starts_at: str = "00:00"
    #: Base of the links printed in QR codes, e.g. ``http://192.168.1.10:5000``.
    #: Empty: taken from the address the kiosk used to reach the hub.
    public_url: str = ""
    notice_zh: str = ""
    notice_en: str = ""
    #: The hall's hotline (服务热线, e.g. "95598"), always shown in the lobby's content zone; empty: none.
    hotline: Annotated[str, Field(max_length=24, pattern=r"^[0-9+() -]*$")] = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a directory in tzdata
            raise ValueError(f"expected an IANA time zone such as 'Asia/Shanghai', got {value!r}") from None
        return value

    @field_validator("day_starts_at")
    @classmethod
    def _day_start(cls, value: str) -> str:
        _hhmm(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"expected an http(s) URL such as 'http://192.168.1.10:5000', got {value!r}")
        return value.rstrip("/")


def default_database_url() -> str:
    """``qcall.db`` in the var dir: a hub that names no database writes where QCALL_VAR_DIR says."""
    return f"sqlite:///{var_dir() / 'qcall.db'}"


class NoticesSection(_Strict):
    """``[notices]``: the lobby's and the kiosk's notices (docs/architecture.md, "Notices")."""

    #: A notice posted without an end shows this many days after its start.
    default_days: Annotated[int, Field(ge=1, le=366)] = 3
    #: Hospitals: a card of the day's clinic rooms and who is rostered there (出诊医生), from the rota.
    doctors_on_duty: bool = False
    #: Seconds each card of the lobby's content zone shows before the next.
    rotate_seconds: Annotated[int, Field(ge=3, le=120)] = 12


class HubSection(_Strict):
    database_url: str = Field(default_factory=default_database_url)
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=1, le=65535)] = 5000
    #: Hours a staff login lasts before the clerk must log in again.
    staff_session_hours: Annotated[int, Field(ge=1, le=24)] = 12
    #: A new login ends the user's earlier sessions (and drops their live sockets), so one
    #: password cannot keep a second console open beside the clerk's.
    single_session: bool = True
    #: How many reverse proxies in front of the hub to believe about X-Forwarded-For and
    #: X-Forwarded-Proto (werkzeug's ProxyFix). 0: none, the client's own address and scheme
    #: count. Only set it when such a proxy really is in front: otherwise a client could
    #: claim any address (and dodge the login throttle).
    trusted_proxies: Annotated[int, Field(ge=0, le=5)] = 0
    #: Tickets one token (one kiosk) may take at once, then ``tickets_per_minute``:
    #: a real kiosk serves one visitor at a time and never comes near; a script
    #: holding its token cannot empty a service's day in a second.
    ticket_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    tickets_per_minute: Annotated[int, Field(ge=1, le=60_000_000)] = 30
    #: Group commit: how long the first of several concurrent ticket requests waits for
    #: others to share its durable commit (0: one turn of the loop, no added wait).
    issue_window_ms: Annotated[float, Field(ge=0, le=50)] = 0


class ClusterSection(_Strict):
    """``[cluster]``: one hall served by several hub processes on one PostgreSQL database.

    Without it a hub serves its database alone (it holds the database's lock).
    With it, every process with a name of its own may serve the same database:
    they share Flask-SocketIO's Redis message queue and relay the hall's
    committed events to each other through Redis (docs/architecture.md,
    "Several hub processes").
    """

    #: Redis for the Socket.IO message queue and the hall's event relay.
    redis_url: Annotated[str, Field(pattern=r"^(redis|rediss|unix)://\S+$")]
    #: This process's name: one process per name (its lock), shown in the logs. One file serves
    #: every process of the hall: ``QCALL_PROCESS_NAME`` (or ``run --name``) gives each its own.
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = "hub-1"
    #: The prefix of the hall's keys and channels in Redis: one per hall on a shared Redis.
    channel: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] = "qcall"


class WeekSection(_Strict):
    """Opening hours per weekday as ``["08:30-12:00", "13:30-17:30"]``; absent means closed."""

    mon: list[str] = []
    tue: list[str] = []
    wed: list[str] = []
    thu: list[str] = []
    fri: list[str] = []
    sat: list[str] = []
    sun: list[str] = []

    @field_validator(*WEEKDAYS)
    @classmethod
    def _ranges(cls, value: list[str]) -> list[str]:
        return _check_ranges(value)

    def table(self) -> dict[int, list[tuple[time, time]]]:
        out: dict[int, list[tuple[time, time]]] = {}
        for index, day in enumerate(WEEKDAYS):
            spans = _spans(getattr(self, day))
            if spans:
                out[index] = spans
        return out


def _check_ranges(value: list[str]) -> list[str]:
    """Ranges like ``"08:30-12:00"``, each start before its end, none overlapping another."""
    for item in value:
        match = _RANGE.match(item)
        if not match or (match[1], match[2]) >= (match[3], match[4]):
            raise Bilingual(
                f"时段须形如 08:30-17:30（开始早于结束），收到 {item!r}",
                f"expected ranges like '08:30-17:30' (start before end), got {item!r}",
            )
    ordered = sorted(value)
    for earlier, later in itertools.pairwise(ordered):
        if later[:5] < earlier[6:]:
            raise Bilingual(
                f"时段不能重叠：{earlier!r} 与 {later!r} 重叠",
                f"expected ranges that do not overlap, got {earlier!r} and {later!r}",
            )
    return value


def _spans(ranges: list[str]) -> list[tuple[time, time]]:
    """``["13:30-17:30", "08:30-12:00"]`` as (start, end) in order; 24:00 kept as 23:59:59."""
    spans = []
    for item in sorted(ranges):
        start, end = item.split("-")
        spans.append((_hhmm(start), time(23, 59, 59) if end == "24:00" else _hhmm(end)))
    return spans


class HoursException(_Strict):
    """``[[hours.exceptions]]``: one date of the site's own (a closing, shorter hours, a local holiday)."""

    date: dt.date
    #: That date's opening hours; ``[]``: closed all day; absent: the usual hours of the day.
    hours: list[str] | None = None
    name_zh: Annotated[str, Field(max_length=40)] = ""
    name_en: Annotated[str, Field(max_length=60)] = ""
    #: Whether the date counts towards working-day deadlines, whatever the country's calendar says.
    working_day: bool | None = None
    #: Only these services; absent: the whole hall.
    services: list[str] = []

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        if isinstance(value, dt.datetime) or (
            isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
        ):
            raise Bilingual(
                f"须为日期，如 2026-10-01，收到 {str(value)!r}",
                f"expected a date such as 2026-10-01, got {str(value)!r}",
            )
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise Bilingual(
                    f"没有这一天，日期须如 2026-10-01，收到 {value!r}",
                    f"expected a date such as 2026-10-01, got {value!r}",
                ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _ranges(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_ranges(value)

    def day(self) -> DayException:
        return DayException(
            day=self.date,
            hours=None if self.hours is None else tuple(_spans(self.hours)),
            name_zh=self.name_zh,
            name_en=self.name_en,
            services=frozenset(self.services),
        )


class HoursSection(WeekSection):
    """``[hours]``: the hall's opening hours, holidays, last tickets, closing and its own dates."""

    enforce: bool = True
    #: The country whose public holidays (and, for "CN", make-up working days 调休) decide which
    #: dates count towards a working-day deadline; absent: Monday to Friday.
    holidays: str | None = None
    #: Whether the hall opens on the country's public holidays (with that weekday's hours).
    open_on_holidays: bool = True
    #: The weekday whose hours a make-up working day (调休) takes when its own weekday has none.
    makeup_day_hours: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    #: No walk-in ticket this many minutes before each closing (a service may set its own).
    last_ticket_minutes: Annotated[int, Field(ge=0, le=720)] = 0
    #: Tickets still waiting at a service's closing: "close" them or "carry_over" to its next opening.
    at_closing: Literal["close", "carry_over"] = "close"
    exceptions: list[HoursException] = []

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        statutory(value)  # raises UnknownCountry (a ValueError) with the one-line message
        return value


class HalfDayCapsSection(_Strict):
    """上午/下午号源: walk-in tickets per half-day, split at ``[appointments] noon``; absent: no cap."""

    am: Annotated[int, Field(ge=0, le=10_000)] | None = None
    pm: Annotated[int, Field(ge=0, le=10_000)] | None = None


class AppointmentCapacity(_Strict):
    """Places per half-day (号源) of a service: ``appointment_capacity = {am = 20, pm = 20}``."""

    am: Annotated[int, Field(ge=0, le=10_000)] = 0
    pm: Annotated[int, Field(ge=0, le=10_000)] = 0


#: What a call says, per language: "请{number}号到{counter}取药" (drivers/voice/phrasing.py).
CallTemplates = dict[Literal["zh", "en"], Annotated[str, Field(min_length=1, max_length=120)]]


def _check_templates(templates: dict[str, str], where: str) -> None:
    from drivers.voice.phrasing import check_template

    for lang, template in templates.items():
        check_template(template, f"{where}.{lang}")


#: The longest target, in minutes: one working day and then some (a day has 1440 minutes).
MAX_TARGET_MINUTES = 1440


def _target_minutes(value: object) -> int:
    """A target in whole minutes, 1 to 1440: zero or less is no promise (leave the key out for none)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TARGET_MINUTES:
        raise Bilingual(
            f"须为 1 到 {MAX_TARGET_MINUTES} 的整分钟数（不设时限请留空），收到 {value!r}",
            f"expected a whole number of minutes from 1 to {MAX_TARGET_MINUTES} "
            f"(leave the key out for no target), got {value!r}",
        )
    return value


#: A waiting-time or service-time target in minutes (``[targets]``, a service's own).
TargetMinutes = Annotated[int, BeforeValidator(_target_minutes)]


class TargetsSection(_Strict):
    """``[targets]``: the site's waiting-time and service-time targets (时限), and the warning's lead.

    Absent keys: no target of that kind. A service's ``wait_target_minutes`` and
    ``service_target_minutes`` win over these (docs/architecture.md, "Targets").
    """

    #: From joining a queue (issue, transfer) to the first call.
    wait_minutes: TargetMinutes | None = None
    #: From the start of the service (or its last call, never started) to its end.
    service_minutes: TargetMinutes | None = None
    #: Staff pages mark a ticket "快超时 Nearly due" this many minutes before its breach; 0: only "overdue".
    warn_before_minutes: Annotated[int, Field(ge=0, le=240)] = 3

    def rules(self, services: list[ServiceSection]) -> TargetRules:
        default = Targets(_minutes(self.wait_minutes), _minutes(self.service_minutes))
        return TargetRules(
            default=default,
            services={
                s.code: Targets(
                    _minutes(s.wait_target_minutes) or default.wait,
                    _minutes(s.service_target_minutes) or default.service,
                )
                for s in services
            },
            warn_before=timedelta(minutes=self.warn_before_minutes),
        )


def _minutes(value: int | None) -> timedelta | None:
    return timedelta(minutes=value) if value is not None else None


class ServiceSection(_Strict):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=40)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    prefix: Annotated[str, Field(pattern=r"^[A-Z]{1,2}$")]
    width: Annotated[int, Field(ge=2, le=4)] = 3
    daily_limit: Annotated[int, Field(ge=1)] | None = None
    #: Appointments (预约) this service takes per half-day; absent: none (walk-ins only).
    appointment_capacity: AppointmentCapacity | None = None
    #: Length of one appointment slot in minutes (default ``[appointments] slot_minutes``).
    appointment_slot_minutes: Annotated[int, Field(ge=5, le=480)] | None = None
    #: Overrides of the ``[calls]`` defaults for this service (absent: the hall's).
    no_show_after_seconds: Annotated[int, Field(ge=5, le=86_400)] | None = None
    max_recalls: Annotated[int, Field(ge=0, le=20)] | None = None
    transfer_into_capped: Literal["allow", "refuse"] | None = None
    #: This service's own call phrasing, over its counter's kind (``[calls.templates]``).
    call_templates: CallTemplates = {}
    #: This service's own opening hours per weekday, over the hall's ``[hours]`` (absent: the hall's).
    hours: WeekSection | None = None
    #: No walk-in ticket this many minutes before this service's closings (absent: the hall's).
    last_ticket_minutes: Annotated[int, Field(ge=0, le=720)] | None = None
    #: Walk-in tickets per half-day (上午/下午号源): ``{am = 40, pm = 30}``.
    half_day_caps: HalfDayCapsSection | None = None
    #: This service's own targets in minutes, over ``[targets]`` (absent: the site's).
    wait_target_minutes: TargetMinutes | None = None
    service_target_minutes: TargetMinutes | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_target_per_kind(cls, data: Any) -> Any:
        """``target_minutes`` (a hall manager's guess) could mean the wait, the service or both: refused
        with the keys that say which, rather than "unknown key"."""
        if isinstance(data, dict) and "target_minutes" in data:
            raise Bilingual(
                "没有 target_minutes 这一项：业务的时限分为 wait_target_minutes（取号到首次叫号）和 "
                "service_target_minutes（开始办理到办结），如 service_target_minutes = 20；"
                "[targets] 为所有业务设置",
                "target_minutes: not a key; a service's targets are wait_target_minutes (joining the "
                "queue to the first call) and service_target_minutes (start to end of the service), "
                "e.g. service_target_minutes = 20; [targets] sets them for every service",
            )
        return data

    @field_validator("call_templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        _check_templates(value, "call_templates")
        return value

    @field_validator("daily_limit")
    @classmethod
    def _limit_fits(cls, value: int | None, info: ValidationInfo) -> int | None:
        width = info.data.get("width")  # absent when width itself was wrong
        if value is not None and width is not None and value >= 10**width:
            raise Bilingual(
                f"{value} 超出 {width} 位号码；请把号码位数（width）调到 {len(str(value))}",
                f"{value} needs more than width {width} digits; raise width to {len(str(value))}",
            )
        return value


class PrioritySection(_Strict):
    """``[[priority]]``: a priority category (绿色通道) of the site and who may give it."""

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=20)]
    name_en: Annotated[str, Field(min_length=1, max_length=40)]
    #: Orders the calls: higher first. 1 to 1000; normal tickets are 0.
    weight: Annotated[int, Field(ge=1, le=1000)]
    #: ``kiosk``: a button on the kiosk; ``staff``: staff, triage or admin only;
    #: ``confirm``: asked for at the kiosk, counts once staff confirm it.
    grant: Literal["kiosk", "staff", "confirm"] = "staff"


class CallingSection(_Strict):
    """``[calling]``: the fair calling policy's rules (docs/architecture.md, "Calling policy")."""

    #: At most this many priority calls in a row at one counter while a normal ticket waits.
    priority_cap: Annotated[int, Field(ge=1, le=100)] = 3
    #: After this many minutes of waiting a ticket ranks as priority ``age_bonus_weight``; 0: off.
    age_bonus_minutes: Annotated[int, Field(ge=0, le=1440)] = 0
    age_bonus_weight: Annotated[int, Field(ge=1, le=1000)] = 1
    #: An appointment due within this many minutes of now (before or after) goes before walk-ins.
    appointment_window_minutes: Annotated[int, Field(ge=0, le=240)] = 15

    def rules(self) -> FairRules:
        return FairRules(
            priority_cap=self.priority_cap,
            age_bonus=timedelta(minutes=self.age_bonus_minutes) if self.age_bonus_minutes else None,
            age_bonus_weight=self.age_bonus_weight,
            appointment_window=timedelta(minutes=self.appointment_window_minutes),
        )


class EstimateSection(_Strict):
    """``[estimate]``: the estimated wait's model (docs/architecture.md, "Estimated wait")."""

    #: Minutes a visitor keeps a counter before anything was measured.
    default_service_minutes: Annotated[float, Field(gt=0, le=480)] = 5.0
    #: Per service code: minutes before anything was measured (instead of the default).
    service_minutes: dict[str, Annotated[float, Field(gt=0, le=480)]] = {}
    #: How many recent legs the weighted means remember (the newest weighs 2 / (n + 1)).
    recent_legs: Annotated[int, Field(ge=1, le=1000)] = 50
    #: Samples a counter needs of a service before its own mean is used.
    min_samples: Annotated[int, Field(ge=1, le=1000)] = 5
    #: Legs longer than this many minutes are no service time (a ticket left open over lunch).
    longest_leg_minutes: Annotated[int, Field(ge=1, le=1440)] = 120
    #: Days of ended legs the model learns from when the hub starts.
    warm_days: Annotated[int, Field(ge=0, le=90)] = 7

    def rules(self, appointment_window: timedelta | None, age_bonus: timedelta | None = None) -> PaceRules:
        return PaceRules(
            default_seconds=self.default_service_minutes * 60,
            service_seconds={code: minutes * 60 for code, minutes in self.service_minutes.items()},
            recent_legs=self.recent_legs,
            min_samples=self.min_samples,
            longest_leg=timedelta(minutes=self.longest_leg_minutes),
            appointment_window=appointment_window,
            age_bonus=age_bonus,
        )


class TriageDeskSection(_Strict):
    """``[[triage_desks]]``: a triage desk (预检分诊台); its tickets print on ``printer`` when set."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    printer: str | None = None


class AppointmentsSection(_Strict):
    """``[appointments]``: the check-in window, late arrivals, no-shows and booked names."""

    slot_minutes: Annotated[int, Field(ge=5, le=480)] = 30
    #: Check-in opens this many minutes before the slot starts ...
    early_minutes: Annotated[int, Field(ge=0, le=720)] = 30
    #: ... and takes the appointment until this many minutes after it starts.
    late_minutes: Annotated[int, Field(ge=0, le=720)] = 15
    #: Later than that: "walk_in" (a walk-in ticket the same day) or "refuse".
    late: Literal["walk_in", "refuse"] = "walk_in"
    #: Where the morning's quota ends and the afternoon's begins (local time).
    noon: str = "12:00"
    #: Refuse new bookings of a phone that missed this many within ``no_show_days``; absent: never.
    no_show_limit: Annotated[int, Field(ge=1, le=100)] | None = None
    no_show_days: Annotated[int, Field(ge=1, le=3650)] = 90
    #: Keep the booked name and show and announce it masked (张*明): hospitals calling patients.
    call_by_name: bool = False
    #: Days after the appointment when its booked name is erased from the store.
    name_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30

    @field_validator("noon")
    @classmethod
    def _noon(cls, value: str) -> str:
        _hhmm(value)
        return value


class CaseStepSection(_Strict):
    """``[[case_kinds.steps]]``: one step of a kind of case, with its deadline in working days."""

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=40)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    #: Working days (``[hours] holidays``) from the day the step starts; it ends with the last one.
    working_days: Annotated[int, Field(ge=1, le=250)]


class CaseKindSection(_Strict):
    """``[[case_kinds]]``: a kind of case that spans days (业扩报装) and its steps in order."""

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=40)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    #: The service a visitor coming back for a later step queues for.
    service: str
    steps: Annotated[list[CaseStepSection], Field(min_length=1, max_length=20)]


class CasesSection(_Strict):
    """``[cases]``: the visitor's lookup by code, and how long a closed case keeps its contact."""

    #: Unknown case codes one client address may try within ``lookup_window_minutes`` before 429.
    lookup_failures: Annotated[int, Field(ge=1, le=1000)] = 10
    lookup_window_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    #: Days after a case is done or cancelled when its contact name and phone are erased.
    contact_retention_days: Annotated[int, Field(ge=1, le=3650)] = 365


class ComplaintCategorySection(_Strict):
    """``[[complaints.categories]]``: a category of complaint, shown in both languages."""

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=20)]
    name_en: Annotated[str, Field(min_length=1, max_length=40)]


class ComplaintsSection(_Strict):
    """``[complaints]``: the categories, the deadline in working days, the owner, the return-call rule."""

    #: Working days (``[hours] holidays``) after the day a complaint is recorded; overdue after the last.
    working_days: Annotated[int, Field(ge=0, le=60)] = 5
    #: The user who owns every new complaint (首问负责); "": the supervisor on duty (latest logged in).
    owner: Annotated[str, Field(max_length=64)] = ""
    #: A complaint closes only after the visitor was called back (回访): 查处率 counts those.
    return_call_required: bool = True
    #: Days after a complaint is closed when its contact phone is erased.
    contact_retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    #: The site's categories; none given: attitude, waiting, information, fees, facilities, suggestion.
    categories: list[ComplaintCategorySection] = []

    @model_validator(mode="after")
    def _unique_codes(self) -> ComplaintsSection:
        _unique([c.code for c in self.categories], "complaints.categories", "code")
        return self

    def rules(self) -> ComplaintRules:
        """The core's rules: the site's categories, or the defaults."""
        categories = tuple(Category(c.code, c.name_zh, c.name_en) for c in self.categories)
        return ComplaintRules(
            categories=categories or DEFAULT_CATEGORIES,
            working_days=self.working_days,
            owner=self.owner or None,
            return_call_required=self.return_call_required,
            contact_retention_days=self.contact_retention_days,
        )


class ReasonSection(_Strict):
    """``[[satisfaction.reasons]]``: a reason offered with a low rating (等候太久, 态度…)."""

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=20)]
    name_en: Annotated[str, Field(min_length=1, max_length=40)]


class SatisfactionSection(_Strict):
    """``[satisfaction]``: the rating levels, their scores, what counts as satisfied, the target, reasons."""

    #: 3 (非常满意 / 满意 / 不满意) or 5 (非常满意 … 非常不满意).
    levels: Literal[3, 5] = 3
    #: The levels that count as satisfied; absent: the top two of three, the top three of five.
    satisfied: list[str] | None = None
    #: Each level's score (0–100) toward the satisfaction index; a level left out keeps its default.
    scores: dict[str, Annotated[int, Field(ge=0, le=100)]] = {}
    #: The share satisfied (percent) the hall must reach.
    target: Annotated[int, Field(ge=0, le=100)] = 80
    #: Minutes after a service ends during which the pad at its counter may rate it.
    pad_window_minutes: Annotated[int, Field(ge=1, le=120)] = 10
    #: Minutes after a service ends during which the visitor's phone may rate it.
    phone_window_minutes: Annotated[int, Field(ge=1, le=1440)] = 60
    #: Offered with a rating that is not satisfied; absent: the five standard reasons.
    reasons: list[ReasonSection] | None = None

    @model_validator(mode="after")
    def _known_levels(self) -> SatisfactionSection:
        codes = LEVEL_CODES[self.levels]
        for key, named in (("satisfied", self.satisfied or []), ("scores", list(self.scores))):
            for code in named:
                if code not in codes:
                    raise ValueError(
                        f"{key}: {code!r} is not one of the {self.levels} levels; "
                        f"expected one of {list(codes)}"
                    )
        if self.satisfied is not None:
            _unique(self.satisfied, "satisfied", "level")
            if not self.satisfied:
                raise ValueError("satisfied: expected at least one level that counts as satisfied")
        if self.reasons is not None:
            _unique([r.code for r in self.reasons], "reasons", "code")
        return self

    def rules(self) -> Satisfaction:
        reasons = self.reasons
        return Satisfaction(
            levels=make_levels(self.levels, self.scores, self.satisfied),
            reasons=DEFAULT_REASONS
            if reasons is None
            else tuple(Reason(r.code, r.name_zh, r.name_en) for r in reasons),
            target=self.target,
            pad_window=timedelta(minutes=self.pad_window_minutes),
            phone_window=timedelta(minutes=self.phone_window_minutes),
        )


class CounterSection(_Strict):
    number: Annotated[int, Field(ge=1, le=999)]
    name_zh: Annotated[str, Field(min_length=1, max_length=40)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    #: The services this counter calls, in its order of preference: at least one.
    services: list[str]
    #: What kind of place: picks the call's phrasing in ``[calls.templates]`` ("window", "room", …).
    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "window"

    @field_validator("services")
    @classmethod
    def _serves_something(cls, value: list[str]) -> list[str]:
        """A counter serving nothing could never call anyone: refused, with what to give instead."""
        if not value:
            raise Bilingual(
                '须至少办理一项业务，如 ["PAY"]',
                'expected at least one service this counter serves, such as ["PAY"]',
            )
        for i, code in enumerate(value):
            if code in value[:i]:
                raise Bilingual(
                    f"业务 {code!r} 列了两次；每项业务只列一次",
                    f"{code!r} is listed twice; expected each service once",
                )
        return value


class CallsSection(_Strict):
    """``[calls]``: no-shows, recalls, re-queue, transfers into full services, and what a call says."""

    #: Call-next while the counter's visitor was called but never started: "no_show" or "refuse" (409).
    on_call_next_while_called: Literal["no_show", "refuse"] = "no_show"
    #: A recall beyond ``max_recalls``: "refuse" (409 recall_limit) or "no_show".
    on_recall_beyond_max: Literal["refuse", "no_show"] = "refuse"
    #: 过号重排: a re-queued visitor stands after this many waiting tickets, or "end".
    requeue_position: Annotated[int, Field(ge=0, le=999)] | Literal["end"] = 3
    #: A called visitor not started this long after the last call (once ``max_recalls`` recalls
    #: were made) becomes a no-show by itself. Absent: never by time.
    no_show_after_seconds: Annotated[int, Field(ge=5, le=86_400)] | None = None
    max_recalls: Annotated[int, Field(ge=0, le=20)] | None = None
    transfer_into_capped: Literal["allow", "refuse"] = "allow"
    #: Call phrasing per counter kind: ``[calls.templates.room] zh = "请{number}号到{counter}就诊"``.
    templates: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")], CallTemplates] = {}

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for kind, templates in value.items():
            _check_templates(templates, f"templates.{kind}")
        return value


class PhoneSection(_Strict):
    """``[phone]``: the visitor's phone: tickets taken at ``/phone/`` and "I'm on my way".

    Off by default: a hall puts a QR at its door (or on the lobby) only once it
    has decided to; the limits keep one phone, one address, or a script from
    flooding the queue (docs/architecture.md, "The visitor's phone").
    """

    #: Tickets may be taken from ``/phone/`` (POST /phone/tickets). "On my way" works either way.
    enabled: bool = False
    #: A called visitor who says "on my way" gets this much more time before the no-show timer ends
    #: the call (once a call; a recall is a new call).
    on_my_way_minutes: Annotated[int, Field(ge=0, le=60)] = 3
    #: One phone (its signed cookie): at most this many tickets a business day (and one active at a time).
    tickets_per_day: Annotated[int, Field(ge=1, le=50)] = 3
    #: The whole hall: at most this many phone tickets in an hour counted from its first (cookies or not).
    tickets_per_hour: Annotated[int, Field(ge=1, le=100_000)] = 120
    #: One client address: at most this many phone tickets within ``address_window_minutes``.
    tickets_per_address: Annotated[int, Field(ge=1, le=10_000)] = 3
    address_window_minutes: Annotated[int, Field(ge=1, le=1440)] = 30


class BreakReasonSection(_Strict):
    """``[[staff.break_reasons]]``: a reason a clerk may give for a break (午餐 lunch, 会议 meeting, …)."""

    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=20)]
    name_en: Annotated[str, Field(min_length=1, max_length=40)]


def _default_break_reasons() -> list[BreakReasonSection]:
    return [
        BreakReasonSection(code=r.code, name_zh=r.name_zh, name_en=r.name_en) for r in DEFAULT_BREAK_REASONS
    ]


class StaffSection(_Strict):
    """``[staff]``: clerks on post at the counters, their breaks (docs/architecture.md, "Staff on post")."""

    #: A clerk on post at one counter logs in at another: "refuse" (409 on_post_elsewhere, the console
    #: offers to move) or "move" (the other post ends). A login's own ``move`` says otherwise.
    second_login: Literal["refuse", "move"] = "refuse"
    #: The reasons a clerk picks from when pausing the counter for a break.
    break_reasons: Annotated[list[BreakReasonSection], Field(min_length=1)] = Field(
        default_factory=_default_break_reasons
    )
    #: The reason of a break started without one (a keypad's pause key, an older console).
    default_break_reason: str = "other"

    @model_validator(mode="after")
    def _default_listed(self) -> StaffSection:
        codes = [r.code for r in self.break_reasons]
        _unique(codes, "break_reasons", "code")
        if self.default_break_reason not in codes:
            raise ValueError(
                f"default_break_reason: {self.default_break_reason!r} is not a break reason; "
                f"expected one of {codes}"
            )
        return self


class ZoneSection(_Strict):
    """``[[zones]]``: a part of the hall that hears only its own calls (a floor, a wing, a clinic area).

    Lobby screens and speakers join a zone by ``settings.zone``; a counter may be in several zones
    (a pharmacy heard in the ground-floor hall and in its own corridor). docs/voice.md, "Zones".
    """

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name_zh: Annotated[str, Field(min_length=1, max_length=40)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    #: The counters whose calls are said in this zone.
    counters: Annotated[list[int], Field(min_length=1)]


#: Devices that may belong to a zone (``settings.zone``): they make sound.
ZONED_DEVICES = ("lobby_screen", "speaker")


#: Devices that belong to one counter and must say which.
COUNTER_DEVICES = ("counter_screen", "keypad", "evaluation_pad")


class DeviceSection(_Strict):
    """A kiosk, a screen or a driver-backed device; drivers read ``settings``."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    kind: Literal[
        "kiosk",
        "lobby_screen",
        "counter_screen",
        "printer",
        "led_display",
        "speaker",
        "keypad",
        "evaluation_pad",
    ]
    counter: int | None = None
    settings: dict[str, Any] = {}

    @model_validator(mode="after")
    def _screen_has_counter(self) -> DeviceSection:
        if self.kind in COUNTER_DEVICES and self.counter is None:
            raise ValueError(f"counter: a {self.kind} needs the number of its counter")
        return self


class _HubPrinterKeys(_Strict):
    """The hub's own keys of a printer; the rest are the driver's (drivers/printing/printer_settings.py).

    The device agent refuses these keys: the footer is what the ticket says
    (the hub's alone), and ``agent`` says who drives the printer.
    """

    #: The device agent (its token's name) that drives this printer; empty: the hub does.
    agent: str | None = None
    footer_zh: str = ""
    footer_en: str = ""

    @model_validator(mode="after")
    def _logo_on_the_agent(self) -> _HubPrinterKeys:
        if self.agent and getattr(self, "logo", None):
            raise ValueError(
                "logo: this printer is driven by an agent; set its logo in the agent's agent.toml "
                "(a path here means nothing on the kiosk PC)"
            )
        return self


class HubNetworkPrinter(NetworkPrinterSettings, _HubPrinterKeys):
    """``settings`` of a ``printer`` device with ``connector = "network"``."""


class HubSerialPrinter(SerialPrinterSettings, _HubPrinterKeys):
    """``settings`` of a ``printer`` device with ``connector = "serial"``."""


class HubUsbPrinter(UsbPrinterSettings, _HubPrinterKeys):
    """``settings`` of a ``printer`` device with ``connector = "usb"``."""


class HubFilePrinter(FilePrinterSettings, _HubPrinterKeys):
    """``settings`` of a ``printer`` device with ``connector = "file"``."""


class HubVirtualPrinter(VirtualPrinterSettings, _HubPrinterKeys):
    """``settings`` of a ``printer`` device with ``connector = "virtual"`` (a twin in the hub)."""


#: ``settings`` of a ``printer`` device, by connector: the driver's models plus the hub's keys.
HUB_PRINTERS: dict[str, type[BasePrinterSettings]] = {
    "network": HubNetworkPrinter,
    "serial": HubSerialPrinter,
    "usb": HubUsbPrinter,
    "file": HubFilePrinter,
    "virtual": HubVirtualPrinter,
}
PrinterSettings = HubNetworkPrinter | HubSerialPrinter | HubUsbPrinter | HubFilePrinter | HubVirtualPrinter


class KioskSettings(_Strict):
    """``settings`` of a ``kiosk`` device."""

    #: The printer device that prints this kiosk's tickets; none: screen only.
    printer: str | None = None


#: The lobby screen's named layouts (display/lobby.css, docs/architecture.md "Lobby layouts").
LOBBY_LAYOUTS = ("landscape", "portrait", "counter_list", "clinic_rooms")
#: The hub's snapshot carries the last 10 calls: a screen can show no more.
LOBBY_RECENT_MAX = 10


class LobbyScreenSettings(_Strict):
    """``settings`` of a ``lobby_screen`` device: how this TV lays the hall out.

    Read by ``GET /api/v1/screen`` at request time, so a screen follows a
    changed config without being touched.
    """

    #: landscape (a 16:9 TV, the default), portrait (signage on its side), counter_list (a hall of up
    #: to 30 counters: every counter's number), clinic_rooms (a hospital: one row per room, seen and next).
    layout: Literal["landscape", "portrait", "counter_list", "clinic_rooms"] = "landscape"
    #: How many of the latest calls the screen shows, the big current one included; each flashes on its own.
    recent: Annotated[int, Field(ge=1, le=LOBBY_RECENT_MAX)] = 6
    #: The voice zone whose calls this screen plays (``[[zones]]``, checked there); none: the whole hall.
    zone: str | None = None


DEVICE_SETTINGS: dict[str, type[BaseModel]] = {"kiosk": KioskSettings, "lobby_screen": LobbyScreenSettings}
#: Devices on an RS-485 bus when their settings name a ``port`` (docs/displays.md).
SERIAL_KINDS = ("led_display", "keypad", "evaluation_pad")


class SerialSection(_Strict):
    """``[serial]``: a site's own display frame formats, by name (docs/displays.md)."""

    frame_formats: dict[str, dict[str, Any]] = {}


class CentralSection(_Strict):
    """``[central]``: ship the hall's event log to the company's central service (server/outbox.py).

    The hall pushes to the central service's HTTP ingest endpoint with a token of its own
    (``python -m server central hall add`` prints it), never to the company's database: a partner
    hall holds no database credentials. Absent: the hall ships nothing (it works alike either way).
    """

    #: The central service, e.g. ``https://central.example.com`` (its ingest path is fixed).
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")]
    #: This hall's id at the company (the one given to ``central hall add``).
    hall: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    #: The hall's region, for the company's reports (the central service's record wins: it is shown).
    region: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")] = "default"
    #: The hall's token at the central service; absent here, ``QCALL_CENTRAL_TOKEN`` gives it.
    token: str | None = None
    #: How often the outbox looks for new events when the link is up.
    every_seconds: Annotated[float, Field(ge=0.5, le=3600)] = 10
    #: Rows of a log in one batch.
    batch: Annotated[int, Field(ge=1, le=2000)] = 500
    #: PostgreSQL halls: events younger than this wait a round (ids are taken before commit, so a
    #: younger id may still commit after an older one is shipped). SQLite commits in id order.
    settle_seconds: Annotated[int, Field(ge=0, le=600)] = 10
    #: A dead link is retried after every_seconds, then twice as long each time, up to this.
    max_backoff_seconds: Annotated[int, Field(ge=1, le=3600)] = 300
    timeout_seconds: Annotated[float, Field(ge=1, le=120)] = 10

    def hall_token(self) -> str | None:
        return self.token or os.environ.get("QCALL_CENTRAL_TOKEN") or None


class SiteConfig(_Strict):
    site: SiteSection
    hub: HubSection = HubSection()
    hours: HoursSection = HoursSection(enforce=False)
    services: Annotated[list[ServiceSection], Field(min_length=1)]
    counters: Annotated[list[CounterSection], Field(min_length=1)]
    priority: list[PrioritySection] = []
    calling: CallingSection = CallingSection()
    estimate: EstimateSection = EstimateSection()
    triage_desks: list[TriageDeskSection] = []
    devices: list[DeviceSection] = []
    serial: SerialSection = SerialSection()
    appointments: AppointmentsSection = AppointmentsSection()
    calls: CallsSection = CallsSection()
    phone: PhoneSection = PhoneSection()
    targets: TargetsSection = TargetsSection()
    cases: CasesSection = CasesSection()
    case_kinds: list[CaseKindSection] = []
    complaints: ComplaintsSection = Field(default_factory=ComplaintsSection)
    staff: StaffSection = Field(default_factory=StaffSection)
    satisfaction: SatisfactionSection = SatisfactionSection()
    notices: NoticesSection = NoticesSection()
    central: CentralSection | None = None
    #: ``[cluster]``: several hub processes on one database (None: this hub serves it alone).
    cluster: ClusterSection | None = None
    #: The ``[voice]`` table (docs/voice.md); checked by the voice driver's own settings.
    voice: dict[str, Any] = {}
    #: ``[[zones]]``: parts of the hall that hear only their counters' calls; none: the whole hall hears all.
    zones: list[ZoneSection] = []
    #: The folder of the config file: relative paths in it (voice clips, cache) start there.
    _folder: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _consistent(self) -> SiteConfig:
        _unique([s.code for s in self.services], "services", "code")
        _unique([s.prefix for s in self.services], "services", "prefix")
        _unique([c.number for c in self.counters], "counters", "number")
        _unique([d.name for d in self.devices], "devices", "name")
        _unique([p.code for p in self.priority], "priority", "code")
        _unique([t.name for t in self.triage_desks], "triage_desks", "name")
        codes = {s.code for s in self.services}
        _check_case_kinds(self.case_kinds, codes)
        for i, counter in enumerate(self.counters):
            for code in counter.services:
                if code not in codes:
                    raise Bilingual(
                        f"没有业务 {code!r}；应为 {sorted(codes)} 之一",
                        f"unknown service {code!r}; expected one of {sorted(codes)}",
                        f"counters[{i}].services",
                    )
        for code in self.estimate.service_minutes:
            if code not in codes:
                raise ValueError(
                    f"estimate.service_minutes: unknown service {code!r}; expected one of {sorted(codes)}"
                )
        kinds = {"window", *self.calls.templates}
        for i, counter in enumerate(self.counters):
            if counter.kind not in kinds:
                raise Bilingual(
                    f"配置文件中没有 [calls.templates.{counter.kind}]（叫号用语）；应为 {sorted(kinds)} 之一",
                    f"no [calls.templates.{counter.kind}]; expected one of {sorted(kinds)}",
                    f"counters[{i}].kind",
                )
        numbers = {c.number for c in self.counters}
        for i, device in enumerate(self.devices):
            if device.counter is not None and device.counter not in numbers:
                raise Bilingual(
                    f"没有窗口 {device.counter}；应为 {sorted(numbers)} 之一",
                    f"no counter {device.counter}; expected one of {sorted(numbers)}",
                    f"devices[{i}].counter",
                )
            _check_settings(i, device, self.serial.frame_formats)
            _check_pad_ratings(i, device, LEVEL_CODES[self.satisfaction.levels])
        _check_voice(self)
        _check_zones(self)
        _check_hours(self)
        printers = {d.name for d in self.devices if d.kind == "printer"}
        for i, device in enumerate(self.devices):
            printer = device.settings.get("printer") if device.kind == "kiosk" else None
            if printer is not None and printer not in printers:
                raise Bilingual(
                    f"没有名为 {printer!r} 的打印机；应为 {sorted(printers)} 之一",
                    f"no printer device {printer!r}; expected one of {sorted(printers)}",
                    f"devices[{i}].settings.printer",
                )
        devices = {d.name for d in self.devices}
        for i, desk in enumerate(self.triage_desks):
            if desk.name in devices:
                raise ValueError(
                    f"triage_desks[{i}].name: {desk.name!r} is a device's name too; "
                    "expected a name of its own"
                )
            if desk.printer is not None and desk.printer not in printers:
                raise ValueError(
                    f"triage_desks[{i}].printer: no printer device {desk.printer!r}; "
                    f"expected one of {sorted(printers)}"
                )
        return self

    @property
    def folder(self) -> Path:
        """The config file's folder."""
        return self._folder

    def place_in(self, folder: Path) -> None:
        """Say which folder the file was read from: relative paths in it (a printer ``logo``) start there."""
        self._folder = folder

    def serial_devices(self) -> list[DeviceSection]:
        """The devices that hang on a serial bus (an evaluation pad without a port is a browser pad)."""
        return [d for d in self.devices if d.kind in SERIAL_KINDS and "port" in d.settings]

    def printer_settings(self, name: str) -> PrinterSettings:
        """The checked settings of printer device ``name`` (a relative ``logo`` starts at :attr:`folder`)."""
        device = next(d for d in self.devices if d.name == name and d.kind == "printer")
        # HUB_PRINTERS holds exactly the members of the PrinterSettings union.
        settings = cast("PrinterSettings", parse_printer_settings(device.settings, HUB_PRINTERS))
        return settings.with_folder(self.folder)

    def device_counter(self, name: str, kind: str) -> int | None:
        """The counter of device ``name`` of ``kind`` (an evaluation pad, a keypad), if configured."""
        return next((d.counter for d in self.devices if d.name == name and d.kind == kind), None)

    def lobby_screen(self, name: str) -> LobbyScreenSettings | None:
        """The checked settings of lobby screen ``name``; None when no ``lobby_screen`` has that name."""
        for device in self.devices:
            if device.kind == "lobby_screen" and device.name == name:
                return LobbyScreenSettings.model_validate(device.settings)
        return None

    def kiosk_printer(self, kiosk: str) -> str | None:
        """The printer device of kiosk ``kiosk``, if it has one."""
        for device in self.devices:
            if device.kind == "kiosk" and device.name == kiosk:
                return KioskSettings.model_validate(device.settings).printer
        return None

    def pace_model(self) -> PaceModel:
        """The estimated wait's model for this site: its counters, ``[estimate]``, the appointment window."""
        calling = self.calling.rules()
        return PaceModel(
            self.hall().counters, self.estimate.rules(calling.appointment_window, calling.age_bonus)
        )

    def calling_policy(self) -> FairPolicy:
        """The fair calling policy with this site's ``[calling]`` rules."""
        return FairPolicy(self.calling.rules())

    def appointment_rules(self) -> AppointmentRules:
        """The core's appointment rules: the ``[appointments]`` table and each service's capacity."""
        section = self.appointments
        return AppointmentRules(
            capacity={
                s.code: {"am": s.appointment_capacity.am, "pm": s.appointment_capacity.pm}
                for s in self.services
                if s.appointment_capacity is not None
            },
            slot_minutes_by_service={
                s.code: s.appointment_slot_minutes for s in self.services if s.appointment_slot_minutes
            },
            slot_minutes=section.slot_minutes,
            early_minutes=section.early_minutes,
            late_minutes=section.late_minutes,
            late=section.late,
            noon=_hhmm(section.noon),
            no_show_limit=section.no_show_limit,
            no_show_days=section.no_show_days,
            call_by_name=section.call_by_name,
            name_retention_days=section.name_retention_days,
        )

    def hall(self) -> Hall:
        """The core's view of this site."""
        return Hall(
            name_zh=self.site.name_zh,
            name_en=self.site.name_en,
            services={
                s.code: Service(s.code, s.name_zh, s.name_en, s.prefix, s.width, s.daily_limit)
                for s in self.services
            },
            counters={
                c.number: Counter(c.number, c.name_zh, c.name_en, tuple(c.services), c.kind)
                for c in self.counters
            },
            calendar=self.calendar(),
            categories={
                p.code: PriorityCategory(p.code, p.name_zh, p.name_en, p.weight, PriorityGrant(p.grant))
                for p in self.priority
            },
            priority_cap=self.calling.priority_cap,
            rules=self.call_rules(),
            call_by_name=self.appointments.call_by_name,
            targets=self.targets.rules(self.services),
            half_day_caps={
                s.code: HalfDayCaps(s.half_day_caps.am, s.half_day_caps.pm)
                for s in self.services
                if s.half_day_caps is not None
            },
            # A hub's counters are staffed by login: open only while a clerk is on post.
            posts_required=True,
            break_reasons={
                r.code: BreakReason(r.code, r.name_zh, r.name_en) for r in self.staff.break_reasons
            },
            default_break_reason=self.staff.default_break_reason,
            satisfaction=self.satisfaction.rules(),
        )

    def calendar(self) -> HallCalendar:
        """The hall's calendar: ``[hours]``, the services' own hours, the site's dates, the half-day split."""
        hours = self.hours
        working = {e.date: e.working_day for e in hours.exceptions if e.working_day is not None}
        return HallCalendar(
            timezone=self.site.timezone,
            day_starts_at=_hhmm(self.site.day_starts_at),
            hours=hours.table(),
            enforce_hours=hours.enforce,
            workdays=WorkCalendar(hours.holidays, working),
            last_ticket=timedelta(minutes=hours.last_ticket_minutes),
            open_on_holidays=hours.open_on_holidays,
            makeup_day_hours=WEEKDAYS.index(hours.makeup_day_hours) if hours.makeup_day_hours else None,
            exceptions=tuple(e.day() for e in hours.exceptions),
            service_hours={
                s.code: ServiceHours(
                    s.hours.table() if s.hours is not None else None,
                    timedelta(minutes=s.last_ticket_minutes) if s.last_ticket_minutes is not None else None,
                )
                for s in self.services
                if s.hours is not None or s.last_ticket_minutes is not None
            },
            noon=_hhmm(self.appointments.noon),
        )

    def case_kinds_by_code(self) -> dict[str, CaseKind]:
        """The core's kinds of case (``[[case_kinds]]``), by code, in the file's order."""
        return {
            k.code: CaseKind(
                k.code,
                k.name_zh,
                k.name_en,
                k.service,
                tuple(StepPlan(s.code, s.name_zh, s.name_en, s.working_days) for s in k.steps),
            )
            for k in self.case_kinds
        }

    def call_rules(self) -> CallRules:
        """``[calls]`` and the services' own keys, as the core's rules."""
        calls = self.calls
        return CallRules(
            on_call_next_while_called=calls.on_call_next_while_called,
            on_recall_beyond_max=calls.on_recall_beyond_max,
            requeue_position=None if calls.requeue_position == "end" else calls.requeue_position,
            no_show_after_seconds=calls.no_show_after_seconds,
            max_recalls=calls.max_recalls,
            transfer_into_capped=calls.transfer_into_capped,
            on_my_way_seconds=self.phone.on_my_way_minutes * 60,
            templates={kind: _by_language(t) for kind, t in calls.templates.items()},
            services={
                s.code: ServiceRules(
                    no_show_after_seconds=s.no_show_after_seconds,
                    max_recalls=s.max_recalls,
                    transfer_into_capped=s.transfer_into_capped,
                    templates=_by_language(s.call_templates),
                )
                for s in self.services
            },
        )


def _check_case_kinds(kinds: list[CaseKindSection], services: set[str]) -> None:
    """Kinds of case: codes once each, steps' codes once per kind, a service the site has."""
    _unique([k.code for k in kinds], "case_kinds", "code")
    for i, kind in enumerate(kinds):
        _unique([step.code for step in kind.steps], f"case_kinds[{i}].steps", "code")
        if kind.service not in services:
            expected = sorted(services)
            raise ValueError(
                f"case_kinds[{i}].service: unknown service {kind.service!r}; expected one of {expected}"
            )


def _by_language(templates: CallTemplates) -> dict[str, str]:
    return {str(lang): text for lang, text in templates.items()}


def _check_voice(config: SiteConfig) -> None:
    """The ``[voice]`` table, checked where it will be used (its message names the key)."""
    from drivers.voice import VoiceSettings

    table = {"timezone": config.site.timezone, "languages": list(config.site.languages), **config.voice}
    VoiceSettings.from_mapping(table)


def _check_zones(config: SiteConfig) -> None:
    """``[[zones]]``: codes once each, counters the site has; a screen's or speaker's ``settings.zone``
    names one of them; one speaker (amplifier) per zone, its ``command`` a player's argv."""
    _unique([z.code for z in config.zones], "zones", "code")
    numbers = {c.number for c in config.counters}
    for i, zone in enumerate(config.zones):
        for j, number in enumerate(zone.counters):
            if number in zone.counters[:j]:
                raise Bilingual(
                    f"窗口 {number} 列了两次；每个窗口只列一次",
                    f"counter {number} is listed twice; expected each once",
                    f"zones[{i}].counters",
                )
            if number not in numbers:
                raise Bilingual(
                    f"没有窗口 {number}；应为 {sorted(numbers)} 之一",
                    f"no counter {number}; expected one of {sorted(numbers)}",
                    f"zones[{i}].counters",
                )
    codes = [z.code for z in config.zones]
    speakers: dict[str, int] = {}
    for i, device in enumerate(config.devices):
        zone_code = device.settings.get("zone")
        if device.kind == "speaker":
            _check_player_command(i, device.settings.get("command"))
        if zone_code is None:
            continue
        if device.kind not in ZONED_DEVICES:
            raise Bilingual(
                f"{device.kind} 不发声，不能设置分区；只有 {'、'.join(ZONED_DEVICES)} 可以设置分区",
                f"a {device.kind} makes no sound; expected zone only on a {' or a '.join(ZONED_DEVICES)}",
                f"devices[{i}].settings.zone",
            )
        if zone_code not in codes:
            hint = f"expected one of {codes}" if codes else "expected the code of a [[zones]] table (none)"
            hint_zh = f"应为 {codes} 之一" if codes else "须为某个 [[zones]] 分区的代码（目前没有分区）"
            raise Bilingual(
                f"没有分区 {zone_code!r}；{hint_zh}",
                f"unknown zone {zone_code!r}; {hint}",
                f"devices[{i}].settings.zone",
            )
        if device.kind == "speaker":
            if zone_code in speakers:
                raise Bilingual(
                    f"分区 {zone_code!r} 已有语音播报设备（devices[{speakers[zone_code]}]）；"
                    "每个分区只能有一个",
                    f"zone {zone_code!r} has a speaker already (devices[{speakers[zone_code]}]); "
                    "expected one speaker (amplifier) per zone",
                    f"devices[{i}].settings.zone",
                )
            speakers[zone_code] = i


def _check_player_command(index: int, command: Any) -> None:
    """A speaker's ``command``: absent (the ``[voice] player_command``), or a non-empty list of strings."""
    if command is None:
        return
    if not (isinstance(command, list) and command and all(isinstance(p, str) and p for p in command)):
        raise ValueError(
            f"devices[{index}].settings.command: expected a list of words such as "
            f'["aplay", "-q", "-D", "plughw:1", "{{path}}"], got {command!r}'
        )


def _check_hours(config: SiteConfig) -> None:
    """``[hours]`` as a whole: holidays known where they close the hall, one exception per date (per
    service), working days only hall-wide, services that exist."""
    hours = config.hours
    if not hours.open_on_holidays and hours.holidays is None:
        raise Bilingual(
            '节假日不开放时须指明节假日所属国家：请加上 holidays = "CN"（或其他国家）',
            'false needs the country of its holidays: add holidays = "CN" (or another)',
            "hours.open_on_holidays",
        )
    for i, service in enumerate(config.services):
        if service.hours is not None and not service.hours.table():
            raise Bilingual(
                "没有一天有营业时间；请至少给一天（如 mon = [...]），或不设此项以沿用大厅的营业时间",
                "no weekday has hours; give at least one (mon = [...]), or leave hours out for the hall's",
                f"services[{i}].hours",
            )
    codes = {s.code for s in config.services}
    seen: set[tuple[dt.date, str | None]] = set()
    for i, exception in enumerate(hours.exceptions):
        where = f"hours.exceptions[{i}]"
        if exception.working_day is not None and exception.services:
            raise Bilingual(
                "“是否算工作日”只能对整个大厅设置：请在不指定业务的特殊日期中设置",
                "whether a date counts as a working day is set for the whole hall only; "
                "give it in an entry without services",
                f"{where}.working_day",
            )
        for code in exception.services:
            if code not in codes:
                expected = f"expected one of {sorted(codes)}"
                raise Bilingual(
                    f"没有业务 {code!r}；应为 {sorted(codes)} 之一",
                    f"unknown service {code!r}; {expected}",
                    f"{where}.services",
                )
        whom: list[str | None] = list(exception.services) or [None]
        for who in whom:
            if (exception.date, who) in seen:
                whose = f"service {who!r}" if who else "the hall"
                whose_zh = f"业务 {who!r} " if who else "整个大厅"
                raise Bilingual(
                    f"{exception.date} 对{whose_zh}设了两次；每个日期只设一条",
                    f"{exception.date} is given twice for {whose}; expected one entry per date",
                    f"{where}.date",
                )
            seen.add((exception.date, who))


def _check_settings(index: int, device: DeviceSection, frame_formats: dict[str, Any]) -> None:
    """Validate a device's ``settings`` by its kind, naming the key that is wrong."""
    if device.kind in SERIAL_KINDS and "port" in device.settings:
        from drivers.signs import check_serial_device

        try:
            check_serial_device(device.kind, device.settings, device.counter, frame_formats)
        except ValueError as exc:
            raise ValueError(f"devices[{index}].settings.{exc}") from None
        return
    if device.kind == "printer":
        try:
            parse_printer_settings(device.settings, HUB_PRINTERS)
        except ValueError as exc:
            raise ValueError(f"devices[{index}].settings.{exc}") from None
        return
    model = DEVICE_SETTINGS.get(device.kind)
    if model is None:
        return
    try:
        model.model_validate(device.settings)
    except ValidationError as exc:  # a lobby screen's layout or recent, set on the admin page: both languages
        error = _first_error(exc)
        key = location(error["loc"])
        where = f"devices[{index}].settings.{key}" if key else f"devices[{index}].settings"
        english = describe_problem(error).removeprefix(f"{key}: ")
        raise Bilingual(in_chinese(error, where, english), english, where) from None


def _check_pad_ratings(index: int, device: DeviceSection, levels: tuple[str, ...]) -> None:
    """A serial evaluation pad's ``ratings`` table names only the site's ``[satisfaction] levels``."""
    table = device.settings.get("ratings") if device.kind == "evaluation_pad" else None
    if not isinstance(table, dict):
        return
    for code, rating in table.items():
        if rating not in levels:
            raise Bilingual(
                f"{rating!r} 不是本站点的 {len(levels)} 个评价等级之一（[satisfaction] levels）；"
                f"应为 {list(levels)} 之一",
                f"{rating!r} is not one of the site's {len(levels)} levels ([satisfaction] levels); "
                f"expected one of {list(levels)}",
                f"devices[{index}].settings.ratings.{code}",
            )


def _unique(values: list[Any], section: str, key: str) -> None:
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise Bilingual(
                f"{value!r} 重复使用；每个值只能用一次",
                f"{value!r} is used twice; expected each {key} once",
                f"{section}[{i}].{key}",
            )
        seen.add(value)


def load_config(path: str | os.PathLike[str]) -> SiteConfig:
    """Read and check a site file; raise :class:`ConfigError` with one clear line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        # Windows Notepad's "UTF-8 with BOM": TOML forbids the mark, and tomllib only says "line 1, column 1".
        raise ConfigError(
            f"{path}: the file starts with a UTF-8 byte-order mark (BOM), which TOML does not allow; "
            "save it as plain UTF-8 without BOM (Notepad: Save As, Encoding 'UTF-8', not 'UTF-8 with BOM')"
        )
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_problem(exc)}") from None
    config.place_in(path.resolve().parent)
    for i, device in enumerate(config.devices):
        if device.kind == "printer":
            try:
                config.printer_settings(device.name)  # a logo is read from the file's folder
            except ValueError as exc:
                raise ConfigError(f"{path}: devices[{i}].settings.{exc}") from None
    if config.central is not None and not config.central.hall_token():
        raise ConfigError(
            f"{path}: central.token: required key is missing (or set QCALL_CENTRAL_TOKEN); expected the "
            "hall's token that 'python -m server central hall add' printed"
        )
    override = os.environ.get("QCALL_DATABASE_URL")
    if override:
        config.hub.database_url = override
    check_cluster(config, path)
    return config


def check_cluster(config: SiteConfig, path: str | os.PathLike[str]) -> None:
    """Give the process its name from ``QCALL_PROCESS_NAME``, and refuse a cluster on SQLite (one line).

    Checked after the database override: what counts is the database the hub will really open.
    """
    cluster = config.cluster
    if cluster is None:
        return
    name = os.environ.get("QCALL_PROCESS_NAME")
    if name:
        try:
            checked = ClusterSection(redis_url=cluster.redis_url, name=name, channel=cluster.channel)
            config.cluster = checked
        except ValidationError as exc:
            raise ConfigError(f"QCALL_PROCESS_NAME: {_first_problem(exc).split(': ', 1)[-1]}") from None
    if not config.hub.database_url.startswith("postgresql"):
        raise ConfigError(
            f"{path}: cluster: several hub processes share one database on PostgreSQL only, "
            f"but hub.database_url is {config.hub.database_url.split(':', 1)[0]}; "
            "expected a postgresql+psycopg:// URL (or remove [cluster])"
        )


def _first_problem(exc: ValidationError) -> str:
    return describe_problem(_first_error(exc))


def _first_error(exc: ValidationError) -> ErrorDetails:
    errors = exc.errors()
    # A misspelt key also makes its right spelling "missing": name the typo first.
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def describe_problem(error: ErrorDetails) -> str:
    """One pydantic error as ``key: what was expected`` (the file's line, the admin page's field)."""
    where = location(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key; check its spelling"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    if error["type"] == "string_pattern_mismatch" and error["loc"][-1] in PATTERN_HINTS:
        message = PATTERN_HINTS[str(error["loc"][-1])][1]
    if "input" in error and error["type"] not in ("value_error",) and not isinstance(error["input"], dict):
        message = f"{message}, got {shown(error['input'])}"
    return f"{where}: {message}" if where else message
