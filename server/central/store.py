"""The central store: halls and their tokens, the shipped logs taken in, templates, tokens, audit.

Every change an admin makes here is written with its audit row in one transaction
(``central_audit_log``). A batch from a hall is taken in one transaction too: its
rows, its cursors and the hall's live figures commit together, so an answer lost
on the way back leaves a state the same batch sent again does not change.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import schema as central
from .wire import LOG_STAYS, MAX_BATCH, MAX_VIEW_ROWS, STREAMS, VIEWS, decode, int_limit

log = logging.getLogger(__name__)
#: The unknown stream names already logged (once each, whichever hall sent them first).
_UNKNOWN_LOGGED: set[str] = set()

#: The roles of the central service's own tokens: admins change halls and templates, viewers read.
ROLES = ("admin", "viewer")
#: Sections a template may carry (a hall takes them through its admin console's path).
TEMPLATE_SECTIONS = ("services", "priority", "notices")
_HALL_ID = re.compile(central.HALL_ID)

#: The central copy of each stream's log (a stream whose log stays in the hall has none).
COPIES: dict[str, Table] = {"tickets": central.ticket_events, "posts": central.post_events}
#: The central copy of each view a stream carries (server/central/wire.py ``VIEWS``).
VIEW_COPIES: dict[str, Table] = {
    "tickets": central.tickets,
    "legs": central.ticket_legs,
    "complaints": central.complaints,
    "cases": central.cases,
    "steps": central.case_steps,
}


class Refused(Exception):
    """A request the central service refuses: HTTP ``status``, a stable ``code``, the message in English
    and, whole, in Chinese (``zh``): the answer carries both, as the hall hub's refusals do."""

    def __init__(self, status: int, code: str, message: str, *, zh: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.zh = zh


@dataclass(frozen=True)
class Who:
    """Who makes a change, for the audit log: a token's name (or "cli") and the address it came from."""

    name: str
    address: str = ""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, which says ON CONFLICT (PostgreSQL in production; SQLite for a trial)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _keys(table: Table) -> list[Any]:
    return list(table.primary_key.columns)


class CentralStore:
    """The central service's tables, on its own engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    # -- audit, tokens, halls --------------------------------------------------------------

    @staticmethod
    def _audit(
        conn: Connection, who: Who, action: str, target: str, detail: Mapping[str, Any], now: datetime
    ) -> None:
        row = {"at": now, "actor": who.name, "action": action, "target": target, "detail": dict(detail)}
        conn.execute(insert(central.audit_log).values(**row, address=who.address))

    def create_token(self, role: str, name: str, who: Who, now: datetime) -> str:
        if role not in ROLES:
            raise Refused(
                400,
                "bad_role",
                f"role: expected one of {', '.join(ROLES)}; got {role!r}",
                zh=f"role 须为 {'、'.join(ROLES)} 之一，收到 {role!r}",
            )
        token = f"qc_central_{secrets.token_urlsafe(24)}"
        with self.engine.begin() as conn:
            values = {"token_hash": token_hash(token), "name": name, "role": role, "created_at": now}
            conn.execute(insert(central.tokens).values(**values))
            self._audit(conn, who, "token.create", name, {"role": role}, now)
        return token

    def revoke_token(self, name: str, who: Who, now: datetime) -> int:
        """Revoke every live central token of this name; how many."""
        t = central.tokens
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t).where(t.c.name == name, t.c.revoked_at.is_(None)).values(revoked_at=now)
            ).rowcount
            if not done:
                raise Refused(
                    404,
                    "unknown_token",
                    f"no live central token named {name!r}",
                    zh=f"没有名为 {name!r} 的有效令牌",
                )
            self._audit(conn, who, "token.revoke", name, {"count": done}, now)
        return int(done)

    def token_role(self, token: str) -> tuple[str, str] | None:
        """(name, role) of a live central token, or None."""
        query = select(central.tokens.c.name, central.tokens.c.role).where(
            central.tokens.c.token_hash == token_hash(token), central.tokens.c.revoked_at.is_(None)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row.name, row.role) if row else None

    def add_hall(self, hall_id: str, region: str, who: Who, now: datetime) -> str:
        """Register a hall; its token (printed once, kept as a hash). A hall added twice is refused."""
        for key, value in (("hall", hall_id), ("region", region)):
            if not _HALL_ID.match(value):
                raise Refused(
                    400,
                    "bad_hall",
                    f"{key}: expected up to 32 lower-case letters, digits, '_' or '-'",
                    zh=f"{key} 须为至多 32 个小写字母、数字、“_”或“-”",
                )
        token = f"qc_hall_{secrets.token_urlsafe(24)}"
        with self.engine.begin() as conn:
            if conn.execute(
                select(central.halls.c.hall_id).where(central.halls.c.hall_id == hall_id)
            ).first():
                raise Refused(
                    409,
                    "hall_exists",
                    f"hall {hall_id!r} is already registered",
                    zh=f"营业厅 {hall_id!r} 已登记",
                )
            row = {"hall_id": hall_id, "region": region, "token_hash": token_hash(token), "created_at": now}
            conn.execute(insert(central.halls).values(**row, profile={}))
            self._audit(conn, who, "hall.add", hall_id, {"region": region}, now)
        return token

    def hall_of(self, token: str) -> str | None:
        query = select(central.halls.c.hall_id).where(central.halls.c.token_hash == token_hash(token))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def halls(self) -> list[dict[str, Any]]:
        columns = [c for c in central.halls.c if c.name != "token_hash"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).order_by(central.halls.c.region, central.halls.c.hall_id))
            return [dict(row) for row in rows.mappings()]

    def cursors(self) -> dict[str, dict[str, int]]:
        with self.engine.connect() as conn:
            found: dict[str, dict[str, int]] = {}
            for row in conn.execute(select(central.cursors)):
                found.setdefault(row.hall_id, {})[row.stream] = int(row.position)
            return found

    # -- a batch from a hall -------------------------------------------------------------------

    def ingest(self, hall_id: str, payload: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """Take a hall's batch in; the cursors as they now stand and the templates the hall has not taken."""
        streams = payload.get("streams")
        if not isinstance(streams, dict):
            raise Refused(
                400,
                "bad_batch",
                f"streams: expected an object of {', '.join(STREAMS)}",
                zh=f"streams 须为对象，键为 {'、'.join(STREAMS)}",
            )
        # A stream this service does not know (a hall newer than it) is passed over, not refused: a
        # refusal would stop every stream of that hall until the central service is upgraded. No
        # cursor is answered for it, so the hall keeps it and sends it again once it is known.
        unknown = sorted(set(streams) - set(STREAMS))
        for name in unknown:
            if name not in _UNKNOWN_LOGGED and len(_UNKNOWN_LOGGED) < 100:
                _UNKNOWN_LOGGED.add(name)
                log.warning("hall %s ships stream %r, which this service does not know", hall_id, name)
        streams = {name: data for name, data in streams.items() if name in STREAMS}
        with self.engine.begin() as conn:
            hall = conn.execute(
                select(central.halls).where(central.halls.c.hall_id == hall_id).with_for_update()
            ).first()
            if hall is None:
                raise Refused(
                    403, "unknown_hall", "this token's hall is not registered", zh="此令牌的营业厅未登记"
                )
            stored = {
                row.stream: int(row.position)
                for row in conn.execute(select(central.cursors).where(central.cursors.c.hall_id == hall_id))
            }
            answer: dict[str, int] = {}
            for name, data in streams.items():
                answer[name] = self._take_stream(conn, hall_id, name, data, stored.get(name, 0), now)
            self._take_results(conn, hall_id, payload.get("template_results") or [], now)
            self._take_status(conn, hall_id, payload, now)
            templates = self._templates_for(conn, hall_id, hall.region)
        for name in STREAMS:
            answer.setdefault(name, stored.get(name, 0))
        return {"cursors": answer, "templates": templates}

    def _take_stream(
        self, conn: Connection, hall_id: str, name: str, data: Any, stored: int, now: datetime
    ) -> int:
        """Insert one stream's rows (once each); the stream's cursor after it."""
        if not isinstance(data, dict):
            raise Refused(
                400, "bad_batch", f"streams.{name}: expected an object", zh=f"streams.{name} 须为对象"
            )
        after: Any = data.get("after")
        upto: Any = data.get("upto")
        limit = int_limit(central.cursors.c.position.type)
        if not all(_is_id(n, limit) for n in (after, upto)):
            raise Refused(
                400,
                "bad_batch",
                f"streams.{name}: 'after' and 'upto' are required ids from 0 to {limit}",
                zh=f"streams.{name}：after 和 upto 须为 0 至 {limit} 的编号",
            )
        rows = _list(data.get("rows"), f"streams.{name}.rows")
        if upto < after or len(rows) > MAX_BATCH:
            raise Refused(
                400,
                "bad_batch",
                f"streams.{name}: upto before after, or over {MAX_BATCH} rows",
                zh=f"streams.{name}：upto 小于 after，或记录超过 {MAX_BATCH} 条",
            )
        if after > stored:
            return stored  # a gap (this store is behind the hall's mark): the hall resends from here
        if name in LOG_STAYS and rows:
            raise Refused(
                400,
                "bad_batch",
                f"streams.{name}: its log stays in the hall; only its views are taken",
                zh=f"streams.{name}：该记录留在营业厅，只接收其当前状态",
            )
        if name in COPIES:
            copy = COPIES[name]
            decoded = [self._row(STREAMS[name], row, hall_id) for row in rows]
            if any(not after < row["id"] <= upto for row in decoded):
                raise Refused(
                    400,
                    "bad_batch",
                    f"streams.{name}: a row's id outside ({after}, {upto}]",
                    zh=f"streams.{name}：有记录的编号不在 ({after}, {upto}] 之内",
                )
            if decoded:
                conn.execute(
                    _insert(self.dialect, copy).on_conflict_do_nothing(index_elements=_keys(copy)), decoded
                )
        for view in VIEWS[name].tables if name in VIEWS else ():
            table = VIEW_COPIES[view]
            shipped_rows = _list(data.get(view), f"streams.{name}.{view}")
            if len(shipped_rows) > MAX_VIEW_ROWS:
                raise Refused(
                    400,
                    "bad_batch",
                    f"streams.{name}.{view}: too many rows",
                    zh=f"streams.{name}.{view}：记录过多",
                )
            views = [self._row(table, row, hall_id) for row in shipped_rows]
            if views:
                conn.execute(self._newer(table), views)
        position = max(stored, upto)
        if position != stored or not stored:
            values = {"hall_id": hall_id, "stream": name, "position": position, "updated_at": now}
            statement = _insert(self.dialect, central.cursors)
            statement = statement.on_conflict_do_update(
                index_elements=_keys(central.cursors), set_={"position": position, "updated_at": now}
            )
            conn.execute(statement, [values])
        return position

    @staticmethod
    def _row(table: Table, data: Any, hall_id: str) -> dict[str, Any]:
        if not isinstance(data, dict) or "hall_id" in data:
            raise Refused(
                400,
                "bad_batch",
                f"{table.name}: a row must be an object of the hall's columns",
                zh=f"{table.name}：每条记录须为营业厅表的列组成的对象",
            )
        try:
            row = decode(table, data, given=("hall_id",))
        except (ValueError, TypeError) as exc:
            raise Refused(400, "bad_batch", str(exc), zh=f"上传的记录不符合中心的表：{exc}") from None
        return {"hall_id": hall_id, **row}

    def _newer(self, table: Table) -> Insert:
        """Insert a ticket's (or leg's) row, or replace it when the shipped one reflects a later event."""
        statement = _insert(self.dialect, table)
        keys = {c.name for c in _keys(table)}
        changed = {c.name: statement.excluded[c.name] for c in table.c if c.name not in keys}
        result: Insert = statement.on_conflict_do_update(
            index_elements=_keys(table), set_=changed, where=table.c.version < statement.excluded.version
        )
        return result

    @staticmethod
    def _take_status(conn: Connection, hall_id: str, payload: Mapping[str, Any], now: datetime) -> None:
        """The hall's word on itself: what it sent (a figure it did not send stays as it was)."""
        values: dict[str, Any] = {"last_seen_at": now}
        queue = payload.get("queue")
        if isinstance(queue, dict):
            for key in ("waiting", "serving", "open_counters"):
                if key in queue:
                    values[key] = _count(queue[key])
        if "pending" in payload:
            values["pending"] = _count(payload["pending"])
        last = payload.get("last_event_at")
        if isinstance(last, str):
            try:
                moment = datetime.fromisoformat(last)
                if moment.tzinfo is not None:
                    moment = moment.astimezone(UTC)
            except (ValueError, OverflowError):
                raise Refused(
                    400,
                    "bad_batch",
                    "last_event_at: expected an ISO 8601 time",
                    zh="last_event_at 须为 ISO 8601 时间",
                ) from None
            if moment.tzinfo is not None:
                values["last_event_at"] = moment
        profile = payload.get("profile")
        if isinstance(profile, dict):
            values["profile"] = {k: v for k, v in profile.items() if k != "region"}
        conn.execute(update(central.halls).where(central.halls.c.hall_id == hall_id).values(**values))

    def _take_results(self, conn: Connection, hall_id: str, results: Any, now: datetime) -> None:
        if not isinstance(results, list):
            raise Refused(
                400, "bad_batch", "template_results: expected a list", zh="template_results 须为列表"
            )
        table = central.template_results
        limit = int_limit(table.c.version.type)
        for result in results:
            if (
                not isinstance(result, dict)
                or result.get("state") not in ("applied", "refused")
                or not _is_id(result.get("template_id"), limit)
                or not _is_id(result.get("version"), limit)
            ):
                raise Refused(
                    400,
                    "bad_batch",
                    "template_results: each needs template_id, version, state",
                    zh="template_results：每项须有 template_id、version 和 state",
                )
            row = {
                "hall_id": hall_id,
                "template_id": result["template_id"],
                "version": result["version"],
                "state": result["state"],
                "message": str(result.get("message", ""))[:500],
                "at": now,
            }
            statement = _insert(self.dialect, table)
            statement = statement.on_conflict_do_update(
                index_elements=_keys(table),
                set_={k: statement.excluded[k] for k in ("version", "state", "message", "at")},
                where=table.c.version <= statement.excluded.version,
            )
            conn.execute(statement, [row])

    @staticmethod
    def _templates_for(conn: Connection, hall_id: str, region: str) -> list[dict[str, Any]]:
        """The templates meant for this hall whose current version it has not answered."""
        t, r = central.templates, central.template_results
        query = (
            select(t.c.id, t.c.name, t.c.section, t.c.value, t.c.version, t.c.region, t.c.halls)
            .select_from(t.outerjoin(r, and_(r.c.template_id == t.c.id, r.c.hall_id == hall_id)))
            .where(or_(r.c.version.is_(None), r.c.version < t.c.version))
            .order_by(t.c.id)
        )
        found = []
        for row in conn.execute(query):
            meant = row.halls is not None and hall_id in row.halls
            meant = meant or (row.halls is None and (row.region is None or row.region == region))
            if meant:
                found.append(
                    {
                        "id": row.id,
                        "name": row.name,
                        "section": row.section,
                        "value": row.value,
                        "version": row.version,
                    }
                )
        return found

    # -- templates ---------------------------------------------------------------------------------

    def save_template(
        self,
        name: str,
        section: str,
        value: Any,
        region: str | None,
        halls: Sequence[str] | None,
        who: Who,
        now: datetime,
    ) -> dict[str, Any]:
        """Create or replace a template (its version counts up: every hall meant takes it again)."""
        if section not in TEMPLATE_SECTIONS:
            raise Refused(
                400,
                "bad_template",
                f"section: expected one of {', '.join(TEMPLATE_SECTIONS)}",
                zh=f"section 须为 {'、'.join(TEMPLATE_SECTIONS)} 之一",
            )
        wanted = dict if section == "notices" else list
        if not isinstance(value, wanted):
            raise Refused(
                400,
                "bad_template",
                "value: a list for services and priority, an object for a notice",
                zh="value：services 和 priority 须为列表，公告须为对象",
            )
        if not name or len(name) > 64:
            raise Refused(
                400, "bad_template", "name: expected 1 to 64 characters", zh="name 须为 1 至 64 个字符"
            )
        t = central.templates
        with self.engine.begin() as conn:
            before = conn.execute(select(t).where(t.c.name == name).with_for_update()).first()
            values = {
                "section": section,
                "value": value,
                "region": region,
                "halls": list(halls) if halls is not None else None,
                "updated_at": now,
                "updated_by": who.name,
            }
            if before is None:
                ident = conn.execute(
                    insert(t).values(name=name, version=1, **values).returning(t.c.id)
                ).scalar_one()
                version = 1
            else:
                ident, version = before.id, before.version + 1
                conn.execute(update(t).where(t.c.id == ident).values(version=version, **values))
            detail = {
                "before": None if before is None else {"section": before.section, "value": before.value},
                "after": {"section": section, "value": value, "region": region, "halls": values["halls"]},
                "version": version,
            }
            self._audit(conn, who, "template.save", name, detail, now)
        return {"id": ident, "name": name, "version": version}

    def templates(self) -> list[dict[str, Any]]:
        """Every template with what each hall did with it."""
        with self.engine.connect() as conn:
            results: dict[int, list[dict[str, Any]]] = {}
            for row in conn.execute(
                select(central.template_results).order_by(central.template_results.c.hall_id)
            ):
                results.setdefault(row.template_id, []).append(
                    {"hall": row.hall_id, "version": row.version, "state": row.state, "message": row.message}
                )
            found = []
            for mapping in conn.execute(
                select(central.templates).order_by(central.templates.c.id)
            ).mappings():
                item: dict[str, Any] = dict(mapping)
                item["updated_at"] = item["updated_at"].isoformat()
                item["results"] = results.get(item["id"], [])
                found.append(item)
            return found

    def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        query = select(central.audit_log).order_by(central.audit_log.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [{**row, "at": row["at"].isoformat()} for row in conn.execute(query).mappings()]

    def count(self, table: Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _is_id(value: Any, limit: int) -> bool:
    """An id or cursor: an integer (not a bool) from 0 to ``limit``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


def _list(value: Any, where: str) -> list[Any]:
    """A batch's list of rows (absent is none); anything else is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Refused(400, "bad_batch", f"{where}: expected a list", zh=f"{where} 须为列表")
    return value


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
