"""Notices on SQLAlchemy Core: kept, edited, withdrawn, each change audited in its own transaction.

Every change writes its audit row in the transaction that makes it
(``notice.create``, ``notice.edit``, ``notice.withdraw``), its detail the
notice before → after: a notice on a public screen that nobody can say who
posted cannot exist. A notice is never deleted; withdrawing sets
``withdrawn_at``. The screens read the notices not withdrawn whose end is
still to come (``ix_notices_ends_at``): a hall has tens, not thousands.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from ..core.notices import Notice, NoticeFields, NoticeWithdrawn, Tariff, UnknownNotice, in_order
from .audit import append
from .schema import notices, users
from .sql import read_only


class SqlNotices:
    """The hall's notices, on the hub's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = read_only(engine)

    def all(self) -> list[Notice]:
        """Every notice ever posted, withdrawn and expired ones too, in display order."""
        with self.reader.begin() as conn:
            rows = conn.execute(select(notices)).mappings().all()
        return in_order([_notice(row) for row in rows])

    def upcoming(self, now: datetime) -> list[Notice]:
        """The notices not withdrawn that have not ended by ``now`` (showing, or scheduled), in order."""
        query = select(notices).where(notices.c.withdrawn_at.is_(None), notices.c.ends_at > now)
        with self.reader.begin() as conn:
            rows = conn.execute(query).mappings().all()
        return in_order([_notice(row) for row in rows])

    def create(self, fields: NoticeFields, now: datetime, actor: str, address: str = "") -> Notice:
        """Keep a new notice (audited ``notice.create``, detail ``{"before": null, "after": …}``)."""
        with self.engine.begin() as conn:
            values = {**_values(fields), "created_at": now, "created_by": actor[:64]}
            values.update(updated_at=now, updated_by=actor[:64])
            new_id = conn.execute(insert(notices).values(**values).returning(notices.c.id)).scalar_one()
            kept = _notice(_row(conn, new_id))
            detail = {"before": None, "after": kept.public()}
            append(conn, actor, "notice.create", _target(kept), now, detail, address)
        return kept

    def edit(
        self, notice_id: int, fields: NoticeFields, now: datetime, actor: str, address: str = ""
    ) -> Notice:
        """Replace a notice's fields (audited ``notice.edit``, before → after); a withdrawn one is refused."""
        with self.engine.begin() as conn:
            before = _notice(_row(conn, notice_id, lock=True))
            if before.withdrawn_at is not None:
                raise NoticeWithdrawn(f"notice {notice_id} was withdrawn; post a new one instead")
            values = {**_values(fields), "updated_at": now, "updated_by": actor[:64]}
            conn.execute(update(notices).where(notices.c.id == notice_id).values(**values))
            after = _notice(_row(conn, notice_id))
            detail = {"before": before.public(), "after": after.public()}
            append(conn, actor, "notice.edit", _target(after), now, detail, address)
        return after

    def withdraw(self, notice_id: int, now: datetime, actor: str, address: str = "") -> Notice:
        """Take a notice off every screen now (audited ``notice.withdraw``); withdrawn twice is refused."""
        with self.engine.begin() as conn:
            before = _notice(_row(conn, notice_id, lock=True))
            if before.withdrawn_at is not None:
                raise NoticeWithdrawn(f"notice {notice_id} was already withdrawn")
            conn.execute(
                update(notices)
                .where(notices.c.id == notice_id)
                .values(withdrawn_at=now, withdrawn_by=actor[:64], updated_at=now, updated_by=actor[:64])
            )
            after = _notice(_row(conn, notice_id))
            detail = {
                "before": {"withdrawn_at": None, "ends_at": before.fields.ends_at.isoformat()},
                "after": {"withdrawn_at": now.isoformat(), "withdrawn_by": actor},
                "title_zh": after.fields.title_zh,
                "title_en": after.fields.title_en,
            }
            append(conn, actor, "notice.withdraw", _target(after), now, detail, address)
        return after

    def public_names(self, usernames: Collection[str]) -> dict[str, str]:
        """The names a hall posts for these users (``users.display_name``, migration 0020).

        Only a display name: never a user name or a phone. A user without one
        is left out (the card shows the room and hours).
        """
        if not usernames:
            return {}
        query = select(users.c.username, users.c.display_name).where(
            users.c.username.in_(sorted(usernames)), users.c.display_name.is_not(None)
        )
        with self.reader.begin() as conn:
            rows = conn.execute(query).all()
        return {str(username): str(name) for username, name in rows if name}


def _values(fields: NoticeFields) -> dict[str, Any]:
    return {
        "kind": fields.kind,
        "title_zh": fields.title_zh,
        "title_en": fields.title_en,
        "body_zh": fields.body_zh,
        "body_en": fields.body_en,
        "tariff": fields.tariff.as_dict() if fields.tariff else None,
        "area_zh": fields.area_zh,
        "area_en": fields.area_en,
        "outage_from": fields.outage_from,
        "outage_to": fields.outage_to,
        "starts_at": fields.starts_at,
        "ends_at": fields.ends_at,
        "position": fields.position,
    }


def _row(conn: Connection, notice_id: int, lock: bool = False) -> Any:
    query = select(notices).where(notices.c.id == notice_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise UnknownNotice(f"no notice {notice_id}")
    return row


def _notice(row: Any) -> Notice:
    fields = NoticeFields(
        row["kind"],
        row["title_zh"],
        row["title_en"],
        row["body_zh"],
        row["body_en"],
        Tariff.from_dict(row["tariff"]) if row["tariff"] else None,
        row["area_zh"],
        row["area_en"],
        row["outage_from"],
        row["outage_to"],
        row["starts_at"],
        row["ends_at"],
        row["position"],
    )
    return Notice(
        row["id"],
        fields,
        row["created_at"],
        row["created_by"],
        row["updated_at"],
        row["updated_by"],
        row["withdrawn_at"],
        row["withdrawn_by"],
    )


def _target(notice: Notice) -> str:
    title = notice.fields.title_zh or notice.fields.title_en
    return f"notice {notice.id} {notice.fields.kind}: {title}"
