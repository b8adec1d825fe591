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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Table

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


def encode(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON: times and days as ISO 8601 text, the rest as it is."""
    return {k: v.isoformat() if isinstance(v, (datetime, date)) else v for k, v in row.items()}


def decode(table: Table, data: Mapping[str, Any]) -> dict[str, Any]:
    """A shipped row back, by ``table``'s column types; a column the table has not is refused."""
    row: dict[str, Any] = {}
    for name, value in data.items():
        if name not in table.c:
            raise ValueError(f"{table.name} has no column {name!r}")
        kind = table.c[name].type
        if value is not None and isinstance(kind, UTCDateTime):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError(f"{table.name}.{name}: a time without its UTC offset")
        elif value is not None and isinstance(kind, Date):
            value = date.fromisoformat(value)
        row[name] = value
    return row
