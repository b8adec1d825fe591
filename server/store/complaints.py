"""Complaints on SQLAlchemy Core: the :class:`~server.core.complaint_book.ComplaintStore` of the hub.

Writes run in the engine's write transactions (``BEGIN IMMEDIATE`` on SQLite),
reads in read-only ones. Every change first updates the complaint's own row
where it is still open (:meth:`SqlComplaintTx.lock_open`): on PostgreSQL the
row lock makes two changes of one complaint wait for each other, and the
second sees the first's (a close, an owner), as cases do.

The figures read ``complaint_events`` only (the log), never the current-state
row: recorded and closed events in the period, each closure joined to its
complaint's recorded event for the time it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    case,
    exists,
    func,
    insert,
    select,
    true,
    update,
)

from ..core.complaint_book import ComplaintTx
from ..core.complaints import (
    Channel,
    Closure,
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintScope,
    ComplaintStatus,
    ReturnSatisfaction,
    TicketFacts,
)
from .audit import append
from .schema import (
    cases,
    complaint_events,
    complaints,
    staff_sessions,
    ticket_legs,
    tickets,
    users,
)
from .sql import Transactions

#: Roles that may own a complaint (首问负责) or be named as the clerk concerned.
OWNER_ROLES = ("staff", "supervisor", "admin")


class SqlComplaints(Transactions["SqlComplaintTx"]):
    """Open write and read transactions on the hub's engine."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, SqlComplaintTx)


class SqlComplaintTx(ComplaintTx):
    """One transaction's view of the complaints."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- reads ---------------------------------------------------------------------------

    def complaint(self, complaint_id: str) -> Complaint | None:
        row = self.conn.execute(select(complaints).where(complaints.c.id == complaint_id)).mappings().first()
        return _complaint(row) if row else None

    def complaints(self, scope: ComplaintScope, now: datetime, limit: int) -> list[Complaint]:
        where: list[ColumnElement[bool]] = [true()]
        if not scope.everything:
            where.append(complaints.c.owner == (scope.owner or ""))
        if scope.open_only or scope.overdue_only:
            where.append(complaints.c.status == ComplaintStatus.OPEN.value)
        if scope.overdue_only:
            where.append(complaints.c.due_at <= now)
        still_open = case((complaints.c.status == ComplaintStatus.OPEN.value, 0), else_=1)
        query: Select[Any] = (
            select(complaints)
            .where(*where)
            .order_by(still_open, complaints.c.due_at, complaints.c.recorded_at)
            .limit(limit)
        )
        return [_complaint(r) for r in self.conn.execute(query).mappings()]

    def complaint_events(self, complaint_id: str) -> list[ComplaintEvent]:
        query = (
            select(complaint_events)
            .where(complaint_events.c.complaint_id == complaint_id)
            .order_by(complaint_events.c.id)
        )
        return [
            ComplaintEvent(
                r["complaint_id"], ComplaintEventKind(r["kind"]), r["at"], r["actor"], dict(r["detail"] or {})
            )
            for r in self.conn.execute(query).mappings()
        ]

    def came_due(self, after: datetime, upto: datetime) -> list[str]:
        query = select(complaints.c.category).where(
            complaints.c.status == ComplaintStatus.OPEN.value,
            complaints.c.due_at > after,
            complaints.c.due_at <= upto,
        )
        return [str(c) for c in self.conn.scalars(query)]

    def recorded_between(self, start: datetime, end: datetime) -> list[tuple[str, bool]]:
        recorded = complaint_events.alias("recorded")
        closed = complaint_events.alias("closed")
        handled = (
            select(closed.c.id)
            .where(
                closed.c.complaint_id == recorded.c.complaint_id,
                closed.c.kind == ComplaintEventKind.CLOSED.value,
                closed.c.detail["return_call"].as_boolean(),
            )
            .exists()
        )
        query = select(recorded.c.detail["category"].as_string(), handled).where(
            recorded.c.kind == ComplaintEventKind.RECORDED.value,
            recorded.c.at >= start,
            recorded.c.at < end,
        )
        return [(str(category), bool(done)) for category, done in self.conn.execute(query)]

    def closed_between(self, start: datetime, end: datetime) -> list[Closure]:
        closed = complaint_events.alias("closed")
        recorded = complaint_events.alias("recorded")
        query = (
            select(
                recorded.c.detail["category"].as_string(),
                recorded.c.at,
                closed.c.at,
                closed.c.detail["return_call"].as_boolean(),
            )
            .select_from(closed)
            .join(
                recorded,
                and_(
                    recorded.c.complaint_id == closed.c.complaint_id,
                    recorded.c.kind == ComplaintEventKind.RECORDED.value,
                ),
            )
            .where(closed.c.kind == ComplaintEventKind.CLOSED.value, closed.c.at >= start, closed.c.at < end)
        )
        return [
            Closure(str(category), _utc(began), _utc(ended), bool(returned))
            for category, began, ended, returned in self.conn.execute(query)
        ]

    def overdue_count(self, now: datetime) -> int:
        query = select(func.count()).where(
            complaints.c.status == ComplaintStatus.OPEN.value, complaints.c.due_at <= now
        )
        return int(self.conn.scalar(query) or 0)

    def ticket_facts(self, ticket_id: str) -> TicketFacts | None:
        row = self.conn.execute(
            select(tickets.c.id, tickets.c.number, tickets.c.service).where(tickets.c.id == ticket_id)
        ).first()
        if row is None:
            return None
        leg = self.conn.execute(
            select(ticket_legs.c.staff, ticket_legs.c.counter, ticket_legs.c.service)
            .where(ticket_legs.c.ticket_id == ticket_id, ticket_legs.c.staff.is_not(None))
            .order_by(ticket_legs.c.leg.desc())
            .limit(1)
        ).first()
        if leg is None:
            return TicketFacts(row.id, row.number, row.service, None, None)
        return TicketFacts(row.id, row.number, leg.service, leg.counter, leg.staff)

    def case_exists(self, code: str) -> bool:
        return bool(self.conn.scalar(select(exists().where(cases.c.code == code))))

    def complaints_of_ticket(self, ticket_id: str) -> int:
        return int(self.conn.scalar(select(func.count()).where(complaints.c.ticket_id == ticket_id)) or 0)

    def may_own(self, username: str) -> bool:
        query = select(
            exists().where(
                users.c.username == username, users.c.active.is_(True), users.c.role.in_(OWNER_ROLES)
            )
        )
        return bool(self.conn.scalar(query))

    def on_duty(self, configured: str | None, now: datetime) -> str | None:
        if configured and self.may_own(configured):
            return configured
        query = (
            select(staff_sessions.c.username)
            .join(users, users.c.username == staff_sessions.c.username)
            .where(
                users.c.role == "supervisor",
                users.c.active.is_(True),
                staff_sessions.c.ended_at.is_(None),
                staff_sessions.c.expires_at > now,
            )
            .order_by(staff_sessions.c.created_at.desc())
            .limit(1)
        )
        found = self.conn.scalar(query)
        return str(found) if found else None

    # -- writes --------------------------------------------------------------------------

    def add_complaint(self, complaint: Complaint) -> None:
        self.conn.execute(insert(complaints).values(**_row(complaint)))

    def lock_open(self, complaint_id: str, at: datetime) -> bool:
        result = self.conn.execute(
            update(complaints)
            .where(complaints.c.id == complaint_id, complaints.c.status == ComplaintStatus.OPEN.value)
            .values(updated_at=at)
        )
        return result.rowcount == 1

    def save(self, complaint: Complaint) -> None:
        row = _row(complaint)
        kept = ("owner", "status", "return_at", "return_by", "return_satisfaction", "return_note")
        values = {k: row[k] for k in (*kept, "closed_at", "closed_by", "result")}
        self.conn.execute(update(complaints).where(complaints.c.id == complaint.id).values(**values))

    def add_events(self, events: Sequence[ComplaintEvent]) -> None:
        if events:
            self.conn.execute(
                insert(complaint_events),
                [
                    {
                        "complaint_id": e.complaint_id,
                        "kind": e.kind.value,
                        "at": e.at,
                        "actor": e.actor[:64],
                        "detail": e.detail,
                    }
                    for e in events
                ],
            )

    def erase_contacts(self, closed_before: datetime) -> int:
        result = self.conn.execute(
            update(complaints)
            .where(
                complaints.c.status == ComplaintStatus.CLOSED.value,
                complaints.c.closed_at < closed_before,
                complaints.c.contact_phone.is_not(None),
            )
            .values(contact_phone=None)
        )
        return int(result.rowcount)

    def audit(
        self, actor: str, action: str, target: str, at: datetime, detail: dict[str, Any], address: str
    ) -> None:
        append(self.conn, actor, action, target, at, detail, address)


def _row(c: Complaint) -> dict[str, Any]:
    return {
        "id": c.id,
        "category": c.category,
        "status": c.status.value,
        "channel": c.channel.value,
        "text": c.text,
        "recorded_at": c.recorded_at,
        "recorded_by": c.recorded_by[:64],
        "due_on": c.due_on,
        "due_at": c.due_at,
        "owner": c.owner,
        "ticket_id": c.ticket_id,
        "ticket_number": c.ticket_number,
        "case_code": c.case_code,
        "clerk": c.clerk,
        "counter": c.counter,
        "service": c.service,
        "contact_phone": c.contact_phone,
        "return_at": c.return_at,
        "return_by": c.return_by,
        "return_satisfaction": c.return_satisfaction.value if c.return_satisfaction else None,
        "return_note": c.return_note,
        "closed_at": c.closed_at,
        "closed_by": c.closed_by,
        "result": c.result,
        "updated_at": c.recorded_at,
    }


def _complaint(r: Any) -> Complaint:
    return Complaint(
        id=r["id"],
        category=r["category"],
        status=ComplaintStatus(r["status"]),
        channel=Channel(r["channel"]),
        text=r["text"],
        recorded_at=r["recorded_at"],
        recorded_by=r["recorded_by"],
        due_on=r["due_on"],
        due_at=r["due_at"],
        owner=r["owner"],
        ticket_id=r["ticket_id"],
        ticket_number=r["ticket_number"],
        case_code=r["case_code"],
        clerk=r["clerk"],
        counter=r["counter"],
        service=r["service"],
        contact_phone=r["contact_phone"],
        return_at=r["return_at"],
        return_by=r["return_by"],
        return_satisfaction=ReturnSatisfaction(r["return_satisfaction"])
        if r["return_satisfaction"]
        else None,
        return_note=r["return_note"],
        closed_at=r["closed_at"],
        closed_by=r["closed_by"],
        result=r["result"],
    )


def _utc(moment: Any) -> datetime:
    """A joined alias's time: the column type already makes it aware UTC."""
    assert isinstance(moment, datetime)
    return moment
