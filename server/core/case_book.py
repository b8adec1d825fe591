"""The case book: open cases, complete and hand off their steps, cancel, look up, list the overdue.

Each change runs one store transaction (:class:`CaseTx`): it locks the case's
row first (:meth:`CaseTx.lock_open`), so two changes of one case run one after
the other, writes the change, its :class:`~server.core.cases.CaseEvent` and its
audit entry, and only after the commit tells the staff pages (``on_change``).
The model, the refusals and the deadline rule live in :mod:`server.core.cases`.

Plain Python, no I/O: the store is a protocol (:class:`CaseStore`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from . import case_codes
from .appointments import Actor, normalize_phone
from .calendar import Clock, HallCalendar, utc_now
from .cases import (
    LIST_LIMIT,
    Case,
    CaseClaim,
    CaseEvent,
    CaseEventKind,
    CaseKind,
    CaseRefused,
    CaseScope,
    CaseStatus,
    CaseStep,
    CaseTicket,
    CounterTicket,
    StepStatus,
    clean_text,
    closed_refusal,
    new_case_id,
    not_a_code,
    plan_steps,
    step_refusal,
    unknown_case,
)
from .due import deadline

# -- the store it needs ------------------------------------------------------------------


class CaseReader(Protocol):
    def case_by_code(self, code: str) -> Case | None: ...

    def case_of_ticket(self, ticket_id: str) -> Case | None: ...

    def open_cases(self, scope: CaseScope, limit: int) -> list[Case]:
        """Open cases in ``scope``, the soonest deadline of their active step first."""

    def open_count(self, scope: CaseScope) -> int:
        """How many open cases there are in ``scope`` (the list may show fewer)."""

    def overdue_cases(self, now: datetime, scope: CaseScope, limit: int) -> list[Case]:
        """Open cases in ``scope`` whose active step ended at or before ``now``, the oldest deadline first."""

    def next_deadline(self, now: datetime, scope: CaseScope) -> datetime | None:
        """The soonest end of an active step after ``now`` in ``scope``."""

    def overdue_count(self, now: datetime, scope: CaseScope) -> int:
        """How many open cases in ``scope`` have an active step that ended at or before ``now``."""

    def next_due_case(self, now: datetime, scope: CaseScope) -> Case | None:
        """The open case in ``scope`` whose active step ends next after ``now``."""

    def came_due(self, after: datetime, upto: datetime) -> list[tuple[str, str]]:
        """(kind, service) of each active step whose deadline fell in (``after``, ``upto``]."""

    def case_events(self, case_id: str) -> list[CaseEvent]: ...

    def case_tickets(self, case_id: str) -> list[CaseTicket]: ...


class CaseTx(CaseReader, Protocol):
    def counter_ticket(self, ticket_id: str) -> CounterTicket | None:
        """The ticket, locked against another case being opened from it at the same time."""

    def code_taken(self, code: str) -> bool: ...

    def add_case(self, case: Case) -> None:
        """The case and its steps."""

    def lock_open(self, case_id: str, at: datetime) -> bool:
        """Lock the case's row for this transaction if it is still open; False when it is not.

        Every change of a case takes this first, so two changes of one case run one after the other.
        """

    def set_step(self, step: CaseStep, expect: StepStatus) -> bool:
        """Write the step if its stored status is still ``expect``; False when someone changed it first."""

    def close_case(self, case_id: str, status: CaseStatus, at: datetime, reason: str | None) -> None: ...

    def cancel_steps(self, case_id: str) -> None:
        """Pending and active steps of the case become ``cancelled``."""

    def add_case_events(self, events: Sequence[CaseEvent]) -> None: ...

    def add_case_tickets(self, links: Sequence[CaseTicket]) -> None: ...

    def is_staff(self, username: str) -> bool:
        """An active user who may work on cases (staff or admin)."""

    def erase_contacts(self, closed_before: datetime) -> int:
        """Forget the contact name and phone of cases closed before ``closed_before``; how many."""

    def audit(
        self, actor: str, action: str, target: str, at: datetime, detail: dict[str, Any], address: str
    ) -> None: ...


class CaseStore(Protocol):
    def transaction(self) -> AbstractContextManager[CaseTx]: ...

    def read(self) -> AbstractContextManager[CaseReader]: ...


#: ``on_change(payload)``: told after each committed change (the hub sends it to the staff room).
OnChange = Callable[[dict[str, Any]], None]


# -- the book ----------------------------------------------------------------------------


class CaseBook:
    """Open cases, complete and hand off their steps, cancel them, look them up, list the overdue."""

    def __init__(
        self,
        store: CaseStore,
        calendar: HallCalendar,
        kinds: Mapping[str, CaseKind],
        clock: Clock = utc_now,
        on_change: OnChange | None = None,
    ) -> None:
        self.store = store
        self.calendar = calendar
        self.kinds = kinds
        self.clock = clock
        self.on_change = on_change

    def kind_of(self, case: Case) -> CaseKind | None:
        return self.kinds.get(case.kind)

    # -- changes ---------------------------------------------------------------------

    def open(
        self,
        kind_code: str,
        ticket_id: str,
        counter: int,
        actor: Actor,
        contact_name: str | None = None,
        contact_phone: str | None = None,
    ) -> Case:
        """Open a case from the ticket at ``counter``: its owner (首问负责) owns the case; step 1 starts."""
        kind = self.kinds.get(kind_code)
        if kind is None:
            choices = ", ".join(self.kinds) or "none"
            raise CaseRefused(
                f"没有此类工单 {kind_code!r}（可选：{choices}）",
                f"no case kind {kind_code!r} (expected one of: {choices})",
            )
        name = clean_text(contact_name, "联系人姓名", "the contact name")
        phone = None
        if contact_phone and contact_phone.strip():
            phone = normalize_phone(contact_phone)
            if phone is None:
                raise CaseRefused("联系电话格式不对", "the contact phone is not a phone number")
        now = self.clock()
        with self.store.transaction() as tx:
            ticket = tx.counter_ticket(ticket_id)
            if ticket is None or ticket.counter != counter or ticket.status not in ("called", "serving"):
                raise CaseRefused(
                    f"{counter}号窗口当前没有这张号票", f"this ticket is not at counter {counter} now"
                )
            linked = tx.case_of_ticket(ticket.id)
            if linked is not None:
                raise CaseRefused(
                    f"号票 {ticket.number} 已属于工单 {case_codes.shown(linked.code)}",
                    f"ticket {ticket.number} already belongs to case {case_codes.shown(linked.code)}",
                )
            code = case_codes.new_code()
            while tx.code_taken(code):  # 32**9 codes: a clash is rare, two in a row rarer still
                code = case_codes.new_code()
            case_id = new_case_id()
            owner = ticket.owner or actor.name
            steps = plan_steps(case_id, kind)
            steps[0] = self._activate(steps[0], now, owner)
            case = Case(
                id=case_id,
                code=code,
                kind=kind.code,
                service=kind.service,
                status=CaseStatus.OPEN,
                owner=owner,
                opened_at=now,
                opened_by=actor.name,
                steps=tuple(steps),
                counter=counter,
                ticket_id=ticket.id,
                contact_name=name,
                contact_phone=phone,
            )
            tx.add_case(case)
            tx.add_case_tickets(
                [CaseTicket(case_id, ticket.id, ticket.number, ticket.business_day, now, 1, actor.name)]
            )
            detail = {"ticket": ticket.number, "counter": counter, "owner": owner}
            tx.add_case_events([CaseEvent(case_id, CaseEventKind.OPENED, now, actor.name, 1, detail)])
            self._audit(tx, actor, "case.open", case, now, {"kind": kind.code, "ticket": ticket.number})
        self._changed("opened", case)
        return case

    def complete_step(
        self, code: str, step: int, actor: Actor, counter: int | None = None, note: str | None = None
    ) -> Case:
        """Complete the active step ``step``: the next starts now with its own deadline; after the last,
        the case is done."""
        note = clean_text(note, "备注", "the note")
        now = self.clock()
        with self.store.transaction() as tx:
            case = self._locked(tx, code, now)
            current = self._active(case, step)
            done = replace(current, status=StepStatus.DONE, done_at=now, done_by=actor.name, owner=actor.name)
            if not tx.set_step(done, StepStatus.ACTIVE):
                raise step_refusal(step)
            detail: dict[str, Any] = {"counter": counter} if counter is not None else {}
            if note:
                detail["note"] = note
            following = next((s for s in case.steps if s.step == step + 1), None)
            if following is not None:
                started = self._activate(following, now, case.owner)
                if not tx.set_step(started, StepStatus.PENDING):
                    raise step_refusal(step + 1)
                detail.update(
                    next=started.step, due_on=started.due_on.isoformat() if started.due_on else None
                )
                events = [CaseEvent(case.id, CaseEventKind.STEP_DONE, now, actor.name, step, detail)]
                steps = [done if s.step == step else started if s.step == step + 1 else s for s in case.steps]
                case = replace(case, steps=tuple(steps))
            else:
                tx.close_case(case.id, CaseStatus.DONE, now, None)
                events = [
                    CaseEvent(case.id, CaseEventKind.STEP_DONE, now, actor.name, step, detail),
                    CaseEvent(case.id, CaseEventKind.DONE, now, actor.name),
                ]
                steps = [done if s.step == step else s for s in case.steps]
                case = replace(case, steps=tuple(steps), status=CaseStatus.DONE, closed_at=now)
            tx.add_case_events(events)
            self._audit(tx, actor, "case.step_done", case, now, {"step": step, "code": current.code})
        self._changed("step_done", case)
        return case

    def hand_off(self, code: str, step: int, to: str, actor: Actor, reason: str | None = None) -> Case:
        """The active step ``step`` is now ``to``'s (a staff user); the case owner stays responsible."""
        reason = clean_text(reason, "移交原因", "the reason")
        now = self.clock()
        with self.store.transaction() as tx:
            case = self._locked(tx, code, now)
            current = self._active(case, step)
            if not tx.is_staff(to):
                raise CaseRefused(f"没有在职的工作人员 {to!r}", f"{to!r} is not an active staff user")
            if to == current.owner:
                raise CaseRefused(f"此步骤已由 {to} 负责", f"this step is {to}'s already")
            moved = replace(current, owner=to)
            if not tx.set_step(moved, StepStatus.ACTIVE):
                raise step_refusal(step)
            detail: dict[str, Any] = {"from": current.owner, "to": to}
            if reason:
                detail["reason"] = reason
            tx.add_case_events([CaseEvent(case.id, CaseEventKind.HANDED_OFF, now, actor.name, step, detail)])
            self._audit(tx, actor, "case.hand_off", case, now, {"step": step, "to": to})
            case = replace(case, steps=tuple(moved if s.step == step else s for s in case.steps))
        self._changed("handed_off", case)
        return case

    def cancel(self, code: str, actor: Actor, reason: str) -> Case:
        """Cancel an open case with a reason (the visitor withdrew, the application was refused)."""
        why = clean_text(reason, "撤销原因", "the reason", required=True)
        now = self.clock()
        with self.store.transaction() as tx:
            case = self._locked(tx, code, now)
            tx.close_case(case.id, CaseStatus.CANCELLED, now, why)
            tx.cancel_steps(case.id)
            detail = {"reason": why}
            tx.add_case_events([CaseEvent(case.id, CaseEventKind.CANCELLED, now, actor.name, None, detail)])
            self._audit(tx, actor, "case.cancel", case, now, {})
            steps = tuple(
                replace(s, status=StepStatus.CANCELLED)
                if s.status in (StepStatus.PENDING, StepStatus.ACTIVE)
                else s
                for s in case.steps
            )
            case = replace(case, status=CaseStatus.CANCELLED, closed_at=now, reason=why, steps=steps)
        self._changed("cancelled", case)
        return case

    def erase_contacts(self, retention_days: int) -> int:
        """Forget contact names and phones of cases closed more than ``retention_days`` ago (audited)."""
        now = self.clock()
        with self.store.transaction() as tx:
            erased = tx.erase_contacts(now - timedelta(days=retention_days))
            if erased:
                tx.audit(
                    "hub", "case.erase_contacts", f"older_than:{retention_days}d", now, {"count": erased}, ""
                )
        return erased

    # -- looking ---------------------------------------------------------------------

    def find(self, text: str) -> Case:
        """The case with this code (typed or scanned, with or without the dash); else :class:`UnknownCase`."""
        code = case_codes.normalize(text)
        if code is None:
            raise not_a_code()
        with self.store.read() as tx:
            case = tx.case_by_code(code)
        if case is None:
            raise unknown_case()
        return case

    def of_ticket(self, ticket_id: str) -> Case | None:
        with self.store.read() as tx:
            return tx.case_of_ticket(ticket_id)

    def record(self, case: Case) -> tuple[list[CaseEvent], list[CaseTicket]]:
        """The case's log and its tickets, oldest first."""
        with self.store.read() as tx:
            return tx.case_events(case.id), tx.case_tickets(case.id)

    def open_cases(self, scope: CaseScope, limit: int = LIST_LIMIT) -> list[Case]:
        with self.store.read() as tx:
            return tx.open_cases(scope, limit)

    def overdue(self, scope: CaseScope, limit: int = LIST_LIMIT) -> tuple[list[Case], datetime | None]:
        """Open cases in ``scope`` with an overdue step now, and when the next active step in scope ends."""
        now = self.clock()
        with self.store.read() as tx:
            return tx.overdue_cases(now, scope, limit), tx.next_deadline(now, scope)

    def counted(
        self, scope: CaseScope, overdue_only: bool = False, limit: int = LIST_LIMIT
    ) -> tuple[list[Case], int, int]:
        """Open cases in ``scope`` (only the overdue ones if asked), at most ``limit`` of them, with the
        true number of open cases and of overdue ones in ``scope``: a list that was cut says so."""
        now = self.clock()
        with self.store.read() as tx:
            total = tx.open_count(scope)
            late = tx.overdue_count(now, scope)
            listed = tx.overdue_cases(now, scope, limit) if overdue_only else tx.open_cases(scope, limit)
            return listed, total, late

    def due_now(self, scope: CaseScope) -> tuple[int, Case | None, Case | None]:
        """How many open cases in ``scope`` are overdue now, the oldest of them, and the case whose
        step ends next: three small reads (a count and two single rows), whatever the backlog."""
        now = self.clock()
        with self.store.read() as tx:
            count = tx.overdue_count(now, scope)
            oldest = tx.overdue_cases(now, scope, 1) if count else []
            return count, (oldest[0] if oldest else None), tx.next_due_case(now, scope)

    def came_due(self, after: datetime, upto: datetime) -> list[tuple[str, str]]:
        """(kind, service) of the steps that became overdue in (``after``, ``upto``]: for the watch."""
        with self.store.read() as tx:
            return tx.came_due(after, upto)

    def claim(self, case: Case) -> CaseClaim:
        """The claim a ticket for this case carries; :class:`CaseClosed` when the case is over."""
        if case.status is not CaseStatus.OPEN:
            raise closed_refusal(case.status)
        active = case.active
        return CaseClaim(case.id, case.code, active.step if active else None)

    # -- helpers ---------------------------------------------------------------------

    def _activate(self, step: CaseStep, now: datetime, owner: str) -> CaseStep:
        due_on, due_at = deadline(self.calendar, now, step.working_days)
        return replace(
            step, status=StepStatus.ACTIVE, active_at=now, due_on=due_on, due_at=due_at, owner=owner
        )

    @staticmethod
    def _locked(tx: CaseTx, code: str, now: datetime) -> Case:
        """The open case ``code``, its row locked, read again after the lock (what the change builds on)."""
        found = tx.case_by_code(code)
        if found is None:
            raise unknown_case()
        if not tx.lock_open(found.id, now):
            fresh = tx.case_by_code(code)
            raise closed_refusal(fresh.status if fresh else found.status)
        fresh = tx.case_by_code(code)
        assert fresh is not None, "a locked case stays"
        return fresh

    @staticmethod
    def _active(case: Case, step: int) -> CaseStep:
        active = case.active
        if active is None or active.step != step:
            raise step_refusal(step)
        return active

    @staticmethod
    def _audit(
        tx: CaseTx, actor: Actor, action: str, case: Case, now: datetime, detail: dict[str, Any]
    ) -> None:
        tx.audit(actor.name, action, f"case:{case.code}", now, {"kind": case.kind, **detail}, actor.address)

    def _changed(self, action: str, case: Case) -> None:
        """Tell staff pages something changed (after the commit): no code, no name, no phone."""
        if self.on_change is not None:
            self.on_change(
                {"action": action, "kind": case.kind, "service": case.service, "status": case.status.value}
            )
