"""The stored sections of the site config: what an admin saved from the browser, versioned, audited.

A section without a row is the file's (version 0). A save names the version
it was based on; when another save came in between, it is refused
(:class:`StaleVersion`) rather than silently overwriting a colleague's work.
The new value, its version and its audit row (before → after) are written in
one transaction: nothing is half-saved.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .accounts import Actor
from .audit import append
from .schema import appointments, settings_sections, tickets
from .sql import read_only

#: Ticket statuses that still need a service and a counter: waiting, transferred, called, serving.
OPEN_STATUSES = ("waiting", "transferred", "called", "serving")


@dataclass(frozen=True)
class StoredSection:
    """One saved section: its value (JSON as the site file's keys), version and who saved it when."""

    section: str
    value: Any
    version: int
    changed_at: datetime
    changed_by: str


@dataclass(frozen=True)
class SectionChange:
    """A section to save: the new value, the value it replaces (for the audit), the version it was
    based on (``None``: replace whatever is stored, as ``settings import`` does)."""

    section: str
    value: Any
    before: Any
    based_on: int | None


class StaleVersion(Exception):
    """Someone saved the section after the version this change was based on."""

    def __init__(self, section: str, based_on: int, current: int) -> None:
        super().__init__(
            f"the {section} settings were changed by someone else meanwhile (version {current}, "
            f"this change was based on version {based_on}); reload them and make the change again"
        )
        self.section = section
        self.based_on = based_on
        self.current = current


@dataclass(frozen=True)
class InUse:
    """What a change would take away from a ticket of today: ``kind`` is "service" or "counter"."""

    kind: str
    key: str
    #: How many (up to 1000) of ``of``.
    count: int
    #: "tickets" (of today, still open) or "bookings" (from today on, not yet checked in).
    of: str = "tickets"


def _row(row: Any) -> StoredSection:
    return StoredSection(row.section, row.value, row.version, row.changed_at, row.changed_by)


class SettingsStore:
    """Read and save the stored sections (reads take no write lock)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = read_only(engine)

    def stored(self) -> dict[str, StoredSection]:
        """Every stored section by name."""
        with self.reader.begin() as conn:
            rows = conn.execute(select(settings_sections)).all()
        return {row.section: _row(row) for row in rows}

    def save(
        self,
        changes: Sequence[SectionChange],
        actor: Actor,
        now: datetime,
        check: Callable[[Connection], None] | None = None,
    ) -> list[StoredSection]:
        """Save every change, each audited ``settings.<section>``, all or nothing.

        ``check(conn)`` runs inside the transaction after the versions were
        checked (the in-use check: no ticket can be issued meanwhile on SQLite,
        whose writers queue behind ``BEGIN IMMEDIATE``); it refuses by raising.
        """
        saved: list[StoredSection] = []
        try:
            with self.engine.begin() as conn:
                for change in changes:
                    saved.append(self._save_one(conn, change, actor, now))
                if check is not None:
                    check(conn)
        except IntegrityError:
            # Two first saves of a section raced (no row to lock yet): the second is stale.
            change = changes[0]
            raise StaleVersion(change.section, change.based_on or 0, self._version(change.section)) from None
        return saved

    def _save_one(
        self, conn: Connection, change: SectionChange, actor: Actor, now: datetime
    ) -> StoredSection:
        query = select(settings_sections).where(settings_sections.c.section == change.section)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        current = row.version if row is not None else 0
        if change.based_on is not None and change.based_on != current:
            raise StaleVersion(change.section, change.based_on, current)
        version = current + 1
        values = {"value": change.value, "version": version, "changed_at": now, "changed_by": actor.name[:64]}
        if row is None:
            conn.execute(insert(settings_sections).values(section=change.section, **values))
        else:
            where = settings_sections.c.section == change.section
            conn.execute(update(settings_sections).where(where).values(**values))
        detail = {"before": change.before, "after": change.value, "version": version}
        append(conn, actor.name, f"settings.{change.section}", change.section, now, detail, actor.address)
        return StoredSection(change.section, change.value, version, now, actor.name[:64])

    def _version(self, section: str) -> int:
        with self.reader.begin() as conn:
            query = select(settings_sections.c.version).where(settings_sections.c.section == section)
            version = conn.execute(query).scalar()
        return int(version or 0)


def in_use(conn: Connection, day: date, services: Collection[str], counters: Collection[int]) -> list[InUse]:
    """Today's open tickets of ``services`` and at (or transferred to) ``counters``, else their bookings
    from today on not yet checked in, counted per each."""
    found: list[InUse] = []
    open_today = and_(tickets.c.business_day == day, tickets.c.status.in_(OPEN_STATUSES))
    booked_ahead = and_(appointments.c.business_day >= day, appointments.c.status == "booked")
    for code in sorted(services):
        found += _first_found(
            conn,
            ("service", code),
            and_(open_today, tickets.c.service == code),
            and_(booked_ahead, appointments.c.service == code),
        )
    for number in sorted(counters):
        here = or_(
            and_(tickets.c.counter == number, tickets.c.status.in_(("called", "serving"))),
            and_(tickets.c.target_counter == number, tickets.c.status.in_(("waiting", "transferred"))),
        )
        found += _first_found(
            conn,
            ("counter", str(number)),
            and_(open_today, here),
            and_(booked_ahead, appointments.c.counter == number),
        )
    return found


def _first_found(
    conn: Connection, what: tuple[str, str], open_tickets: ColumnElement[bool], bookings: ColumnElement[bool]
) -> list[InUse]:
    """The open tickets that need ``what``, else its bookings; none: []."""
    count = len(conn.execute(select(tickets.c.id).where(open_tickets).limit(1000)).all())
    if count:
        return [InUse(*what, count)]
    count = len(conn.execute(select(appointments.c.id).where(bookings).limit(1000)).all())
    return [InUse(*what, count, "bookings")] if count else []


def prefix_taken(conn: Connection, day: date, code: str, prefix: str) -> str | None:
    """The service (other than ``code``) whose tickets of today are numbered with ``prefix``, if any.

    A ticket's number is unique per day: a service given a prefix another service numbered with
    today would draw numbers already printed.
    """
    query = (
        select(tickets.c.service, tickets.c.number)
        .where(tickets.c.business_day == day, tickets.c.service != code, tickets.c.number.like(f"{prefix}%"))
        .distinct()
    )
    for service, number in conn.execute(query):
        if number[len(prefix) :].isdigit():
            return str(service)
    return None
