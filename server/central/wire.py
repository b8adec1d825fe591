"""What a hall ships and how: the streams, and a row as JSON and back (both sides read this module).

Four streams, each read in the order of its append-only log's id and resumed from a
cursor: ``tickets`` (``ticket_events``, with the current ``tickets`` and
``ticket_legs`` rows of the tickets the batch touches, which the statistics read),
``posts`` (``post_events``: clerks on post, breaks), ``complaints``
(``complaint_events``) and ``cases`` (``case_events``). The last two ship no log
row (their events carry clerks' notes and results, free text): only the current
rows of the complaints and cases a batch touches, and of those only the columns
their figures need (:data:`SHIPPED_COLUMNS`): no phone, name, text or case code.
A row crosses as a JSON object of its columns; times as ISO 8601 in UTC, days as
``YYYY-MM-DD``; the receiver turns them back by the column's type, so a row read
at the central store equals the hall's (in the columns shipped).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Float, Integer, SmallInteger, String, Table

from ..store import schema
from ..store.schema import UTCDateTime

#: The streams, in the order they are shipped, and the append-only table each one follows.
STREAMS: dict[str, Table] = {
    "tickets": schema.ticket_events,
    "posts": schema.post_events,
    "complaints": schema.complaint_events,
    "cases": schema.case_events,
}
#: Streams whose log rows stay in the hall (only their views travel): the events' details hold free text.
LOG_STAYS = frozenset({"complaints", "cases"})


@dataclass(frozen=True)
class Views:
    """The current rows that travel with a stream's batch: those of the things its events are about."""

    #: The log's column naming what an event is about (a ticket, a complaint, a case).
    subject: str
    #: Each view's name in the batch: the hall's table and its column holding the subject.
    tables: dict[str, tuple[Table, str]]


#: Per stream, the hall's tables whose current rows travel with it, each stamped with ``version``: the id
#: of the last event of its subject the row reflects.
VIEWS: dict[str, Views] = {
    "tickets": Views(
        "ticket_id", {"tickets": (schema.tickets, "id"), "legs": (schema.ticket_legs, "ticket_id")}
    ),
    "complaints": Views("complaint_id", {"complaints": (schema.complaints, "id")}),
    "cases": Views("case_id", {"cases": (schema.cases, "id"), "steps": (schema.case_steps, "case_id")}),
}
#: The columns of a hall's table that leave the hall, where not all of them do: a complaint's and a
#: case's rows hold the visitor's phone and name, the complaint's text, notes, results and the case's
#: code (the visitor's key to it). Only ids, codes, states, times and the clerk owning a step travel.
SHIPPED_COLUMNS: dict[str, tuple[str, ...]] = {
    "complaints": (
        "id",
        "category",
        "channel",
        "service",
        "status",
        "recorded_at",
        "due_on",
        "due_at",
        "return_at",
        "closed_at",
    ),
    "cases": ("id", "kind", "service", "status", "opened_at", "closed_at"),
    "case_steps": ("case_id", "step", "code", "name_zh", "name_en", "status", "owner", "due_at", "done_at"),
}


def shipped(table: Table) -> list[str]:
    """The names of ``table``'s columns that leave the hall."""
    return list(SHIPPED_COLUMNS.get(table.name, table.c.keys()))


#: The path of the ingest endpoint on the central service.
INGEST_PATH = "/api/v1/central/ingest"
#: Rows of a log in one batch at most (the central service refuses more).
MAX_BATCH = 2000
#: Current rows of one view in one batch at most (the central service refuses more; the hall's
#: outbox cuts a batch's events short to stay under it: server/store/outbox.py).
MAX_VIEW_ROWS = 10 * MAX_BATCH


def encode(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON: times and days as ISO 8601 text, the rest as it is."""
    return {k: v.isoformat() if isinstance(v, (datetime, date)) else v for k, v in row.items()}


#: The widest integer a shipped row or a cursor may carry (a BIGINT; an INTEGER column allows less).
MAX_ID = 2**63 - 1
#: The range of each integer type, the subclasses of Integer first (PostgreSQL's INTEGER is 32-bit).
INT_LIMITS = {BigInteger: MAX_ID, SmallInteger: 2**15 - 1, Integer: 2**31 - 1}


def int_limit(kind: Any) -> int:
    """The largest value a column of SQL type ``kind`` holds on every backend (PostgreSQL's is narrowest)."""
    for cls, limit in INT_LIMITS.items():
        if isinstance(kind, cls):
            return limit
    return MAX_ID


def decode(table: Table, data: Mapping[str, Any], given: tuple[str, ...] = ()) -> dict[str, Any]:
    """A shipped row back, by ``table``'s column types; a column the table has not is refused.

    Each value is checked against its column (an integer within the column's range and not a
    bool, text within its length, a time as ISO 8601 with its offset, a day as ``YYYY-MM-DD``),
    and every NOT NULL column but those the receiver fills in (``given``) must be there: a row
    that does not fit is refused with a ``ValueError`` naming the column, never left to the
    database (which on SQLite would keep a text where a number belongs).
    """
    row: dict[str, Any] = {}
    for name, value in data.items():
        if name not in table.c:
            raise ValueError(f"{table.name} has no column {name!r}")
        column = table.c[name]
        if value is None:
            if not column.nullable:
                raise ValueError(f"{table.name}.{name}: must not be null")
            row[name] = None
            continue
        row[name] = _value(f"{table.name}.{name}", column.type, value)
    missing = [c.name for c in table.c if not c.nullable and c.name not in row and c.name not in given]
    if missing:
        raise ValueError(f"{table.name}: missing {', '.join(missing)}")
    return row


def _moment(where: str, kind: Any, value: Any) -> datetime | date:
    """A time (ISO 8601 with its offset) or a day (``YYYY-MM-DD``) from its text."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected an ISO 8601 time or day as text")
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value)  # ValueError on text that is not one
    if moment.tzinfo is None:
        raise ValueError(f"{where}: a time without its UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00+01:00": before year 1 in UTC
        raise ValueError(f"{where}: a time out of range") from None


def _value(where: str, kind: Any, value: Any) -> Any:
    """``value`` as the column of SQL type ``kind`` takes it; ValueError if it does not fit."""
    if isinstance(kind, (UTCDateTime, Date)):
        return _moment(where, kind, value)
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false")
        return value
    if isinstance(kind, Integer):
        limit = int_limit(kind)
        if not isinstance(value, int) or isinstance(value, bool) or not -limit - 1 <= value <= limit:
            raise ValueError(f"{where}: expected an integer up to {limit}")
        return value
    if isinstance(kind, Float):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{where}: expected a number")
        return value
    if isinstance(kind, String):
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected text")
        if kind.length is not None and len(value) > kind.length:
            raise ValueError(f"{where}: longer than {kind.length} characters")
        if "\x00" in value:
            raise ValueError(f"{where}: a NUL character")
        return value
    return value  # JSON: as it came
