"""The appointments on SQLAlchemy Core: the :class:`~server.core.appointments.AppointmentStore` of the hub.

Writes run in the engine's write transactions (``BEGIN IMMEDIATE`` on SQLite),
reads in :func:`~server.store.sql.read_only` ones. The quota per half-day is an
upsert that returns the new count, as ticket numbers are: on PostgreSQL the row
lock it takes makes two racing bookings of the last place wait for each other,
and the second sees the place gone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from ..core.appointments import Appointment, AppointmentStatus, Half
from .audit import append
from .schema import appointment_quota, appointments
from .sql import Transactions, upsert


class SqlAppointments(Transactions["SqlAppointmentTx"]):
    """Open write and read transactions on the hub's engine."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, SqlAppointmentTx)


class SqlAppointmentTx:
    """One transaction's view of the appointments."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, appointment_id: str) -> Appointment | None:
        row = (
            self.conn.execute(select(appointments).where(appointments.c.id == appointment_id))
            .mappings()
            .first()
        )
        return _appointment(row) if row else None

    def by_code(self, day: date, code: str) -> Appointment | None:
        query = select(appointments).where(appointments.c.business_day == day, appointments.c.code == code)
        row = self.conn.execute(query).mappings().first()
        return _appointment(row) if row else None

    def by_phone(self, day: date, phone: str) -> list[Appointment]:
        query = select(appointments).where(appointments.c.business_day == day, appointments.c.phone == phone)
        return [_appointment(r) for r in self.conn.execute(query).mappings()]

    def day(self, day: date) -> list[Appointment]:
        query = (
            select(appointments)
            .where(appointments.c.business_day == day)
            .order_by(appointments.c.slot_start, appointments.c.code)
        )
        return [_appointment(r) for r in self.conn.execute(query).mappings()]

    def booked(self, service: str, day: date, half: str) -> int:
        query = select(appointment_quota.c.booked).where(
            appointment_quota.c.service == service,
            appointment_quota.c.business_day == day,
            appointment_quota.c.half == half,
        )
        return int(self.conn.scalar(query) or 0)

    def take_place(self, service: str, day: date, half: str) -> int:
        stmt = upsert(
            self.conn.dialect.name,
            appointment_quota,
            {"service": service, "business_day": day, "half": half, "booked": 1},
            [appointment_quota.c.service, appointment_quota.c.business_day, appointment_quota.c.half],
            {"booked": appointment_quota.c.booked + 1},
        ).returning(appointment_quota.c.booked)
        return int(self.conn.execute(stmt).scalar_one())

    def give_back_place(self, service: str, day: date, half: str) -> None:
        self.conn.execute(
            update(appointment_quota)
            .where(
                appointment_quota.c.service == service,
                appointment_quota.c.business_day == day,
                appointment_quota.c.half == half,
                appointment_quota.c.booked > 0,
            )
            .values(booked=appointment_quota.c.booked - 1)
        )

    def code_taken(self, day: date, codes: Collection[str]) -> set[str]:
        query = select(appointments.c.code).where(
            appointments.c.business_day == day, appointments.c.code.in_(list(codes))
        )
        return set(self.conn.scalars(query))

    def add(self, batch: Sequence[Appointment]) -> None:
        if batch:
            self.conn.execute(insert(appointments), [_row(a) for a in batch])

    def set_status(
        self, appointment_id: str, expect: Collection[str], to: str, at: datetime | None = None
    ) -> bool:
        values: dict[str, Any] = {"status": to}
        if to == AppointmentStatus.CHECKED_IN.value:
            values["checked_in_at"] = at
        result = self.conn.execute(
            update(appointments)
            .where(appointments.c.id == appointment_id, appointments.c.status.in_(list(expect)))
            .values(**values)
        )
        return result.rowcount == 1

    def no_shows_since(self, phone: str, since: date) -> int:
        query = select(func.count()).where(
            appointments.c.phone == phone,
            appointments.c.status == AppointmentStatus.NO_SHOW.value,
            appointments.c.business_day >= since,
        )
        return int(self.conn.scalar(query) or 0)

    def mark_overdue(self, started_before: datetime) -> int:
        result = self.conn.execute(
            update(appointments)
            .where(
                appointments.c.status == AppointmentStatus.BOOKED.value,
                appointments.c.slot_start < started_before,
            )
            .values(status=AppointmentStatus.NO_SHOW.value)
        )
        return int(result.rowcount)

    def erase_names(self, before: date) -> int:
        result = self.conn.execute(
            update(appointments)
            .where(appointments.c.business_day < before, appointments.c.name.is_not(None))
            .values(name=None)
        )
        return int(result.rowcount)

    def audit(
        self, actor: str, action: str, target: str, at: datetime, detail: dict[str, Any], address: str
    ) -> None:
        append(self.conn, actor, action, target, at, detail, address)


def _row(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.id,
        "code": a.code,
        "business_day": a.business_day,
        "half": a.half,
        "service": a.service,
        "counter": a.counter,
        "resource": a.resource,
        "slot_start": a.slot_start,
        "slot_end": a.slot_end,
        "phone": a.phone,
        "name": a.name,
        "source": a.source,
        "status": a.status.value,
        "created_at": a.created_at,
        "checked_in_at": a.checked_in_at,
    }


def _appointment(row: Any) -> Appointment:
    half: Half = "am" if row["half"] == "am" else "pm"
    return Appointment(
        id=row["id"],
        code=row["code"],
        business_day=row["business_day"],
        half=half,
        service=row["service"],
        slot_start=row["slot_start"],
        slot_end=row["slot_end"],
        source=row["source"],
        status=AppointmentStatus(row["status"]),
        created_at=row["created_at"],
        counter=row["counter"],
        resource=row["resource"],
        phone=row["phone"],
        name=row["name"],
        checked_in_at=row["checked_in_at"],
    )
