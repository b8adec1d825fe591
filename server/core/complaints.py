"""Complaints and suggestions (投诉/意见): what one is, its refusals, and the figures of a period.

The hall's rule is 投诉查处率 100 %: every complaint is followed up by an
owner (首问负责), the visitor is called back (回访) and asked whether they are
satisfied with how it was handled, and then it is closed with a result, all
within a deadline in working days (:func:`server.core.due.deadline`, the
same rule as a case's step). One that is still open after its deadline day is
*overdue* (:meth:`Complaint.overdue`).

A complaint may name the ticket it is about (then the clerk concerned is the
one who served its latest leg, unless staff name another) and a case (by its
code). The contact phone is personal data: kept, shown whole only to admins,
supervisors and the complaint's owner, masked in every list, and never put in
a log line, an event, an audit entry, a push or an export.

Plain Python, no I/O: :mod:`.complaint_book` runs the changes on a store.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from .appointments import mask_phone
from .due import overdue
from .errors import QueueError
from .stats import nearest_rank

#: Most complaints one list carries (oldest deadline first).
LIST_LIMIT = 500
#: Longest text a visitor or clerk types about the complaint itself.
TEXT_MAX = 500
#: Longest note, result or return-call note.
NOTE_MAX = 200
#: Complaints one ticket may carry: enough for a real grievance and a suggestion, not a flood.
PER_TICKET = 3
#: Percentiles of the closure time in the figures.
FIGURE_PERCENTILES = (50, 90)


# -- refusals ----------------------------------------------------------------------------


class ComplaintRefusal(QueueError):
    """A refusal a visitor or a clerk reads: one sentence in each language."""

    code = "complaint_refused"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.message_zh = zh
        self.message_en = en


class UnknownComplaint(ComplaintRefusal):
    """No complaint with this id (404)."""

    code = "unknown_complaint"


class UnknownComplaintCategory(ComplaintRefusal):
    """A category the site does not list (400: bad input)."""

    code = "unknown_category"


class ComplaintClosed(ComplaintRefusal):
    """The complaint is closed: nothing more happens to it (409)."""

    code = "complaint_closed"


class ReturnCallRequired(ComplaintRefusal):
    """The site requires a return call (回访) before closing, and none was made (409)."""

    code = "return_call_required"


class ComplaintRefused(ComplaintRefusal):
    """What the hall cannot do as asked: an empty text, an owner who is not staff, too many for a ticket
    (409; a malformed field never gets here, the API's body models refuse it with 400)."""

    code = "complaint_refused"


def unknown_complaint() -> UnknownComplaint:
    return UnknownComplaint("没有此投诉记录", "no such complaint")


def closed_refusal() -> ComplaintClosed:
    return ComplaintClosed("此投诉已办结", "this complaint is closed")


# -- plain data --------------------------------------------------------------------------


class ComplaintStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Channel(StrEnum):
    """Where it was recorded: the clerk's console, the kiosk, or the visitor's phone status page."""

    COUNTER = "counter"
    KIOSK = "kiosk"
    PHONE = "phone"


class ComplaintEventKind(StrEnum):
    RECORDED = "recorded"
    NOTE = "note"
    OWNER = "owner"
    RETURN_CALL = "return_call"
    CLOSED = "closed"


class ReturnSatisfaction(StrEnum):
    """The visitor's verdict on the handling, asked at the return call (回访)."""

    SATISFIED = "satisfied"
    BASICALLY = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


@dataclass(frozen=True)
class Category:
    """A category of complaint (``[[complaints.categories]]``): attitude, waiting time, a suggestion…"""

    code: str
    name_zh: str
    name_en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name_zh": self.name_zh, "name_en": self.name_en}


#: What a site gets without ``[[complaints.categories]]``.
DEFAULT_CATEGORIES = (
    Category("attitude", "服务态度", "Staff attitude"),
    Category("waiting", "等候时间", "Waiting time"),
    Category("information", "信息有误", "Wrong information"),
    Category("fees", "收费问题", "Fees"),
    Category("facilities", "设施环境", "Facilities"),
    Category("suggestion", "意见建议", "Suggestion"),
)


@dataclass(frozen=True)
class ComplaintRules:
    """``[complaints]``: categories, the deadline, the default owner, whether closing needs a return call."""

    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    working_days: int = 5
    #: A user who owns every new complaint; None: the supervisor on duty (the latest logged in).
    owner: str | None = None
    return_call_required: bool = True
    #: Days after a complaint is closed when its contact phone is erased (the return call is long done).
    contact_retention_days: int = 365

    def category(self, code: str) -> Category:
        for category in self.categories:
            if category.code == code:
                return category
        choices = ", ".join(c.code for c in self.categories)
        raise UnknownComplaintCategory(
            f"没有此投诉类别 {code!r}（可选：{choices}）",
            f"no category {code!r} (expected one of: {choices})",
        )


@dataclass(frozen=True)
class TicketFacts:
    """What a complaint keeps of the ticket it names: its number, and its latest served leg's clerk."""

    id: str
    number: str
    service: str | None
    counter: int | None
    clerk: str | None


@dataclass(frozen=True)
class Intake:
    """A complaint as it is recorded, before the store gives it an owner and a deadline."""

    category: str
    text: str
    channel: Channel
    recorded_by: str
    ticket_id: str | None = None
    case_code: str | None = None
    clerk: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class Complaint:
    """One complaint and its current state (the log, :class:`ComplaintEvent`, says how it got there)."""

    id: str
    category: str
    status: ComplaintStatus
    channel: Channel
    text: str
    recorded_at: datetime
    recorded_by: str
    due_on: date
    due_at: datetime
    owner: str | None = None
    ticket_id: str | None = None
    ticket_number: str | None = None
    case_code: str | None = None
    clerk: str | None = None
    counter: int | None = None
    service: str | None = None
    contact_phone: str | None = None
    return_at: datetime | None = None
    return_by: str | None = None
    return_satisfaction: ReturnSatisfaction | None = None
    return_note: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    result: str | None = None

    def overdue(self, now: datetime) -> bool:
        """Still open from the instant after its deadline day ended."""
        return self.status is ComplaintStatus.OPEN and overdue(self.due_at, now)

    @property
    def handled(self) -> bool:
        """Counts toward 查处率: closed, and the visitor was called back."""
        return self.status is ComplaintStatus.CLOSED and self.return_at is not None

    def view(self, now: datetime, contact: bool) -> dict[str, Any]:
        """For admins, supervisors and the owner; ``contact``: the phone whole (a detail), else masked."""
        return {
            "id": self.id,
            "category": self.category,
            "status": self.status.value,
            "channel": self.channel.value,
            "text": self.text,
            "recorded_at": _iso(self.recorded_at),
            "recorded_by": self.recorded_by,
            "due_on": self.due_on.isoformat(),
            "due_at": _iso(self.due_at),
            "overdue": self.overdue(now),
            "owner": self.owner,
            "ticket_id": self.ticket_id,
            "ticket_number": self.ticket_number,
            "case_code": self.case_code,
            "clerk": self.clerk,
            "counter": self.counter,
            "service": self.service,
            "contact_phone": self.contact_phone if contact else mask_phone(self.contact_phone),
            "contact_masked": not contact,
            "return_call": None
            if self.return_at is None
            else {
                "at": _iso(self.return_at),
                "by": self.return_by,
                "satisfaction": self.return_satisfaction.value if self.return_satisfaction else None,
                "note": self.return_note,
            },
            "closed_at": _iso(self.closed_at),
            "closed_by": self.closed_by,
            "result": self.result,
            "handled": self.handled,
        }

    def receipt(self) -> dict[str, Any]:
        """What the visitor who recorded it is told back: that it was taken, and by when it is handled."""
        return {"id": self.id, "category": self.category, "due_on": self.due_on.isoformat()}


@dataclass(frozen=True)
class ComplaintEvent:
    """One entry of a complaint's log. ``detail`` never holds the phone or the visitor's text."""

    complaint_id: str
    kind: ComplaintEventKind
    at: datetime
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "at": _iso(self.at), "actor": self.actor, "detail": self.detail}


@dataclass(frozen=True)
class ComplaintScope:
    """Which complaints a caller reads: all (admins, supervisors), or those they own (a clerk)."""

    everything: bool = False
    owner: str | None = None
    #: Only the open ones; only the overdue ones (open and past their deadline now).
    open_only: bool = False
    overdue_only: bool = False


@dataclass(frozen=True)
class Closure:
    """A closed event of the period, read from the log: when recorded, when closed, called back or not."""

    category: str
    recorded_at: datetime
    closed_at: datetime
    returned: bool


@dataclass(frozen=True)
class Figures:
    """A period's complaints: recorded, closed, handled (closed after a return call), 查处率, closure time.

    ``rate`` (查处率) is the share of the complaints recorded in the period that have been handled so
    far (None when none was recorded): the hall's 100 % rule. ``closed`` and the closure times are the
    period's closures, whenever their complaints were recorded; a closure time is whole working days
    from the day recorded to the day closed.
    """

    recorded: int
    closed: int
    handled: int
    open_overdue: int
    closure_days: dict[str, int | None]
    by_category: dict[str, dict[str, int]]

    @property
    def rate(self) -> float | None:
        return round(100.0 * self.handled / self.recorded, 1) if self.recorded else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "closed": self.closed,
            "handled": self.handled,
            "handled_rate": self.rate,
            "overdue_open": self.open_overdue,
            "closure_working_days": self.closure_days,
            "by_category": self.by_category,
        }


# -- pure functions ----------------------------------------------------------------------


def new_complaint_id() -> str:
    return "k" + secrets.token_urlsafe(9)


def clean(text: str | None, limit: int, what_zh: str, what_en: str, required: bool = False) -> str | None:
    """A typed text, trimmed; refused when required and empty, or longer than ``limit``."""
    text = (text or "").strip() or None
    if text is None and required:
        raise ComplaintRefused(f"请填写{what_zh}", f"{what_en} is required")
    if text is not None and len(text) > limit:
        raise ComplaintRefused(f"{what_zh}不能超过 {limit} 字", f"{what_en} is longer than {limit}")
    return text


def figures(
    recorded: Sequence[tuple[str, bool]], closures: Iterable[Closure], taken: Any, open_overdue: int
) -> Figures:
    """The figures of a period from its recorded complaints (category, handled so far) and its closures.

    ``taken(closure) -> int``: the working days a closure took (the hall's calendar decides).
    """
    closed = list(closures)
    days = sorted(taken(c) for c in closed)
    by_category: dict[str, dict[str, int]] = {}
    for code, handled in recorded:
        row = by_category.setdefault(code, {"recorded": 0, "closed": 0, "handled": 0})
        row["recorded"] += 1
        row["handled"] += int(handled)
    for c in closed:
        by_category.setdefault(c.category, {"recorded": 0, "closed": 0, "handled": 0})["closed"] += 1
    return Figures(
        recorded=len(recorded),
        closed=len(closed),
        handled=sum(1 for _code, handled in recorded if handled),
        open_overdue=open_overdue,
        closure_days={
            f"p{p}": days[nearest_rank(p, len(days)) - 1] if days else None for p in FIGURE_PERCENTILES
        },
        by_category=by_category,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
