"""Cases that span days (业扩报装: 受理申请 → 现场勘查 → 方案答复 → 装表接电): steps, owners, deadlines.

A *case* is opened by a clerk from the ticket at their counter and lives for
days or weeks: a kind (``[[case_kinds]]``) with its steps in order, each step
with a deadline in working days. Who is responsible (首问负责): the ticket's
owner, the first clerk who served the visitor, becomes the case's owner and
stays so; each step has an owner of its own (the clerk who does it, handed off
when someone else takes it over).

- A step's deadline counts ``working_days`` of the hall's working-day calendar
  (``[hours] holidays``: China's holidays and 调休 make-up days) from the day
  the step became active, and ends at the end of that working day in the
  hall's time zone (:func:`server.core.due.deadline`, shared with complaints).
  An active step past it is *overdue*.
- Completing the active step makes the next one active with its own deadline;
  completing the last one closes the case (``done``). Staff may cancel an open
  case with a reason.
- Every change is a :class:`CaseEvent` (who, when) written in the change's own
  transaction, with its audit entry. Two clerks completing the same step at
  once: one wins, the other is told the step is done already.
- A visitor looks their case up by its code (:mod:`.case_codes`) and sees its
  progress only (:meth:`Case.progress`): the kind, the steps, their status and
  dates; never a name, a phone, a clerk or a reason. Coming back for the next
  step, they take a ticket linked to the case (:class:`CaseClaim` on the
  queue core's issue request, linked in the ticket's own transaction).

Plain Python, no I/O: the store is a protocol (:class:`CaseStore`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from . import case_codes
from .appointments import mask_name, mask_phone
from .calendar import HallCalendar
from .due import deadline as deadline  # the rule lives in .due; cases and their tests name it here
from .due import overdue
from .errors import QueueError

#: Most cases one staff list carries (oldest deadline first): a hall has far fewer open.
LIST_LIMIT = 500
#: Longest note or reason a clerk types (a step's note, a hand-off's or a cancellation's reason).
REASON_MAX = 200

# -- refusals ----------------------------------------------------------------------------


class CaseRefusal(QueueError):
    """A refusal a visitor or a clerk reads: one sentence in each language."""

    code = "case_refused"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.message_zh = zh
        self.message_en = en


class UnknownCase(CaseRefusal):
    """No case with this code (or the text cannot be a code): the API answers 404."""

    code = "unknown_case"


class CaseClosed(CaseRefusal):
    """The case is done or cancelled: nothing more happens to it (409)."""

    code = "case_closed"


class StepNotActive(CaseRefusal):
    """The step is not the active one (done meanwhile by someone else, or not reached yet) (409)."""

    code = "step_not_active"


class CaseRefused(CaseRefusal):
    """What the hall cannot do as asked: no ticket at the counter, a ticket with a case already,
    an unknown kind, a hand-off to someone who is not staff (409)."""

    code = "case_refused"


def unknown_case() -> UnknownCase:
    return UnknownCase("没有此办理编号，请核对后重新输入", "no case with this code: please check it")


def not_a_code() -> UnknownCase:
    return UnknownCase(
        "办理编号不正确（10位字母和数字），请核对后重新输入",
        "that is not a case code (10 letters and digits): please check it",
    )


def ended_refusal() -> CaseClosed:
    """A ticket asked for a case that was closed in the meantime."""
    return CaseClosed("此工单已结束，不能再为它取号", "this case is closed: no ticket can be taken for it")


def closed_refusal(status: str) -> CaseClosed:
    if status == CaseStatus.CANCELLED:
        return CaseClosed("此工单已撤销", "this case was cancelled")
    return CaseClosed("此工单已办结", "this case is finished")


# -- plain data --------------------------------------------------------------------------


class CaseStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    """A step waits its turn (``pending``), is being worked on (``active``), or is over."""

    PENDING = "pending"
    ACTIVE = "active"
    DONE = "done"
    #: The case was cancelled before the step was done.
    CANCELLED = "cancelled"


class CaseEventKind(StrEnum):
    OPENED = "opened"
    STEP_DONE = "step_done"
    HANDED_OFF = "handed_off"
    #: A ticket was issued for the case (the visitor came back for a step).
    TICKET = "ticket"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StepPlan:
    """One step of a kind as configured: its deadline counts ``working_days`` from its start."""

    code: str
    name_zh: str
    name_en: str
    working_days: int


@dataclass(frozen=True)
class CaseKind:
    """A kind of case (``[[case_kinds]]``): its steps in order, and the service a visitor queues for."""

    code: str
    name_zh: str
    name_en: str
    service: str
    steps: tuple[StepPlan, ...]


@dataclass(frozen=True)
class CaseStep:
    """One step of one case. Names and working days are kept with the case: the plan it was opened with."""

    case_id: str
    step: int
    code: str
    name_zh: str
    name_en: str
    working_days: int
    status: StepStatus
    #: Who does it (the case owner until it is handed off; who completed it, once done).
    owner: str | None = None
    #: The last working day of the step, and the moment it ends (the next midnight, hall time, in UTC).
    due_on: date | None = None
    due_at: datetime | None = None
    active_at: datetime | None = None
    done_at: datetime | None = None
    done_by: str | None = None

    def overdue(self, now: datetime) -> bool:
        """Active and past the end of its last working day."""
        return self.status is StepStatus.ACTIVE and overdue(self.due_at, now)

    def progress(self, calendar: HallCalendar) -> dict[str, Any]:
        """The step as the visitor sees it: names, status, dates. No owner."""
        return {
            "step": self.step,
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "status": self.status.value,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "done_on": _local_day(calendar, self.done_at),
        }

    def staff_view(self, calendar: HallCalendar, now: datetime) -> dict[str, Any]:
        return {
            **self.progress(calendar),
            "working_days": self.working_days,
            "owner": self.owner,
            "due_at": _iso(self.due_at),
            "active_at": _iso(self.active_at),
            "done_at": _iso(self.done_at),
            "done_by": self.done_by,
            "overdue": self.overdue(now),
        }


@dataclass(frozen=True)
class Case:
    """A case and its steps. ``contact_*`` never leave for a visitor, and staff see them masked unless
    the case is theirs (:meth:`staff_view`)."""

    id: str
    code: str
    kind: str
    service: str
    status: CaseStatus
    #: 首问负责: the ticket's owner when the case was opened (else the clerk who opened it); never changes.
    owner: str
    opened_at: datetime
    opened_by: str
    steps: tuple[CaseStep, ...]
    counter: int | None = None
    ticket_id: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    closed_at: datetime | None = None
    reason: str | None = None

    @property
    def active(self) -> CaseStep | None:
        return next((s for s in self.steps if s.status is StepStatus.ACTIVE), None)

    def progress(self, calendar: HallCalendar, kind: CaseKind | None) -> dict[str, Any]:
        """What a visitor holding the code may see: the kind, the steps and their dates. Nothing personal."""
        return {
            "code": self.code,
            "code_shown": case_codes.shown(self.code),
            "kind": self.kind,
            "name_zh": kind.name_zh if kind else self.kind,
            "name_en": kind.name_en if kind else self.kind,
            "status": self.status.value,
            "opened_on": _local_day(calendar, self.opened_at),
            "closed_on": _local_day(calendar, self.closed_at),
            "steps": [step.progress(calendar) for step in self.steps],
        }

    def staff_view(
        self, calendar: HallCalendar, kind: CaseKind | None, now: datetime, contact: bool
    ) -> dict[str, Any]:
        """The case for staff with rights on it; ``contact``: the name and phone unmasked (its owners)."""
        active = self.active
        return {
            **self.progress(calendar, kind),
            "service": self.service,
            "owner": self.owner,
            "opened_at": _iso(self.opened_at),
            "opened_by": self.opened_by,
            "counter": self.counter,
            "closed_at": _iso(self.closed_at),
            "reason": self.reason,
            "contact_name": self.contact_name if contact else mask_name(self.contact_name),
            "contact_phone": self.contact_phone if contact else mask_phone(self.contact_phone),
            "contact_masked": not contact,
            "active_step": active.step if active else None,
            "overdue": bool(active and active.overdue(now)),
            "steps": [step.staff_view(calendar, now) for step in self.steps],
        }


@dataclass(frozen=True)
class CaseEvent:
    """One entry of a case's log: what happened, when, by whom (a staff user, a kiosk's name, the hub)."""

    case_id: str
    kind: CaseEventKind
    at: datetime
    actor: str
    step: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "at": _iso(self.at),
            "actor": self.actor,
            "step": self.step,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CaseTicket:
    """A ticket linked to a case: the one it was opened from, or one taken for a later step."""

    case_id: str
    ticket_id: str
    number: str
    business_day: date
    at: datetime
    #: The active step when the ticket was linked.
    step: int | None
    by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "number": self.number,
            "business_day": self.business_day.isoformat(),
            "at": _iso(self.at),
            "step": self.step,
        }


@dataclass(frozen=True)
class CaseClaim:
    """What an ``IssueRequest`` carries for a ticket of a case: the core links it in the ticket's
    transaction, if the case is still open then (else the request is refused, :class:`CaseClosed`)."""

    case_id: str
    code: str
    step: int | None


@dataclass(frozen=True)
class CounterTicket:
    """The ticket a case is opened from, as the case store reads it."""

    id: str
    number: str
    service: str
    status: str
    business_day: date
    counter: int | None
    owner: str | None


@dataclass(frozen=True)
class CaseScope:
    """Which cases a caller may list: all (admins), or those a clerk owns, whose active step is theirs,
    or whose service their counter serves (least rights)."""

    everything: bool = False
    owner: str | None = None
    services: frozenset[str] = frozenset()


ALL_CASES = CaseScope(everything=True)


# -- pure functions ----------------------------------------------------------------------


def new_case_id() -> str:
    return "c" + secrets.token_urlsafe(9)


def plan_steps(case_id: str, kind: CaseKind) -> list[CaseStep]:
    """The steps of a new case, all pending (:meth:`CaseBook.open` activates the first)."""
    return [
        CaseStep(case_id, i, p.code, p.name_zh, p.name_en, p.working_days, StepStatus.PENDING)
        for i, p in enumerate(kind.steps, start=1)
    ]


def clean_text(text: str | None, what_zh: str, what_en: str, required: bool = False) -> str | None:
    """A clerk's note or reason, trimmed; a refusal when it is required and empty, or too long."""
    text = (text or "").strip() or None
    if text is None and required:
        raise CaseRefused(f"请填写{what_zh}", f"{what_en} is required")
    if text is not None and len(text) > REASON_MAX:
        raise CaseRefused(f"{what_zh}不能超过 {REASON_MAX} 字", f"{what_en} is longer than {REASON_MAX}")
    return text


def step_refusal(step: int) -> StepNotActive:
    return StepNotActive(
        f"第{step}步不是当前步骤（可能已由他人办理），请刷新",
        f"step {step} is not the current step (someone may have done it): please refresh",
    )


def _local_day(calendar: HallCalendar, moment: datetime | None) -> str | None:
    return calendar.local(moment).date().isoformat() if moment else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
