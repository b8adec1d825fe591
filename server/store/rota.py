"""The rota (排班) on SQLAlchemy Core: a day's entries read, added, removed and imported, each change audited.

Every change writes its audit row in the same transaction (``rota.add``,
``rota.remove``, ``rota.import``): a rota changed without a record of who
changed it cannot exist. An entry is checked against the day's other entries
inside the transaction that adds it (on SQLite the write lock is taken first),
so two admins adding at once cannot both put a clerk in two places.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from ..core.rota import BadRotaEntry, RotaEntry, clashes
from .audit import AuditLog
from .schema import rota
from .sql import read_only


class UnknownRotaEntry(LookupError):
    """No rota entry has this id."""


class SqlRota:
    """The rota of every day, on the hub's engine."""

    def __init__(self, engine: Engine, audit: AuditLog) -> None:
        self.engine = engine
        self.reader = read_only(engine)
        self.audit = audit

    def day(self, day: date) -> list[RotaEntry]:
        """The entries of ``day``, by counter and start."""
        with self.reader.begin() as conn:
            return _day(conn, day)

    def add(self, entry: RotaEntry, now: datetime, actor: str, address: str = "") -> RotaEntry:
        """Keep one entry; :class:`BadRotaEntry` when it overlaps the day's others (audited ``rota.add``)."""
        with self.engine.begin() as conn:
            existing = _day(conn, entry.day)
            clash = clashes([*existing, entry])
            if clash:
                raise BadRotaEntry(f"排班冲突：{clash[0].zh}", f"the rota clashes: {clash[0].en}")
            kept = _insert(conn, [entry])[0]
            self.audit.record(actor, "rota.add", _target(kept), now, kept.as_dict(), address, conn=conn)
        return kept

    def remove(self, entry_id: int, now: datetime, actor: str, address: str = "") -> RotaEntry:
        """Drop one entry by its id (audited ``rota.remove``); :class:`UnknownRotaEntry` without it."""
        with self.engine.begin() as conn:
            row = conn.execute(select(rota).where(rota.c.id == entry_id)).mappings().first()
            if row is None:
                raise UnknownRotaEntry(f"no rota entry {entry_id}")
            entry = _entry(row)
            conn.execute(delete(rota).where(rota.c.id == entry_id))
            self.audit.record(actor, "rota.remove", _target(entry), now, entry.as_dict(), address, conn=conn)
        return entry

    def replace_days(
        self, entries: Sequence[RotaEntry], now: datetime, actor: str, address: str = ""
    ) -> list[RotaEntry]:
        """An import: every day the entries name gets exactly these entries, all or nothing (audited
        ``rota.import`` with the days and the count)."""
        days = sorted({e.day for e in entries})
        with self.engine.begin() as conn:
            removed = conn.execute(delete(rota).where(rota.c.business_day.in_(days))).rowcount
            kept = _insert(conn, entries)
            detail = {"days": [d.isoformat() for d in days], "entries": len(kept), "replaced": removed}
            target = days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}" if days else ""
            self.audit.record(actor, "rota.import", target, now, detail, address, conn=conn)
        return kept


def _day(conn: Connection, day: date) -> list[RotaEntry]:
    query = select(rota).where(rota.c.business_day == day).order_by(rota.c.counter, rota.c.start_time)
    return [_entry(row) for row in conn.execute(query).mappings()]


def _insert(conn: Connection, entries: Sequence[RotaEntry]) -> list[RotaEntry]:
    """Insert each entry (one statement each: their ids come back on both databases)."""
    kept = []
    for entry in entries:
        result = conn.execute(
            insert(rota)
            .values(
                business_day=entry.day,
                username=entry.username,
                counter=entry.counter,
                start_time=entry.start,
                end_time=entry.end,
            )
            .returning(rota.c.id)
        )
        kept.append(
            RotaEntry(entry.day, entry.username, entry.counter, entry.start, entry.end, result.scalar_one())
        )
    return kept


def _entry(row: Any) -> RotaEntry:
    return RotaEntry(
        row["business_day"], row["username"], row["counter"], row["start_time"], row["end_time"], row["id"]
    )


def _target(entry: RotaEntry) -> str:
    return f"{entry.day} {entry.username}@{entry.counter} {entry.start}-{entry.end}"
