"""The cases on SQLAlchemy Core: the :class:`~server.core.case_book.CaseStore` of the hub.

Writes run in the engine's write transactions (``BEGIN IMMEDIATE`` on SQLite,
so they run one after the other), reads in :func:`~server.store.sql.read_only`
ones. On PostgreSQL every change of a case first updates the case's own row
where it is still open (:meth:`SqlCaseTx.lock_open`): the row lock makes two
changes of one case wait for each other, and the second sees what the first
did (a step done, the case cancelled), so nothing is done twice and no two
transactions lock a case's rows in opposite orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, exists, false, func, insert, or_, select, true, update

from ..core.case_book import CaseTx
from ..core.cases import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseScope,
    CaseStatus,
    CaseStep,
    CaseTicket,
    CounterTicket,
    StepStatus,
)
from .audit import append
from .schema import case_events, case_steps, case_tickets, cases, tickets, users
from .sql import Transactions

#: Roles that may own or be handed a step of a case.
CASE_ROLES = ("staff", "admin")


class SqlCases(Transactions["SqlCaseTx"]):
    """Open write and read transactions on the hub's engine."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, SqlCaseTx)


class SqlCaseTx(CaseTx):
    """One transaction's view of the cases."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- reads ---------------------------------------------------------------------------

    def case_by_code(self, code: str) -> Case | None:
        return self._one(select(cases).where(cases.c.code == code))

    def case_of_ticket(self, ticket_id: str) -> Case | None:
        linked = select(case_tickets.c.case_id).where(case_tickets.c.ticket_id == ticket_id)
        return self._one(select(cases).where(cases.c.id.in_(linked.scalar_subquery())))

    def open_cases(self, scope: CaseScope, limit: int) -> list[Case]:
        active = _active_steps()
        query = (
            select(cases)
            .outerjoin(active, active.c.case_id == cases.c.id)
            .where(cases.c.status == CaseStatus.OPEN.value, _in_scope(scope, active.c.owner))
            .order_by(active.c.due_at, cases.c.opened_at)
            .limit(limit)
        )
        return self._many(query)

    def open_count(self, scope: CaseScope) -> int:
        active = _active_steps()
        query = (
            select(func.count())
            .select_from(cases)
            .outerjoin(active, active.c.case_id == cases.c.id)
            .where(cases.c.status == CaseStatus.OPEN.value, _in_scope(scope, active.c.owner))
        )
        return int(self.conn.scalar(query) or 0)

    def overdue_cases(self, now: datetime, scope: CaseScope, limit: int) -> list[Case]:
        query = (
            select(cases)
            .join(case_steps, case_steps.c.case_id == cases.c.id)
            .where(
                case_steps.c.status == StepStatus.ACTIVE.value,
                case_steps.c.due_at <= now,
                cases.c.status == CaseStatus.OPEN.value,
                _in_scope(scope, case_steps.c.owner),
            )
            .order_by(case_steps.c.due_at, cases.c.opened_at)
            .limit(limit)
        )
        return self._many(query)

    def overdue_count(self, now: datetime, scope: CaseScope) -> int:
        query = (
            select(func.count())
            .select_from(case_steps)
            .join(cases, case_steps.c.case_id == cases.c.id)
            .where(
                case_steps.c.status == StepStatus.ACTIVE.value,
                case_steps.c.due_at <= now,
                cases.c.status == CaseStatus.OPEN.value,
                _in_scope(scope, case_steps.c.owner),
            )
        )
        return int(self.conn.scalar(query) or 0)

    def next_due_case(self, now: datetime, scope: CaseScope) -> Case | None:
        query = (
            select(cases)
            .join(case_steps, case_steps.c.case_id == cases.c.id)
            .where(
                case_steps.c.status == StepStatus.ACTIVE.value,
                case_steps.c.due_at > now,
                cases.c.status == CaseStatus.OPEN.value,
                _in_scope(scope, case_steps.c.owner),
            )
            .order_by(case_steps.c.due_at, cases.c.opened_at)
            .limit(1)
        )
        return self._one(query)

    def next_deadline(self, now: datetime, scope: CaseScope) -> datetime | None:
        query = (
            select(func.min(case_steps.c.due_at))
            .join(cases, case_steps.c.case_id == cases.c.id)
            .where(
                case_steps.c.status == StepStatus.ACTIVE.value,
                case_steps.c.due_at > now,
                cases.c.status == CaseStatus.OPEN.value,
                _in_scope(scope, case_steps.c.owner),
            )
        )
        moment = self.conn.scalar(query)
        return _aware(moment)

    def came_due(self, after: datetime, upto: datetime) -> list[tuple[str, str]]:
        query = (
            select(cases.c.kind, cases.c.service)
            .join(case_steps, case_steps.c.case_id == cases.c.id)
            .where(
                case_steps.c.status == StepStatus.ACTIVE.value,
                case_steps.c.due_at > after,
                case_steps.c.due_at <= upto,
            )
        )
        return [(str(kind), str(service)) for kind, service in self.conn.execute(query)]

    def case_events(self, case_id: str) -> list[CaseEvent]:
        query = select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)
        return [
            CaseEvent(
                case_id=r["case_id"],
                kind=CaseEventKind(r["kind"]),
                at=r["at"],
                actor=r["actor"],
                step=r["step"],
                detail=dict(r["detail"] or {}),
            )
            for r in self.conn.execute(query).mappings()
        ]

    def case_tickets(self, case_id: str) -> list[CaseTicket]:
        query = (
            select(case_tickets)
            .where(case_tickets.c.case_id == case_id)
            .order_by(case_tickets.c.at, case_tickets.c.number)
        )
        return [
            CaseTicket(
                case_id=r["case_id"],
                ticket_id=r["ticket_id"],
                number=r["number"],
                business_day=r["business_day"],
                at=r["at"],
                step=r["step"],
                by=r["linked_by"],
            )
            for r in self.conn.execute(query).mappings()
        ]

    def counter_ticket(self, ticket_id: str) -> CounterTicket | None:
        query = select(
            tickets.c.id,
            tickets.c.number,
            tickets.c.service,
            tickets.c.status,
            tickets.c.business_day,
            tickets.c.counter,
            tickets.c.owner,
        ).where(tickets.c.id == ticket_id)
        # Two clerks' clicks opening a case from one ticket: the second waits, then finds the first's.
        row = self.conn.execute(query.with_for_update()).mappings().first()
        return CounterTicket(**dict(row)) if row else None

    def code_taken(self, code: str) -> bool:
        return bool(self.conn.scalar(select(exists().where(cases.c.code == code))))

    def is_staff(self, username: str) -> bool:
        query = select(
            exists().where(
                users.c.username == username, users.c.active.is_(True), users.c.role.in_(CASE_ROLES)
            )
        )
        return bool(self.conn.scalar(query))

    # -- writes --------------------------------------------------------------------------

    def add_case(self, case: Case) -> None:
        self.conn.execute(insert(cases).values(**_case_row(case)))
        self.conn.execute(insert(case_steps), [_step_row(s) for s in case.steps])

    def lock_open(self, case_id: str, at: datetime) -> bool:
        result = self.conn.execute(
            update(cases)
            .where(cases.c.id == case_id, cases.c.status == CaseStatus.OPEN.value)
            .values(updated_at=at)
        )
        return result.rowcount == 1

    def set_step(self, step: CaseStep, expect: StepStatus) -> bool:
        row = _step_row(step)
        for key in ("case_id", "step", "code", "name_zh", "name_en", "working_days"):
            del row[key]
        result = self.conn.execute(
            update(case_steps)
            .where(
                case_steps.c.case_id == step.case_id,
                case_steps.c.step == step.step,
                case_steps.c.status == expect.value,
            )
            .values(**row)
        )
        return result.rowcount == 1

    def close_case(self, case_id: str, status: CaseStatus, at: datetime, reason: str | None) -> None:
        self.conn.execute(
            update(cases)
            .where(cases.c.id == case_id)
            .values(status=status.value, closed_at=at, reason=reason, updated_at=at)
        )

    def cancel_steps(self, case_id: str) -> None:
        self.conn.execute(
            update(case_steps)
            .where(
                case_steps.c.case_id == case_id,
                case_steps.c.status.in_([StepStatus.PENDING.value, StepStatus.ACTIVE.value]),
            )
            .values(status=StepStatus.CANCELLED.value)
        )

    def add_case_events(self, events: Sequence[CaseEvent]) -> None:
        if events:
            self.conn.execute(insert(case_events), [event_row(e) for e in events])

    def add_case_tickets(self, links: Sequence[CaseTicket]) -> None:
        if links:
            self.conn.execute(insert(case_tickets), [link_row(link) for link in links])

    def erase_contacts(self, closed_before: datetime) -> int:
        result = self.conn.execute(
            update(cases)
            .where(
                cases.c.status != CaseStatus.OPEN.value,
                cases.c.closed_at < closed_before,
                or_(cases.c.contact_name.is_not(None), cases.c.contact_phone.is_not(None)),
            )
            .values(contact_name=None, contact_phone=None)
        )
        return int(result.rowcount)

    def audit(
        self, actor: str, action: str, target: str, at: datetime, detail: dict[str, Any], address: str
    ) -> None:
        append(self.conn, actor, action, target, at, detail, address)

    # -- rows ----------------------------------------------------------------------------

    def _one(self, query: Select[Any]) -> Case | None:
        found = self._many(query)
        return found[0] if found else None

    def _many(self, query: Select[Any]) -> list[Case]:
        """The cases ``query`` selects, in its order, each with its steps (one more query for all)."""
        rows = list(self.conn.execute(query).mappings())
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        steps: dict[str, list[CaseStep]] = {i: [] for i in ids}
        step_query = (
            select(case_steps)
            .where(case_steps.c.case_id.in_(ids))
            .order_by(case_steps.c.case_id, case_steps.c.step)
        )
        for r in self.conn.execute(step_query).mappings():
            steps[r["case_id"]].append(_step(r))
        return [_case(r, steps[r["id"]]) for r in rows]


def _active_steps() -> Any:
    """Each case's active step (at most one), as a subquery to join."""
    return (
        select(case_steps.c.case_id, case_steps.c.owner, case_steps.c.due_at)
        .where(case_steps.c.status == StepStatus.ACTIVE.value)
        .subquery("active")
    )


def _in_scope(scope: CaseScope, step_owner: Any) -> Any:
    """The cases a caller may list: all, or theirs (case or active step), or of their counter's services."""
    if scope.everything:
        return true()
    mine = [cases.c.owner == scope.owner, step_owner == scope.owner] if scope.owner else []
    served = [cases.c.service.in_(sorted(scope.services))] if scope.services else []
    return or_(false(), *mine, *served)


def event_row(event: CaseEvent) -> dict[str, Any]:
    return {
        "case_id": event.case_id,
        "kind": event.kind.value,
        "at": event.at,
        "actor": event.actor[:64],
        "step": event.step,
        "detail": event.detail,
    }


def link_row(link: CaseTicket) -> dict[str, Any]:
    return {
        "ticket_id": link.ticket_id,
        "case_id": link.case_id,
        "number": link.number,
        "business_day": link.business_day,
        "at": link.at,
        "step": link.step,
        "linked_by": (link.by or "")[:64] or None,
    }


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "code": case.code,
        "kind": case.kind,
        "service": case.service,
        "status": case.status.value,
        "owner": case.owner,
        "opened_at": case.opened_at,
        "opened_by": case.opened_by,
        "counter": case.counter,
        "ticket_id": case.ticket_id,
        "contact_name": case.contact_name,
        "contact_phone": case.contact_phone,
        "closed_at": case.closed_at,
        "reason": case.reason,
        "updated_at": case.opened_at,
    }


def _step_row(step: CaseStep) -> dict[str, Any]:
    return {
        "case_id": step.case_id,
        "step": step.step,
        "code": step.code,
        "name_zh": step.name_zh,
        "name_en": step.name_en,
        "working_days": step.working_days,
        "status": step.status.value,
        "owner": step.owner,
        "due_on": step.due_on,
        "due_at": step.due_at,
        "active_at": step.active_at,
        "done_at": step.done_at,
        "done_by": step.done_by,
    }


def _step(row: Any) -> CaseStep:
    return CaseStep(
        case_id=row["case_id"],
        step=row["step"],
        code=row["code"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        working_days=row["working_days"],
        status=StepStatus(row["status"]),
        owner=row["owner"],
        due_on=row["due_on"],
        due_at=row["due_at"],
        active_at=row["active_at"],
        done_at=row["done_at"],
        done_by=row["done_by"],
    )


def _case(row: Any, steps: list[CaseStep]) -> Case:
    return Case(
        id=row["id"],
        code=row["code"],
        kind=row["kind"],
        service=row["service"],
        status=CaseStatus(row["status"]),
        owner=row["owner"],
        opened_at=row["opened_at"],
        opened_by=row["opened_by"],
        steps=tuple(steps),
        counter=row["counter"],
        ticket_id=row["ticket_id"],
        contact_name=row["contact_name"],
        contact_phone=row["contact_phone"],
        closed_at=row["closed_at"],
        reason=row["reason"],
    )


def _aware(moment: Any) -> datetime | None:
    """An aggregate's datetime, UTC-aware whatever the driver hands back for it."""
    if moment is None:
        return None
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
