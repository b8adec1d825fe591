"""The audit log: every administrative change, who made it, when and from where.

Security changes (tokens revoked, users disabled, passwords changed) and
actions on a visitor's paper (reprints) must be answerable later: "who did
this?". Rows are only ever added. Nothing personal beyond the staff member's
user name is kept; a ticket is named by its number and id, never a visitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from .schema import audit_log
from .sql import read_only


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    address: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "address": self.address,
        }


def append(
    conn: Connection, actor: str, action: str, target: str, at: datetime, detail: dict[str, Any], address: str
) -> None:
    """Add an entry in ``conn``'s transaction (the one place that writes a row, cut to the columns'
    widths): the stores whose changes are audited call it inside the change's own transaction."""
    conn.execute(
        insert(audit_log).values(
            at=at,
            actor=actor[:64],
            action=action[:48],
            target=target[:128],
            detail=detail,
            address=address[:64],
        )
    )


class AuditLog:
    """Append and read the audit log (reads take no write lock: the hub's watcher polls it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = read_only(engine)

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
        address: str = "",
        conn: Connection | None = None,
    ) -> None:
        """Add an entry; in ``conn``'s transaction when given: the change and its record commit as one."""
        if conn is not None:
            append(conn, actor, action, target, now, detail or {}, address)
            return
        with self.engine.begin() as own:
            append(own, actor, action, target, now, detail or {}, address)

    def recent(self, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
        """The newest entries first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if action:
            query = query.where(audit_log.c.action == action)
        with self.reader.begin() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEntry(**dict(row)) for row in rows]
