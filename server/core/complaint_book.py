"""The complaint book: record, give an owner, note, call back (回访), close; list, figures, what came due.

Each change runs one store transaction (:class:`ComplaintTx`) that first locks
the complaint's row while it is open (:meth:`ComplaintTx.lock_open`), so two
changes of one complaint run one after the other and nothing happens to a
closed one. The change, its :class:`~server.core.complaints.ComplaintEvent`
and its audit entry commit together; staff pages are told after the commit
(``on_change``: the category and the action, never a phone or a text).
The model, its refusals and the figures live in :mod:`server.core.complaints`;
the deadline rule is the cases' own (:mod:`server.core.due`).

Plain Python, no I/O: the store is a protocol (:class:`ComplaintStore`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from . import case_codes
from .appointments import Actor, normalize_phone
from .calendar import Clock, HallCalendar, utc_now
from .complaints import (
    LIST_LIMIT,
    NOTE_MAX,
    PER_TICKET,
    TEXT_MAX,
    Closure,
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintRefused,
    ComplaintRules,
    ComplaintScope,
    ComplaintStatus,
    Figures,
    Intake,
    ReturnCallRequired,
    ReturnSatisfaction,
    TicketFacts,
    clean,
    closed_refusal,
    figures,
    new_complaint_id,
    unknown_complaint,
)
from .due import deadline, working_days_taken
from .errors import UnknownTicket

# -- the store it needs ------------------------------------------------------------------


class ComplaintReader(Protocol):
    def complaint(self, complaint_id: str) -> Complaint | None: ...

    def complaints(self, scope: ComplaintScope, now: datetime, limit: int) -> list[Complaint]:
        """In ``scope``, the soonest deadline first (closed ones last, the latest closed first)."""

    def complaint_events(self, complaint_id: str) -> list[ComplaintEvent]: ...

    def came_due(self, after: datetime, upto: datetime) -> list[str]:
        """The category of each open complaint whose deadline fell in (``after``, ``upto``]."""

    def recorded_between(self, start: datetime, end: datetime) -> list[tuple[str, bool]]:
        """Each ``recorded`` event in [``start``, ``end``): its category, and whether its complaint has a
        ``closed`` event after a return call since (handled): from the log."""

    def closed_between(self, start: datetime, end: datetime) -> list[Closure]:
        """Each ``closed`` event in [``start``, ``end``) with its complaint's ``recorded`` event's time."""

    def overdue_count(self, now: datetime) -> int: ...


class ComplaintTx(ComplaintReader, Protocol):
    def ticket_facts(self, ticket_id: str) -> TicketFacts | None:
        """The ticket's number and its latest leg that a clerk served (their name, counter, service)."""

    def case_exists(self, code: str) -> bool: ...

    def complaints_of_ticket(self, ticket_id: str) -> int: ...

    def may_own(self, username: str) -> bool:
        """An active user who may own complaints (staff, supervisor, admin)."""

    def on_duty(self, configured: str | None, now: datetime) -> str | None:
        """The configured owner if they may own, else the supervisor logged in most recently, else None."""

    def add_complaint(self, complaint: Complaint) -> None: ...

    def lock_open(self, complaint_id: str, at: datetime) -> bool:
        """Lock the complaint's row for this transaction if it is still open; False when it is not."""

    def save(self, complaint: Complaint) -> None:
        """Write the complaint's owner, return call and closure as given."""

    def add_events(self, events: Sequence[ComplaintEvent]) -> None: ...

    def erase_contacts(self, closed_before: datetime) -> int:
        """Forget the contact phone of complaints closed before ``closed_before``; how many."""

    def audit(
        self, actor: str, action: str, target: str, at: datetime, detail: dict[str, Any], address: str
    ) -> None: ...


class ComplaintStore(Protocol):
    def transaction(self) -> AbstractContextManager[ComplaintTx]: ...

    def read(self) -> AbstractContextManager[ComplaintReader]: ...


#: ``on_change(payload)``: told after each committed change (the hub sends it to the staff room).
OnChange = Callable[[dict[str, Any]], None]


class ComplaintBook:
    """Record complaints and follow each through to its closure; the period's figures."""

    def __init__(
        self,
        store: ComplaintStore,
        calendar: HallCalendar,
        rules: ComplaintRules,
        clock: Clock = utc_now,
        on_change: OnChange | None = None,
    ) -> None:
        self.store = store
        self.calendar = calendar
        self.rules = rules
        self.clock = clock
        self.on_change = on_change

    # -- changes ---------------------------------------------------------------------

    def record(self, intake: Intake, actor: Actor) -> Complaint:
        """Take a complaint: its category, ticket, case and clerk checked; an owner and a deadline given."""
        category = self.rules.category(intake.category)
        text = clean(intake.text, TEXT_MAX, "投诉内容", "the text", required=True)
        assert text is not None
        phone = None
        if intake.contact_phone and intake.contact_phone.strip():
            phone = normalize_phone(intake.contact_phone)
            if phone is None:
                raise ComplaintRefused("联系电话格式不对", "the contact phone is not a phone number")
        case = None
        if intake.case_code:
            case = case_codes.normalize(intake.case_code)
            if case is None:
                raise ComplaintRefused("办理编号不正确", "that is not a case code")
        now = self.clock()
        due_on, due_at = deadline(self.calendar, now, self.rules.working_days)
        with self.store.transaction() as tx:
            facts = self._ticket(tx, intake.ticket_id)
            if case is not None and not tx.case_exists(case):
                raise ComplaintRefused("没有此办理编号", "no case with this code")
            clerk = intake.clerk or (facts.clerk if facts else None)
            if intake.clerk and not tx.may_own(intake.clerk):
                raise ComplaintRefused(
                    f"没有工作人员 {intake.clerk!r}", f"{intake.clerk!r} is not a staff user"
                )
            complaint = Complaint(
                id=new_complaint_id(),
                category=category.code,
                status=ComplaintStatus.OPEN,
                channel=intake.channel,
                text=text,
                recorded_at=now,
                recorded_by=intake.recorded_by,
                due_on=due_on,
                due_at=due_at,
                owner=tx.on_duty(self.rules.owner, now),
                ticket_id=facts.id if facts else None,
                ticket_number=facts.number if facts else None,
                case_code=case,
                clerk=clerk,
                counter=facts.counter if facts else None,
                service=facts.service if facts else None,
                contact_phone=phone,
            )
            tx.add_complaint(complaint)
            detail = {"category": category.code, "channel": intake.channel.value, "owner": complaint.owner}
            tx.add_events(
                [ComplaintEvent(complaint.id, ComplaintEventKind.RECORDED, now, actor.name, detail)]
            )
            self._audit(tx, actor, "complaint.record", complaint, now, detail)
        self._changed("recorded", complaint)
        return complaint

    def assign(self, complaint_id: str, owner: str, actor: Actor) -> Complaint:
        """The complaint is now ``owner``'s (reassigned by an admin or supervisor; audited)."""
        now = self.clock()
        with self.store.transaction() as tx:
            found = self._locked(tx, complaint_id, now)
            if not tx.may_own(owner):
                raise ComplaintRefused(
                    f"没有在职的工作人员 {owner!r}", f"{owner!r} is not an active staff user"
                )
            if owner == found.owner:
                raise ComplaintRefused(f"此投诉已由 {owner} 负责", f"this complaint is {owner}'s already")
            changed = replace(found, owner=owner)
            tx.save(changed)
            detail = {"from": found.owner, "to": owner}
            tx.add_events([ComplaintEvent(found.id, ComplaintEventKind.OWNER, now, actor.name, detail)])
            self._audit(tx, actor, "complaint.owner", changed, now, detail)
        self._changed("owner", changed)
        return changed

    def note(self, complaint_id: str, text: str, actor: Actor) -> Complaint:
        """A follow-up note (what was found, who was asked): in the log, its text not in the audit."""
        note = clean(text, NOTE_MAX, "跟进记录", "the note", required=True)
        now = self.clock()
        with self.store.transaction() as tx:
            found = self._locked(tx, complaint_id, now)
            tx.add_events(
                [ComplaintEvent(found.id, ComplaintEventKind.NOTE, now, actor.name, {"note": note})]
            )
            self._audit(tx, actor, "complaint.note", found, now, {})
        self._changed("note", found)
        return found

    def return_call(
        self, complaint_id: str, satisfaction: str, note: str | None, actor: Actor, at: datetime | None = None
    ) -> Complaint:
        """The visitor was called back (回访) ``at`` (default now) and said how satisfied they are."""
        verdict = ReturnSatisfaction(satisfaction)
        said = clean(note, NOTE_MAX, "回访记录", "the note")
        now = self.clock()
        when = at or now
        if when > now:
            raise ComplaintRefused("回访时间不能晚于现在", "the return call cannot be in the future")
        with self.store.transaction() as tx:
            found = self._locked(tx, complaint_id, now)
            if when < found.recorded_at:
                raise ComplaintRefused("回访时间早于投诉登记时间", "the return call is before the complaint")
            changed = replace(
                found, return_at=when, return_by=actor.name, return_satisfaction=verdict, return_note=said
            )
            tx.save(changed)
            detail: dict[str, Any] = {"satisfaction": verdict.value, "at": when.isoformat()}
            if said:
                detail["note"] = said
            tx.add_events([ComplaintEvent(found.id, ComplaintEventKind.RETURN_CALL, now, actor.name, detail)])
            self._audit(tx, actor, "complaint.return_call", changed, now, {"satisfaction": verdict.value})
        self._changed("return_call", changed)
        return changed

    def close(self, complaint_id: str, result: str, actor: Actor) -> Complaint:
        """Close with a result; refused without a return call when the site requires one."""
        why = clean(result, NOTE_MAX, "处理结果", "the result", required=True)
        now = self.clock()
        with self.store.transaction() as tx:
            found = self._locked(tx, complaint_id, now)
            if self.rules.return_call_required and found.return_at is None:
                raise ReturnCallRequired(
                    "请先回访投诉人再办结", "call the visitor back (回访) before closing"
                )
            changed = replace(
                found, status=ComplaintStatus.CLOSED, closed_at=now, closed_by=actor.name, result=why
            )
            tx.save(changed)
            detail = {"result": why, "return_call": found.return_at is not None}
            tx.add_events([ComplaintEvent(found.id, ComplaintEventKind.CLOSED, now, actor.name, detail)])
            self._audit(
                tx, actor, "complaint.close", changed, now, {"return_call": found.return_at is not None}
            )
        self._changed("closed", changed)
        return changed

    def erase_contacts(self) -> int:
        """Forget the phones of complaints closed more than ``contact_retention_days`` ago (audited)."""
        now = self.clock()
        days = self.rules.contact_retention_days
        with self.store.transaction() as tx:
            erased = tx.erase_contacts(now - timedelta(days=days))
            if erased:
                tx.audit("hub", "complaint.erase_contacts", f"older_than:{days}d", now, {"count": erased}, "")
        return erased

    # -- looking ---------------------------------------------------------------------

    def find(self, complaint_id: str) -> Complaint:
        with self.store.read() as tx:
            found = tx.complaint(complaint_id)
        if found is None:
            raise unknown_complaint()
        return found

    def timeline(self, complaint_id: str) -> list[ComplaintEvent]:
        with self.store.read() as tx:
            return tx.complaint_events(complaint_id)

    def listed(self, scope: ComplaintScope, limit: int = LIST_LIMIT) -> list[Complaint]:
        with self.store.read() as tx:
            return tx.complaints(scope, self.clock(), limit)

    def came_due(self, after: datetime, upto: datetime) -> list[str]:
        with self.store.read() as tx:
            return tx.came_due(after, upto)

    def figures(self, start: datetime, end: datetime) -> Figures:
        """The period [``start``, ``end``): recorded (and handled since), closed, 查处率, closure time."""
        with self.store.read() as tx:
            recorded = tx.recorded_between(start, end)
            closures = tx.closed_between(start, end)
            late = tx.overdue_count(self.clock())
        return figures(
            recorded, closures, lambda c: working_days_taken(self.calendar, c.recorded_at, c.closed_at), late
        )

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _ticket(tx: ComplaintTx, ticket_id: str | None) -> TicketFacts | None:
        if ticket_id is None:
            return None
        facts = tx.ticket_facts(ticket_id)
        if facts is None:
            raise UnknownTicket("没有这张号票 / no such ticket")
        if tx.complaints_of_ticket(facts.id) >= PER_TICKET:
            raise ComplaintRefused(
                f"这张号票已登记 {PER_TICKET} 条投诉", f"this ticket has {PER_TICKET} complaints already"
            )
        return facts

    @staticmethod
    def _locked(tx: ComplaintTx, complaint_id: str, now: datetime) -> Complaint:
        found = tx.complaint(complaint_id)
        if found is None:
            raise unknown_complaint()
        if not tx.lock_open(found.id, now):
            raise closed_refusal()
        fresh = tx.complaint(complaint_id)
        assert fresh is not None, "a locked complaint stays"
        return fresh

    @staticmethod
    def _audit(
        tx: ComplaintTx,
        actor: Actor,
        action: str,
        complaint: Complaint,
        now: datetime,
        detail: dict[str, Any],
    ) -> None:
        """Who did what to which complaint: the category and the change, never the phone or the text."""
        tx.audit(
            actor.name,
            action,
            f"complaint:{complaint.id}",
            now,
            {"category": complaint.category, **detail},
            actor.address,
        )

    def _changed(self, action: str, complaint: Complaint) -> None:
        if self.on_change is not None:
            self.on_change(
                {"action": action, "category": complaint.category, "status": complaint.status.value}
            )
